package fov

import (
	"errors"
	"fmt"
	"math"
)

// Solution is a recovered focal length and depth shift.
type Solution struct {
	// Focal is the focal length in units of half the image diagonal.
	Focal float64
	// Shift is added to the map's z to give camera depth.
	Shift float64
	// Samples is the number of downsampled points the solve used.
	Samples int
	// Sensitivity is, to first order, the largest relative change of
	// Focal that an error of the point map's own size can cause: 0.1
	// means the focal may be 10% off. It is 0 when the focal was given,
	// +Inf when fewer than two samples left nothing to solve. See
	// IllConditioned.
	Sensitivity float64
}

// MaxSensitivity is the Sensitivity above which a solve is
// ill-conditioned: on synthetic maps the focal was 4% off at 0.25 and
// 33% off at 0.95 (see the package comment).
const MaxSensitivity = 0.5

// IllConditioned reports whether the point map did not determine the
// focal: its depths vary too little (a fronto-parallel, nearly
// constant-depth scene) for its errors, so the focal follows the errors
// rather than the geometry. The remedy is a known field of view.
func (s Solution) IllConditioned() bool { return !(s.Sensitivity <= MaxSensitivity) }

// The reference's least_squares settings (geometry_numpy.py): method='lm',
// x0=0, ftol=1e-3, scipy's defaults xtol=gtol=1e-8, and, in MINPACK lmdif
// as scipy ≤1.15 calls it (scipy/optimize/_lsq/least_squares.py
// call_minpack), factor=100, diag=1, epsfcn = numpy's float64 epsilon
// 2^-52 (diff_step=None) and at most 200 evaluations.
const (
	lmFtol    = 1e-3
	lmXtol    = 1e-8
	lmGtol    = 1e-8
	lmFactor  = 100.0
	lmMaxEval = 200
	lmEpsfcn  = 0x1p-52
	// MINPACK's own machine constants (scipy/optimize/minpack/dpmpar.f,
	// "machine constants for IEEE machines"), which lmdif, fdjac2 and
	// lmpar use rather than the exact float64 values: dpmpar(1) is
	// slightly above 2^-52, dpmpar(2) slightly above 2^-1022.
	dpmpar1 = 2.22044604926e-16
	dpmpar2 = 2.22507385852e-308
)

// SolveFocalShift finds the focal length and shift that best project the
// samples onto their uv (see the package comment). With fewer than two
// samples it returns focal 1 and shift 0, as the reference does.
func SolveFocalShift(s Samples) (Solution, error) {
	return solve(s, math.NaN())
}

// SolveShift finds the shift for a known focal length (in half-diagonal
// units; see FocalFromFOVX).
func SolveShift(s Samples, focal float64) (Solution, error) {
	if !(focal > 0) || math.IsInf(focal, 0) {
		return Solution{}, fmt.Errorf("fov: known focal length %v must be positive and finite", focal)
	}
	return solve(s, focal)
}

// Recover downsamples a point map and solves it: focal and shift when
// focal is 0, the shift alone for a known focal otherwise.
func Recover(points []float32, mask []bool, width, height int, focal float64) (Solution, error) {
	s, err := Downsample(points, mask, width, height)
	if err != nil {
		return Solution{}, err
	}
	if focal == 0 {
		return SolveFocalShift(s)
	}
	return SolveShift(s, focal)
}

// solve runs the reference's LM on δ; focal NaN means profile f out.
func solve(s Samples, focal float64) (Solution, error) {
	n := s.Len()
	if len(s.XYZ) != 3*n || len(s.UV) != 2*n {
		return Solution{}, fmt.Errorf("fov: samples hold %d xyz and %d uv values; want 3 and 2 per sample", len(s.XYZ), len(s.UV))
	}
	if n < 2 {
		if !math.IsNaN(focal) {
			return Solution{Focal: focal, Shift: 0, Samples: n}, nil
		}
		return Solution{Focal: 1, Shift: 0, Samples: n, Sensitivity: math.Inf(1)}, nil
	}
	r := residual{s: s, focal: focal, r: make([]float64, 2*n)}
	shift, err := r.levenbergMarquardt()
	if err != nil {
		return Solution{}, err
	}
	// The reference rounds the shift to float32 and evaluates the focal in
	// float32 arithmetic from it.
	sh := float32(shift)
	f := focal
	if math.IsNaN(focal) {
		f = float64(float32(profiledFocal(s, sh)))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.IsInf(float64(sh), 0) {
		return Solution{}, fmt.Errorf("fov: solve over %d samples gave focal %v, shift %v", n, f, sh)
	}
	sol := Solution{Focal: f, Shift: float64(sh), Samples: n}
	if math.IsNaN(focal) {
		sol.Sensitivity = sensitivity(s, float64(sh))
	}
	return sol, nil
}

// sensitivity bounds, to first order, the relative change of the
// profiled focal f(δ) at shift δ under an error of the map's own size.
// With r(δ) the 2n residuals and J = dr/dδ, an error e in the residuals
// moves the optimum by Δδ = −J·e/‖J‖², at most ‖e‖/‖J‖ (Cauchy–Schwarz;
// the map's errors are smooth and correlated, so the worst case is the
// relevant one), and the focal by |d ln f/dδ|·Δδ. The error's size is
// taken relative to ‖uv‖: τ = ‖r(δ)‖/‖uv‖, what the model does not fit,
// and at least float32's rounding 2^-24, which every map carries. So
//
//	sensitivity = |d ln f/dδ| · τ·‖uv‖ / ‖J‖.
//
// For depths z+δ = Z(1+ρ) this is about τ / rms(ρ − mean ρ): the
// relative depth variation the solve can see. J and d ln f/dδ are
// analytic (p = xy/(z+δ), dp/dδ = −p/(z+δ), f = Σp·uv / Σ|p|²), so a
// constant-depth map, where J vanishes, gives a huge value, not noise
// from a finite difference.
func sensitivity(s Samples, shift float64) float64 {
	n := s.Len()
	var a, b, da, db, uu float64
	for i := range n {
		d := float64(s.XYZ[3*i+2]) + shift
		px, py := float64(s.XYZ[3*i])/d, float64(s.XYZ[3*i+1])/d
		u, v := float64(s.UV[2*i]), float64(s.UV[2*i+1])
		pu, pp := px*u+py*v, px*px+py*py
		a += pu
		b += pp
		da -= pu / d
		db -= 2 * pp / d
		uu += u*u + v*v
	}
	f := a / b
	df := (da*b - a*db) / (b * b)
	var jj, rr float64
	for i := range n {
		d := float64(s.XYZ[3*i+2]) + shift
		px, py := float64(s.XYZ[3*i])/d, float64(s.XYZ[3*i+1])/d
		jx, jy := df*px-f*px/d, df*py-f*py/d
		ex, ey := f*px-float64(s.UV[2*i]), f*py-float64(s.UV[2*i+1])
		jj += jx*jx + jy*jy
		rr += ex*ex + ey*ey
	}
	tau := max(math.Sqrt(rr/uu), 0x1p-24)
	return math.Abs(df/f) * tau * math.Sqrt(uu/jj)
}

// profiledFocal is f(δ) with p evaluated in float32, as the reference's
// final focal.
func profiledFocal(s Samples, shift float32) float64 {
	var num, den float64
	for i := range s.Len() {
		d := s.XYZ[3*i+2] + shift
		px, py := s.XYZ[3*i]/d, s.XYZ[3*i+1]/d
		num += float64(px*s.UV[2*i]) + float64(py*s.UV[2*i+1])
		den += float64(px*px) + float64(py*py)
	}
	return num / den
}

// residual evaluates the reference's residual vector in float64.
type residual struct {
	s     Samples
	focal float64 // NaN: profiled
	r     []float64
}

// eval fills r.r at shift and returns its Euclidean norm.
func (r *residual) eval(shift float64) float64 {
	s := r.s
	n := s.Len()
	f := r.focal
	if math.IsNaN(f) {
		var num, den float64
		for i := range n {
			d := float64(s.XYZ[3*i+2]) + shift
			px, py := float64(s.XYZ[3*i])/d, float64(s.XYZ[3*i+1])/d
			num += px*float64(s.UV[2*i]) + py*float64(s.UV[2*i+1])
			den += px*px + py*py
		}
		f = num / den
	}
	var ss float64
	for i := range n {
		d := float64(s.XYZ[3*i+2]) + shift
		ex := f*float64(s.XYZ[3*i])/d - float64(s.UV[2*i])
		ey := f*float64(s.XYZ[3*i+1])/d - float64(s.UV[2*i+1])
		r.r[2*i], r.r[2*i+1] = ex, ey
		ss += ex*ex + ey*ey
	}
	return math.Sqrt(ss)
}

var errNotFinite = errors.New("fov: residuals are not finite at shift 0 (a point has z = 0?)")

// levenbergMarquardt is MINPACK lmdif (Moré's trust-region LM with lmpar's
// Levenberg parameter search) written out for one unknown, so that it
// stops where the reference's ftol=1e-3 stops it. With one unknown the QR
// factorisation of the Jacobian J is its norm, and the step for a
// Levenberg parameter λ is p(λ) = −J·r/(‖J‖²+λ).
func (r *residual) levenbergMarquardt() (float64, error) {
	x := 0.0
	fnorm := r.eval(x)
	if math.IsNaN(fnorm) || math.IsInf(fnorm, 0) {
		return 0, errNotFinite
	}
	fvec := append([]float64(nil), r.r...)
	nfev := 1
	// fdjac2's step: eps = sqrt(max(epsfcn, epsmch)) with epsmch =
	// dpmpar(1) (scipy/optimize/minpack/fdjac2.f), so dpmpar(1) wins over
	// scipy's epsfcn = 2^-52; h = eps·|x|, or eps at x = 0.
	fdStep := math.Sqrt(max(lmEpsfcn, dpmpar1))
	par := 0.0
	var delta, xnorm float64
	for iter := 1; ; {
		// Forward-difference Jacobian (fdjac2).
		h := fdStep * math.Abs(x)
		if h == 0 {
			h = fdStep
		}
		r.eval(x + h)
		nfev++
		var jj, jf float64
		for i, v := range r.r {
			j := (v - fvec[i]) / h
			jj += j * j
			jf += j * fvec[i]
		}
		jnorm := math.Sqrt(jj)
		if iter == 1 {
			xnorm = math.Abs(x)
			delta = lmFactor * xnorm
			if delta == 0 {
				delta = lmFactor
			}
		}
		// Scaled gradient norm: the cosine between J and r.
		gnorm := 0.0
		if fnorm != 0 && jnorm != 0 {
			gnorm = math.Abs(jf / fnorm / jnorm)
		}
		if gnorm <= lmGtol {
			return x, nil
		}
		for {
			par = lmpar(jj, jf, delta, par)
			p := -jf / (jj + par) // jj > 0: a zero Jacobian stopped at the gradient test
			pnorm := math.Abs(p)
			if iter == 1 {
				delta = min(delta, pnorm)
			}
			fnorm1 := r.eval(x + p)
			nfev++
			actred := -1.0
			if 0.1*fnorm1 < fnorm {
				actred = 1 - (fnorm1/fnorm)*(fnorm1/fnorm)
			}
			t1 := math.Abs(jnorm*p) / fnorm
			t2 := math.Sqrt(par) * pnorm / fnorm
			prered := t1*t1 + t2*t2/0.5
			dirder := -(t1*t1 + t2*t2)
			ratio := 0.0
			if prered != 0 {
				ratio = actred / prered
			}
			if ratio <= 0.25 {
				var temp float64
				if actred >= 0 {
					temp = 0.5
				} else {
					temp = 0.5 * dirder / (dirder + 0.5*actred)
				}
				if 0.1*fnorm1 >= fnorm || temp < 0.1 {
					temp = 0.1
				}
				delta = temp * min(delta, pnorm/0.1)
				par /= temp
			} else if par == 0 || ratio >= 0.75 {
				delta = pnorm / 0.5
				par *= 0.5
			}
			if ratio >= 1e-4 {
				x += p
				copy(fvec, r.r)
				xnorm = math.Abs(x)
				fnorm = fnorm1
				iter++
			}
			converged := math.Abs(actred) <= lmFtol && prered <= lmFtol && 0.5*ratio <= 1
			if converged || delta <= lmXtol*xnorm {
				return x, nil
			}
			if nfev >= lmMaxEval ||
				(math.Abs(actred) <= dpmpar1 && prered <= dpmpar1 && 0.5*ratio <= 1) ||
				delta <= dpmpar1*xnorm || gnorm <= dpmpar1 {
				return x, nil // MINPACK's info 5..8: stop where it is, as scipy does
			}
			if ratio >= 1e-4 {
				break
			}
		}
	}
}

// lmpar is MINPACK's Levenberg-parameter search for one unknown with
// diag = 1: it returns λ ≥ 0 such that the step |p(λ)| is within 10% of
// delta, or 0 when the Gauss–Newton step already fits. jj = ‖J‖², jf = J·r.
func lmpar(jj, jf, delta, par float64) float64 {
	const dwarf = dpmpar2
	if jj == 0 {
		return 0
	}
	dxnorm := math.Abs(jf) / jj
	fp := dxnorm - delta
	if fp <= 0.1*delta {
		return 0
	}
	parl := fp / delta * jj
	gnorm := math.Abs(jf)
	paru := gnorm / delta
	if paru == 0 {
		paru = dwarf / min(delta, 0.1)
	}
	par = min(max(par, parl), paru)
	if par == 0 {
		par = gnorm / dxnorm
	}
	for iter := 1; ; iter++ {
		if par == 0 {
			par = max(dwarf, 0.001*paru)
		}
		s2 := jj + par
		dxnorm = math.Abs(jf) / s2
		temp := fp
		fp = dxnorm - delta
		if math.Abs(fp) <= 0.1*delta || (parl == 0 && fp <= temp && temp < 0) || iter == 10 {
			return par
		}
		parc := fp / delta * s2
		if fp > 0 {
			parl = max(parl, par)
		}
		if fp < 0 {
			paru = min(paru, par)
		}
		par = max(parl, par+parc)
	}
}
