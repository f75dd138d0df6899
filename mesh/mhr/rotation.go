package mhr

import "math"

// Quat is a unit quaternion stored x, y, z, w, the order of MHR's skeleton
// state.
type Quat [4]float64

// Mul returns the Hamilton product a⊗b: rotating by b, then by a.
func (a Quat) Mul(b Quat) Quat {
	ax, ay, az, aw := a[0], a[1], a[2], a[3]
	bx, by, bz, bw := b[0], b[1], b[2], b[3]
	return Quat{
		aw*bx + ax*bw + ay*bz - az*by,
		aw*by - ax*bz + ay*bw + az*bx,
		aw*bz + ax*by - ay*bx + az*bw,
		aw*bw - ax*bx - ay*by - az*bz,
	}
}

// Conj returns the conjugate of q, the inverse rotation of a unit q.
func (q Quat) Conj() Quat { return Quat{-q[0], -q[1], -q[2], q[3]} }

// Rotate returns q·v·q*.
func (q Quat) Rotate(v [3]float64) [3]float64 {
	// v' = v + 2w(u×v) + 2u×(u×v), u the vector part.
	ux, uy, uz, w := q[0], q[1], q[2], q[3]
	cx := uy*v[2] - uz*v[1]
	cy := uz*v[0] - ux*v[2]
	cz := ux*v[1] - uy*v[0]
	return [3]float64{
		v[0] + 2*(w*cx+uy*cz-uz*cy),
		v[1] + 2*(w*cy+uz*cx-ux*cz),
		v[2] + 2*(w*cz+ux*cy-uy*cx),
	}
}

// Matrix returns the row-major rotation matrix of q, normalising q first
// so that a slightly denormalised state still gives a rotation.
func (q Quat) Matrix() [9]float64 {
	n := q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3]
	s := 2 / n
	x, y, z, w := q[0], q[1], q[2], q[3]
	return [9]float64{
		1 - s*(y*y+z*z), s * (x*y - z*w), s * (x*z + y*w),
		s * (x*y + z*w), 1 - s*(x*x+z*z), s * (y*z - x*w),
		s * (x*z - y*w), s * (y*z + x*w), 1 - s*(x*x+y*y),
	}
}

// eulerXYZ returns the rotation R = Rz(z)·Ry(y)·Rx(x) as a quaternion:
// MHR's joint angles rotate about x first, then y, then z (extrinsic).
func eulerXYZ(x, y, z float64) Quat {
	sx, cx := math.Sincos(x / 2)
	sy, cy := math.Sincos(y / 2)
	sz, cz := math.Sincos(z / 2)
	return Quat{0, 0, sz, cz}.Mul(Quat{0, sy, 0, cy}).Mul(Quat{sx, 0, 0, cx})
}

// euler6D writes the first two columns of Rz·Ry·Rx (R00 R10 R20 R01 R11
// R21) with 1 subtracted from the diagonal entries, so that the zero pose
// gives a zero corrective feature (mhr.py, batch6DFromXYZ).
func euler6D(dst []float32, x, y, z float64) {
	sx, cx := math.Sincos(x)
	sy, cy := math.Sincos(y)
	sz, cz := math.Sincos(z)
	dst[0] = float32(cy*cz - 1)
	dst[1] = float32(cy * sz)
	dst[2] = float32(-sy)
	dst[3] = float32(-cx*sz + sx*sy*cz)
	dst[4] = float32(cx*cz + sx*sy*sz - 1)
	dst[5] = float32(sx * cy)
}

// State is a similarity transform x ↦ T + S·Q(x): MHR's joint state
// (skel_state's translation, quaternion and uniform scale), and the form
// of a glTF node's translation, rotation and uniform scale.
type State struct {
	T [3]float64
	Q Quat
	S float64
}

// Identity returns the state that moves nothing.
func Identity() State { return State{Q: Quat{0, 0, 0, 1}, S: 1} }

// Compose returns a∘b: apply b, then a.
func (a State) Compose(b State) State {
	r := a.Q.Rotate(b.T)
	return State{
		T: [3]float64{a.T[0] + a.S*r[0], a.T[1] + a.S*r[1], a.T[2] + a.S*r[2]},
		Q: a.Q.Mul(b.Q),
		S: a.S * b.S,
	}
}

// Inverse returns the state that undoes a (a.S must not be 0).
func (a State) Inverse() State {
	q := a.Q.Conj()
	t := q.Rotate(a.T)
	s := 1 / a.S
	return State{T: [3]float64{-s * t[0], -s * t[1], -s * t[2]}, Q: q, S: s}
}

// Apply returns a(p).
func (a State) Apply(p [3]float64) [3]float64 {
	r := a.Q.Rotate(p)
	return [3]float64{a.T[0] + a.S*r[0], a.T[1] + a.S*r[1], a.T[2] + a.S*r[2]}
}
