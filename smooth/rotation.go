package smooth

import "math"

// Global rotation is stored as three Euler angles v = (a, b, c) with
// R = Rz(a)·Ry(b)·Rx(c) (roma.rotmat_to_euler("ZYX"), reference note
// mesh-fov.md). Averaging such angles is wrong near ±π (π and −π are the
// same rotation but average to 0), so the rotation-safe path filters unit
// quaternions made sign-continuous over time and converts back.

type quat struct{ w, x, y, z float64 }

func (p quat) mul(q quat) quat {
	return quat{
		p.w*q.w - p.x*q.x - p.y*q.y - p.z*q.z,
		p.w*q.x + p.x*q.w + p.y*q.z - p.z*q.y,
		p.w*q.y - p.x*q.z + p.y*q.w + p.z*q.x,
		p.w*q.z + p.x*q.y - p.y*q.x + p.z*q.w,
	}
}

func (p quat) dot(q quat) float64 { return p.w*q.w + p.x*q.x + p.y*q.y + p.z*q.z }

func eulerToQuat(a, b, c float64) quat {
	sa, ca := math.Sincos(a / 2)
	sb, cb := math.Sincos(b / 2)
	sc, cc := math.Sincos(c / 2)
	return quat{ca, 0, 0, sa}.mul(quat{cb, 0, sb, 0}).mul(quat{cc, sc, 0, 0})
}

// quatToEuler returns (a, b, c) with R = Rz(a)·Ry(b)·Rx(c) for the unit
// quaternion q (normalised here).
func quatToEuler(q quat) (a, b, c float64) {
	n := math.Sqrt(q.dot(q))
	w, x, y, z := q.w/n, q.x/n, q.y/n, q.z/n
	r00 := 1 - 2*(y*y+z*z)
	r10 := 2 * (x*y + w*z)
	r20 := 2 * (x*z - w*y)
	r21 := 2 * (y*z + w*x)
	r22 := 1 - 2*(x*x+y*y)
	return math.Atan2(r10, r00), math.Asin(math.Max(-1, math.Min(1, -r20))), math.Atan2(r21, r22)
}

// nearAngle returns a + 2πk closest to ref, so that a converted angle
// stays on the same branch as the value it replaces.
func nearAngle(a, ref float64) float64 {
	return a - 2*math.Pi*math.Round((a-ref)/(2*math.Pi))
}

// unwrap makes an angle series continuous by adding multiples of 2π.
func unwrap(prev, a float64) float64 { return nearAngle(a, prev) }
