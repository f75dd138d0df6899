package amodal

import (
	"errors"
	"fmt"
	"math"
)

// Schedule is the Euler sampler's noise schedule: Sigmas has Steps+1
// entries ending in 0 and Timesteps has one per step.
type Schedule struct {
	Sigmas    []float64
	Timesteps []float64
}

// karrasSchedule returns the SVD-xt schedule the reference pipeline uses
// (segment-amodal.md C.3): σ_i = (σmax^{1/ρ} + i/(n−1)·(σmin^{1/ρ} −
// σmax^{1/ρ}))^ρ for i < n, then σ = 0; the UNet's continuous timestep is
// 0.25·ln σ (diffusers EulerDiscreteScheduler, v-prediction).
func karrasSchedule(steps int, sigmaMin, sigmaMax, rho float64) (Schedule, error) {
	switch {
	case steps < 2:
		return Schedule{}, fmt.Errorf("amodal: schedule needs at least 2 steps, got %d", steps)
	case !(sigmaMin > 0) || !(sigmaMax > sigmaMin):
		return Schedule{}, fmt.Errorf("amodal: schedule needs 0 < sigma_min < sigma_max, got %g, %g", sigmaMin, sigmaMax)
	case !(rho > 0):
		return Schedule{}, errors.New("amodal: schedule needs rho > 0")
	}
	lo, hi := math.Pow(sigmaMin, 1/rho), math.Pow(sigmaMax, 1/rho)
	s := Schedule{Sigmas: make([]float64, steps+1), Timesteps: make([]float64, steps)}
	for i := range steps {
		sigma := math.Pow(hi+float64(i)/float64(steps-1)*(lo-hi), rho)
		s.Sigmas[i] = sigma
		s.Timesteps[i] = 0.25 * math.Log(sigma)
	}
	return s, nil
}
