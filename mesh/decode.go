package mesh

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/scene"
)

// Layout of the MHR head's 519 outputs (mesh-fov.md A, "Heads and
// outputs"; sam_3d_body/models/heads/mhr_head.py).
const (
	NumPose     = 519
	offRot      = 0   // global rotation, 6D
	offBody     = 6   // body, 260 continuous values
	offShape    = 266 // identity, 45
	offScale    = 311 // skeleton-scale PCA, 28
	offHand     = 339 // left then right hand, 2×54
	offFace     = 447 // expression, 72, multiplied by 0
	numBodyCont = 260
	numHandCont = 54
	numScale    = 28
	numScales   = 68 // skeleton scales in the model parameters
	numModel    = 204
	numBody     = 133 // body model parameters before the jaw is dropped
)

// Index tables of compact_cont_to_model_params_body (mhr_utils.py): where
// the 23 three-DoF joints' Euler angles, the 58 one-DoF angles and the 6
// translations land among the 133 body parameters.
var (
	body3DoF = [23][3]int{{0, 2, 4}, {6, 8, 10}, {12, 13, 14}, {15, 16, 17}, {18, 19, 20}, {21, 22, 23}, {24, 25, 26}, {27, 28, 29}, {34, 35, 36}, {37, 38, 39}, {44, 45, 46}, {53, 54, 55}, {64, 65, 66}, {85, 69, 73}, {86, 70, 79}, {87, 71, 82}, {88, 72, 76}, {91, 92, 93}, {112, 96, 100}, {113, 97, 106}, {114, 98, 109}, {115, 99, 103}, {130, 131, 132}}
	body1DoF = [58]int{1, 3, 5, 7, 9, 11, 30, 31, 32, 33, 40, 41, 42, 43, 47, 48, 49, 50, 51, 52, 56, 57, 58, 59, 60, 61, 62, 63, 67, 68, 74, 75, 77, 78, 80, 81, 83, 84, 89, 90, 94, 95, 101, 102, 104, 105, 107, 108, 110, 111, 116, 117, 118, 119, 120, 121, 122, 123}
	// bodyTrans are the 1-DoF translations, copied through.
	bodyTrans = [6]int{124, 125, 126, 127, 128, 129}
	// handDoFs is compact_cont_to_model_params_hand's joints in order.
	handDoFs = [16]int{3, 1, 1, 3, 1, 1, 3, 1, 1, 3, 1, 1, 2, 3, 1, 1}
)

// bodyHandFirst, bodyHandLast bound mhr_param_hand_idxs (62..115): the
// body decoder's own hand angles, zeroed before the hand PCA goes in.
const bodyHandFirst, bodyHandLast = 62, 115

// rot6DToMatrix is rot6d_to_rotmat: the two columns a1 = x[0:3],
// a2 = x[3:6] orthonormalised by Gram–Schmidt, third column b1×b2.
// F.normalize divides by max(‖v‖, 1e-12).
func rot6DToMatrix(x []float64) [9]float64 {
	b1 := normalize3([3]float64{x[0], x[1], x[2]})
	a2 := [3]float64{x[3], x[4], x[5]}
	d := dot3(b1, a2)
	b2 := normalize3([3]float64{a2[0] - d*b1[0], a2[1] - d*b1[1], a2[2] - d*b1[2]})
	b3 := cross3(b1, b2)
	return [9]float64{b1[0], b2[0], b3[0], b1[1], b2[1], b3[1], b1[2], b2[2], b3[2]}
}

// matrixToEulerZYX is roma.rotmat_to_euler("ZYX", R): intrinsic Z, Y, X
// angles [θz, θy, θx] with R = Rz(θz)·Ry(θy)·Rx(θx).
func matrixToEulerZYX(r [9]float64) [3]float64 {
	// R20 = −sin θy; R10/R00 = tan θz; R21/R22 = tan θx.
	y := math.Atan2(-r[6], math.Hypot(r[0], r[3]))
	if math.Hypot(r[0], r[3]) < 1e-12 { // gimbal lock: θx absorbed into θz
		return [3]float64{math.Atan2(-r[1], r[4]), y, 0}
	}
	return [3]float64{math.Atan2(r[3], r[0]), y, math.Atan2(r[7], r[8])}
}

// cont6DToEulerXYZ is batchXYZfrom6D: the 6D pair to a rotation matrix
// with columns x = n(a), z = n(x × b), y = z × x, then XYZ Euler angles
// (R = Rz·Ry·Rx) with the reference's singular branch at sy < 1e-6.
func cont6DToEulerXYZ(p []float64) [3]float64 {
	x := normalize3([3]float64{p[0], p[1], p[2]})
	z := normalize3(cross3(x, [3]float64{p[3], p[4], p[5]}))
	y := cross3(z, x)
	// m[i][j]: row i, column j; the columns are x, y, z.
	m := func(i, j int) float64 { return [3][3]float64{x, y, z}[j][i] }
	sy := math.Sqrt(m(0, 0)*m(0, 0) + m(1, 0)*m(1, 0))
	if sy < 1e-6 {
		return [3]float64{math.Atan2(-m(1, 2), m(1, 1)), math.Atan2(-m(2, 0), sy), 0}
	}
	return [3]float64{math.Atan2(m(2, 1), m(2, 2)), math.Atan2(-m(2, 0), sy), math.Atan2(m(1, 0), m(0, 0))}
}

// bodyContToParams is compact_cont_to_model_params_body: 260 continuous
// values to 133 body parameters.
func bodyContToParams(cont []float64) [numBody]float64 {
	var out [numBody]float64
	for j, idx := range body3DoF {
		e := cont6DToEulerXYZ(cont[6*j : 6*j+6])
		for k := range 3 {
			out[idx[k]] = e[k]
		}
	}
	o := 6 * len(body3DoF)
	for j, idx := range body1DoF {
		out[idx] = math.Atan2(cont[o+2*j], cont[o+2*j+1])
	}
	o += 2 * len(body1DoF)
	for j, idx := range bodyTrans {
		out[idx] = cont[o+j]
	}
	return out
}

// handContToParams is compact_cont_to_model_params_hand: 54 continuous
// values to 27 hand parameters in joint order.
func handContToParams(cont []float64) [27]float64 {
	var out [27]float64
	ci, pi := 0, 0
	for _, dofs := range handDoFs {
		if dofs == 3 {
			e := cont6DToEulerXYZ(cont[ci : ci+6])
			copy(out[pi:], e[:])
		} else {
			for k := range dofs {
				out[pi+k] = math.Atan2(cont[ci+2*k], cont[ci+2*k+1])
			}
		}
		ci += 2 * dofs
		pi += dofs
	}
	return out
}

// Head holds the MHR head's buffers that the 519 → 204 decoding needs;
// they come from the SAM-3D-Body checkpoint, not the MHR assets.
type Head struct {
	ScaleMean  [numScales]float32                // scale_mean
	ScaleComps [numScale][numScales]float32      // scale_comps
	HandMean   [numHandCont]float32              // hand_pose_mean
	HandComps  [numHandCont][numHandCont]float32 // hand_pose_comps (the reference sets I₅₄)
	HandLeft   [27]int                           // hand_joint_idxs_left, into the first 136 model parameters
	HandRight  [27]int                           // hand_joint_idxs_right
}

func (h *Head) check() error {
	for _, idx := range [][27]int{h.HandLeft, h.HandRight} {
		for _, i := range idx {
			if i < 0 || i >= numModel-numScales {
				return fmt.Errorf("hand joint index %d outside [0,%d)", i, numModel-numScales)
			}
		}
	}
	return nil
}

// Decoded is one person's decoded head outputs.
type Decoded struct {
	Model     [numModel]float32 // MHR model parameters
	Shape     [45]float32
	GlobalRot [3]float64 // ZYX Euler [θz, θy, θx], as model parameters 3..5
}

// Decode turns the 519 head outputs into MHR model parameters as
// MHRHead.forward and mhr_forward do: global rotation 6D → matrix → ZYX
// Euler; body continuous → 133, hands and jaw zeroed, 130 kept; hands
// from mean + PCA through the hand decoding into their joints; scales =
// mean + PCA; global translation 0; expression 0.
func (h *Head) Decode(pose []float32) (Decoded, error) {
	var d Decoded
	p, err := h.decodeParams(pose)
	if err != nil {
		return d, err
	}
	d.GlobalRot = p.GlobalRot
	m := h.modelParams(&p, [3]float64{})
	for i, v := range m {
		d.Model[i] = float32(v)
	}
	for i := range d.Shape {
		d.Shape[i] = pose[offShape+i]
	}
	return d, nil
}

// cameraTranslation is the camera head's translation (camera_head.py
// perspective_projection with USE_INTRIN_CENTER): raw (s, tx, ty) with s
// and ty negated, bs = S·s + 1e-8, tz = 2·fx/bs, tx' = tx + 2(cx_b−cx_K)/bs,
// ty' = ty + 2(cy_b−cy_K)/bs. The translation lives in the full-image
// camera (OpenCV axes, metres).
func cameraTranslation(raw [3]float32, c Crop, K scene.Intrinsics) [3]float64 {
	return cameraT(raw, c, K, 1)
}

// cameraT is cameraTranslation with the head's default_scale_factor (1 for the
// body, 10 for the hand camera head): bs = S·s·factor + 1e-8.
func cameraT(raw [3]float32, c Crop, K scene.Intrinsics, factor float64) [3]float64 {
	s, tx, ty := -float64(raw[0]), float64(raw[1]), -float64(raw[2])
	bs := c.Side*s*factor + 1e-8
	return [3]float64{tx + 2*(c.Center[0]-K.Cx)/bs, ty + 2*(c.Center[1]-K.Cy)/bs, 2 * K.Fx / bs}
}

// projectPoint is the reference's perspective_projection of a camera-frame
// point X + t: (fx·x/z + cx, fy·y/z + cy); depth is z.
func projectPoint(p [3]float64, t [3]float64, K scene.Intrinsics) (u, v, depth float64) {
	x, y, z := p[0]+t[0], p[1]+t[1], p[2]+t[2]
	return K.Fx*x/z + K.Cx, K.Fy*y/z + K.Cy, z
}

func dot3(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross3(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func normalize3(v [3]float64) [3]float64 {
	n := max(math.Sqrt(dot3(v, v)), 1e-12)
	return [3]float64{v[0] / n, v[1] / n, v[2] / n}
}
