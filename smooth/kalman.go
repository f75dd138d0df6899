package smooth

import (
	"fmt"
	"math"
)

// KalmanParams configure the constant-velocity Kalman smoother. Each
// dimension is an independent 2-state filter (position, velocity per
// frame) with transition F = [[1,1],[0,1]], process noise
// Q = diag(QPos, QVel) and observation noise R.
type KalmanParams struct {
	QPos, QVel, R float64
	// P0 is the variance of the initial position and velocity
	// (initial covariance P0·I); 0 means 1, as in the reference.
	P0 float64
}

// DefaultKalman returns the reference's constants (utils/kalman.py:218):
// q_pos 1e-4, q_vel 1e-6, r 1e-2, initial covariance I.
func DefaultKalman() KalmanParams {
	return KalmanParams{QPos: 1e-4, QVel: 1e-6, R: 1e-2, P0: 1}
}

func (p KalmanParams) check() error {
	if p.P0 == 0 {
		p.P0 = 1
	}
	for _, v := range []struct {
		name string
		x    float64
	}{{"QPos", p.QPos}, {"QVel", p.QVel}, {"R", p.R}, {"P0", p.P0}} {
		if !(v.x >= 0) || math.IsInf(v.x, 0) {
			return fmt.Errorf("smooth: Kalman %s = %g must be finite and ≥ 0", v.name, v.x)
		}
	}
	if p.R == 0 {
		return fmt.Errorf("smooth: Kalman R must be > 0")
	}
	return nil
}

// cov2 is a symmetric 2×2 covariance [[a,b],[b,c]].
type cov2 struct{ a, b, c float64 }

// predict returns F·P·Fᵀ + Q for F = [[1,1],[0,1]].
func (p cov2) predict(qp, qv float64) cov2 {
	return cov2{p.a + 2*p.b + p.c + qp, p.b + p.c, p.c + qv}
}

// KalmanRTS smooths y (T frames × D dimensions) in place with a forward
// constant-velocity Kalman filter and a Rauch–Tung–Striebel backward pass.
// observed[t] false means frame t has no measurement (its value is
// replaced by the smoothed estimate); nil means every frame is observed.
// The state starts at the first observed value with zero velocity and
// covariance P0·I, and every frame, the first included, is predicted then
// updated, as filterpy's batch_filter does.
//
// The covariances and gains do not depend on the data, only on which
// frames are observed, so they are computed once and shared by all
// dimensions: each dimension then costs a few multiply-adds per frame.
func KalmanRTS(y [][]float64, observed []bool, p KalmanParams) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.P0 == 0 {
		p.P0 = 1
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
	obs := func(t int) bool { return observed == nil || observed[t] }
	first := -1
	for t := 0; t < T; t++ {
		if obs(t) {
			first = t
			break
		}
	}
	if first < 0 {
		return fmt.Errorf("smooth: no observed frame among %d", T)
	}

	// Gains, data independent. kp, kv: Kalman gains (0 when unobserved);
	// g: RTS smoother gain per frame, a 2×2 matrix.
	kp := make([]float64, T)
	kv := make([]float64, T)
	g := make([][4]float64, T)
	P := cov2{p.P0, 0, p.P0}
	post := make([]cov2, T)
	for t := 0; t < T; t++ {
		P = P.predict(p.QPos, p.QVel)
		if obs(t) {
			s := P.a + p.R
			kp[t], kv[t] = P.a/s, P.b/s
			P = cov2{(1 - kp[t]) * P.a, (1 - kp[t]) * P.b, P.c - kv[t]*P.b}
		}
		post[t] = P
	}
	for t := 0; t < T-1; t++ {
		pc := post[t]
		pp := pc.predict(p.QPos, p.QVel)
		det := pp.a*pp.c - pp.b*pp.b
		// P·Fᵀ = [[a+b, b],[b+c, c]]; G = P·Fᵀ·Pp⁻¹.
		m00, m01, m10, m11 := pc.a+pc.b, pc.b, pc.b+pc.c, pc.c
		g[t] = [4]float64{
			(m00*pp.c - m01*pp.b) / det, (-m00*pp.b + m01*pp.a) / det,
			(m10*pp.c - m11*pp.b) / det, (-m10*pp.b + m11*pp.a) / det,
		}
	}

	// Forward pass over all dimensions, frame-major for locality.
	fp := make([]float64, T*D) // filtered position
	fv := make([]float64, T*D) // filtered velocity
	x := append([]float64(nil), y[first]...)
	v := make([]float64, D)
	for t := 0; t < T; t++ {
		row := y[t]
		o := obs(t)
		for d := 0; d < D; d++ {
			xp := x[d] + v[d]
			vp := v[d]
			if o {
				in := row[d] - xp
				xp += kp[t] * in
				vp += kv[t] * in
			}
			x[d], v[d] = xp, vp
		}
		copy(fp[t*D:], x)
		copy(fv[t*D:], v)
	}
	// Backward RTS pass; x, v hold the smoothed state of frame t+1.
	copy(y[T-1], x)
	for t := T - 2; t >= 0; t-- {
		gt := g[t]
		ft, vt := fp[t*D:(t+1)*D], fv[t*D:(t+1)*D]
		row := y[t]
		for d := 0; d < D; d++ {
			dp := x[d] - (ft[d] + vt[d])
			dv := v[d] - vt[d]
			x[d] = ft[d] + gt[0]*dp + gt[1]*dv
			v[d] = vt[d] + gt[2]*dp + gt[3]*dv
		}
		copy(row, x)
	}
	return nil
}
