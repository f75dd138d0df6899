package smooth

import (
	"fmt"
	"math"
)

// OneEuroParams configure the One-Euro filter (Casiez, Roussel, Vogel,
// CHI 2012): an exponential low-pass whose cutoff rises with speed,
// fc = MinCutoff + Beta·|ẋ|, so slow motion is smoothed hard and fast
// motion lags little. Cutoffs are in Hz, Rate in frames per second.
type OneEuroParams struct {
	MinCutoff, Beta, DCutoff float64
	Rate                     float64
}

// DefaultOneEuro returns the paper's suggested starting point for a
// 30 fps video: min cutoff 1 Hz, beta 0.05, derivative cutoff 1 Hz.
func DefaultOneEuro() OneEuroParams {
	return OneEuroParams{MinCutoff: 1, Beta: 0.05, DCutoff: 1, Rate: 30}
}

func (p OneEuroParams) check() error {
	if !(p.MinCutoff > 0) || !(p.DCutoff > 0) || !(p.Rate > 0) || !(p.Beta >= 0) ||
		math.IsInf(p.MinCutoff+p.DCutoff+p.Rate+p.Beta, 0) {
		return fmt.Errorf("smooth: One-Euro needs MinCutoff, DCutoff, Rate > 0 and Beta ≥ 0 (finite); got %+v", p)
	}
	return nil
}

// alpha is the smoothing factor of a first-order low-pass with cutoff fc
// over a step of dt seconds: 1 / (1 + τ/dt), τ = 1/(2π·fc).
func alpha(fc, dt float64) float64 {
	tau := 1 / (2 * math.Pi * fc)
	return 1 / (1 + tau/dt)
}

// OneEuroFilter filters y (T frames × D dimensions) in place, frame t at time
// t/Rate. Frames with observed[t] false carry no measurement: they take
// the last filtered value and the next measurement sees the longer time
// step. nil observed means every frame is observed. The filter is causal.
func OneEuroFilter(y [][]float64, observed []bool, p OneEuroParams) error {
	if err := p.check(); err != nil {
		return err
	}
	T := len(y)
	if T == 0 {
		return nil
	}
	if observed != nil && len(observed) != T {
		return fmt.Errorf("smooth: %d observation flags for %d frames", len(observed), T)
	}
	D := len(y[0])
	for t, row := range y {
		if len(row) != D {
			return fmt.Errorf("smooth: frame %d has %d values, frame 0 has %d", t, len(row), D)
		}
	}
	x := make([]float64, D)  // filtered value
	dx := make([]float64, D) // filtered derivative
	last := -1               // last observed frame
	for t := 0; t < T; t++ {
		row := y[t]
		if observed != nil && !observed[t] {
			if last >= 0 {
				copy(row, x)
			}
			continue
		}
		if last < 0 {
			copy(x, row)
			for d := range dx {
				dx[d] = 0
			}
			// Frames before the first measurement take its value.
			for u := 0; u < t; u++ {
				copy(y[u], row)
			}
			last = t
			continue
		}
		dt := float64(t-last) / p.Rate
		ad := alpha(p.DCutoff, dt)
		for d := 0; d < D; d++ {
			dx[d] += ad * ((row[d]-x[d])/dt - dx[d])
			a := alpha(p.MinCutoff+p.Beta*math.Abs(dx[d]), dt)
			x[d] += a * (row[d] - x[d])
		}
		copy(row, x)
		last = t
	}
	if last < 0 {
		return fmt.Errorf("smooth: no observed frame among %d", T)
	}
	return nil
}
