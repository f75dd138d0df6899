package kernels

import "fmt"

// Skinning is a sparse skinning-weight matrix as (vertex, joint, weight)
// triplets, MHR's layout (51,337 triplets at LOD1).
type Skinning struct {
	Vert, Joint []int32
	Weight      []float32
}

// Skin computes linear blend skinning for a batch of bodies:
// out[b,v] = Σ_k w_k·(t_j + q_j·(s_j·rest[b,v])) over the triplets k of
// vertex v. rest and out are batch×nv×3; xform is batch×nj×8 per joint
// (translation xyz, unit quaternion xyzw, uniform scale), already composed
// with the inverse bind pose as MHR's skel_state. Sums are in float64.
func Skin(out, rest, xform []float32, batch, nv, nj int, s Skinning) error {
	if batch < 0 || nv < 0 || nj < 0 {
		return fmt.Errorf("kernels: skin: negative size (batch %d, %d vertices, %d joints)", batch, nv, nj)
	}
	if len(rest) != batch*nv*3 {
		return fmt.Errorf("kernels: skin: rest holds %d values, %d×%d×3 needs %d", len(rest), batch, nv, batch*nv*3)
	}
	if len(out) != len(rest) {
		return fmt.Errorf("kernels: skin: out holds %d values, %d×%d×3 needs %d", len(out), batch, nv, len(rest))
	}
	if len(xform) != batch*nj*8 {
		return fmt.Errorf("kernels: skin: xform holds %d values, %d×%d×8 needs %d", len(xform), batch, nj, batch*nj*8)
	}
	if err := s.check(nv, nj); err != nil {
		return err
	}
	acc := make([]float64, nv*3)
	for b := 0; b < batch; b++ {
		clear(acc)
		for k, v := range s.Vert {
			x := xform[(b*nj+int(s.Joint[k]))*8:][:8]
			r := rest[(b*nv+int(v))*3:][:3]
			m := rotation(x[3], x[4], x[5], x[6])
			sc := float64(x[7])
			w := float64(s.Weight[k])
			for i := 0; i < 3; i++ {
				p := float64(x[i]) + sc*(m[i][0]*float64(r[0])+m[i][1]*float64(r[1])+m[i][2]*float64(r[2]))
				acc[int(v)*3+i] += w * p
			}
		}
		for i, a := range acc {
			out[b*nv*3+i] = float32(a)
		}
	}
	return nil
}

func (s Skinning) check(nv, nj int) error {
	if len(s.Joint) != len(s.Vert) || len(s.Weight) != len(s.Vert) {
		return fmt.Errorf("kernels: skinning has %d vertices, %d joints and %d weights; they must match", len(s.Vert), len(s.Joint), len(s.Weight))
	}
	for k := range s.Vert {
		if v := s.Vert[k]; v < 0 || int(v) >= nv {
			return fmt.Errorf("kernels: skinning triplet %d: vertex %d outside [0,%d)", k, v, nv)
		}
		if j := s.Joint[k]; j < 0 || int(j) >= nj {
			return fmt.Errorf("kernels: skinning triplet %d: joint %d outside [0,%d)", k, j, nj)
		}
	}
	return nil
}

// rotation returns the rotation matrix of unit quaternion (x, y, z, w).
func rotation(x, y, z, w float32) [3][3]float64 {
	qx, qy, qz, qw := float64(x), float64(y), float64(z), float64(w)
	return [3][3]float64{
		{1 - 2*(qy*qy+qz*qz), 2 * (qx*qy - qz*qw), 2 * (qx*qz + qy*qw)},
		{2 * (qx*qy + qz*qw), 1 - 2*(qx*qx+qz*qz), 2 * (qy*qz - qx*qw)},
		{2 * (qx*qz - qy*qw), 2 * (qy*qz + qx*qw), 1 - 2*(qx*qx+qy*qy)},
	}
}
