package mhr

import (
	"errors"
	"fmt"
	"math"
)

// Reroot returns a copy of one body's model parameters with the global
// translation and rotation (model parameters 0–5, the root joint's) changed
// so that the posed body moves rigidly by x ↦ q·x + t (MHR frame,
// centimetres): Forward of the result is q·Forward(params) + t, up to
// float rounding. Pose correctives do not read the root, so they are
// unchanged. It fails on a rig where that is not so: parameters 0–5 must
// be exactly the root's translation and rotation (the root must be the
// only one, and no other joint may read them), and every vertex's
// skinning weights must sum to 1.
func (m *Model) Reroot(params []float32, q Quat, t [3]float64) ([]float32, error) {
	if err := m.checkInput(&Input{Identity: make([]float32, m.nid), Model: params}); err != nil {
		return nil, fmt.Errorf("mhr: %w", err)
	}
	a, err := m.rootTransform()
	if err != nil {
		return nil, err
	}
	jp := make([]float64, 7*m.nj)
	m.jointParameters(jp, params)
	root := m.localStates(jp)[0]
	// The root's new local state: q ⊗ (T + S·Q(x)) + t.
	newT := q.Rotate(root.T)
	for k := range 3 {
		newT[k] += t[k]
	}
	pre := Quat(m.prerot[0:4])
	x, y, z := eulerFromQuat(pre.Conj().Mul(q.Mul(root.Q)))
	o := m.offsets[0:3]
	want := [6]float64{newT[0] - o[0], newT[1] - o[1], newT[2] - o[2], x, y, z}
	sol, err := solve6(a, want)
	if err != nil {
		return nil, err
	}
	out := append([]float32(nil), params...)
	for c := range 6 {
		out[c] = float32(sol[c])
	}
	return out, nil
}

// rootTransform returns the 6×6 block of the parameter transform from
// model parameters 0–5 to joint 0's translation and rotation, after
// checking that nothing else reads or writes those.
func (m *Model) rootTransform() ([6][6]float64, error) {
	var a [6][6]float64
	for j := 1; j < m.nj; j++ {
		if m.parents[j] < 0 {
			return a, fmt.Errorf("mhr: joint %d is a second root: moving joint 0 would not move the whole body", j)
		}
	}
	vert, _, weight := m.SkinWeights()
	sum := make([]float64, m.nv)
	for i, v := range vert {
		sum[v] += float64(weight[i])
	}
	for v, s := range sum {
		if math.Abs(s-1) > 1e-4 {
			return a, fmt.Errorf("mhr: vertex %d's skinning weights sum to %g, not 1: the body would not move rigidly with its root", v, s)
		}
	}
	for r := range 7 * m.nj {
		for k := m.ptRowStart[r]; k < m.ptRowStart[r+1]; k++ {
			c, v := m.ptCol[k], m.ptVal[k]
			switch {
			case r < 6 && c < 6:
				a[r][c] = v
			case r < 6 || c < 6:
				return a, fmt.Errorf("mhr: the parameter transform mixes the global parameters 0–5 with joint parameter %d (joint %d): cannot re-root", r, r/7)
			}
		}
	}
	return a, nil
}

// eulerFromQuat inverts eulerXYZ: the angles x, y, z with
// Rz(z)·Ry(y)·Rx(x) = q (y in [−π/2, π/2]; at y = ±π/2, x = 0).
func eulerFromQuat(q Quat) (x, y, z float64) {
	r := q.Matrix()
	// R = Rz·Ry·Rx: R20 = −sin y, R21 = cos y sin x, R22 = cos y cos x,
	// R10 = sin z cos y, R00 = cos z cos y.
	y = math.Asin(max(-1, min(1, -r[6])))
	if math.Abs(r[6]) < 1-1e-12 {
		return math.Atan2(r[7], r[8]), y, math.Atan2(r[3], r[0])
	}
	// Gimbal lock: only x ∓ z is defined; R01 = −sin z', R11 = cos z' with x = 0.
	return 0, y, math.Atan2(-r[1], r[4])
}

// solve6 solves a·x = b by Gaussian elimination with partial pivoting.
func solve6(a [6][6]float64, b [6]float64) ([6]float64, error) {
	for col := range 6 {
		p := col
		for r := col + 1; r < 6; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if math.Abs(a[p][col]) < 1e-12 {
			return b, errors.New("mhr: the global parameters do not determine the root's translation and rotation")
		}
		a[col], a[p] = a[p], a[col]
		b[col], b[p] = b[p], b[col]
		for r := col + 1; r < 6; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < 6; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	var x [6]float64
	for r := 5; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < 6; c++ {
			s -= a[r][c] * x[c]
		}
		x[r] = s / a[r][r]
	}
	return x, nil
}
