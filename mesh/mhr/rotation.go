package mhr

import "math"

// quat is a unit quaternion stored x, y, z, w, the order of MHR's skeleton
// state.
type quat [4]float64

// mul returns the Hamilton product a⊗b: rotating by b, then by a.
func (a quat) mul(b quat) quat {
	ax, ay, az, aw := a[0], a[1], a[2], a[3]
	bx, by, bz, bw := b[0], b[1], b[2], b[3]
	return quat{
		aw*bx + ax*bw + ay*bz - az*by,
		aw*by - ax*bz + ay*bw + az*bx,
		aw*bz + ax*by - ay*bx + az*bw,
		aw*bw - ax*bx - ay*by - az*bz,
	}
}

// rotate returns q·v·q*.
func (q quat) rotate(v [3]float64) [3]float64 {
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

// matrix returns the row-major rotation matrix of q, normalising q first
// so that a slightly denormalised state still gives a rotation.
func (q quat) matrix() [9]float64 {
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
func eulerXYZ(x, y, z float64) quat {
	sx, cx := math.Sincos(x / 2)
	sy, cy := math.Sincos(y / 2)
	sz, cz := math.Sincos(z / 2)
	return quat{0, 0, sz, cz}.mul(quat{0, sy, 0, cy}).mul(quat{sx, 0, 0, cx})
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

// state is a similarity transform x ↦ t + s·q(x), MHR's skeleton state.
type state struct {
	t [3]float64
	q quat
	s float64
}

// compose returns a∘b: apply b, then a.
func (a state) compose(b state) state {
	r := a.q.rotate(b.t)
	return state{
		t: [3]float64{a.t[0] + a.s*r[0], a.t[1] + a.s*r[1], a.t[2] + a.s*r[2]},
		q: a.q.mul(b.q),
		s: a.s * b.s,
	}
}
