package mesh

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/scene"
)

// "full" mode of SAM-3D-Body (sam3d_body.py run_inference, reference
// notes mesh-fov.md A, "full" mode hand refinement). The functions here
// are the steps between the engines, each following the reference line
// by line; full.go runs them.

// Constants of run_inference and the estimator's hand transform.
const (
	// HandPadding is GetBBoxCenterScale(padding=0.9) of transform_hand.
	HandPadding = 0.9
	// handCameraScale is CAMERA_HEAD.DEFAULT_SCALE_FACTOR_HAND: the hand
	// camera head's bs = S·s·10.
	handCameraScale = 10
	// wristAngleLimit is run_inference's thresh_wrist_angle (radians).
	wristAngleLimit = 1.4
	// handBoxMin is hand_box_size_thresh: a hand crop's side must exceed it.
	handBoxMin = 64
	// handKeypointLimit is hand_kps2d_thresh: every crop-normalised
	// keypoint of a hand pass must lie within ±0.5.
	handKeypointLimit = 0.5
	// wristDistLimit is hand_wrist_kps2d_thresh, in units of the crop side.
	wristDistLimit = 0.25
)

// MHR-70 keypoints the refinement reads.
const (
	kpRightWrist = 41
	kpLeftWrist  = 62
	kpRightElbow = 8
	kpLeftElbow  = 7
	// The hand model keeps keypoints [21, 42) (the right hand, wrist
	// included) and zeroes the others.
	kpHandFirst, kpHandEnd = 21, 42
)

// Body parameter indices of the wrists' XZY Euler angles
// (body_pose[:, [41, 43, 42, 31, 33, 32]]): left then right, each in the
// order X, Z, Y.
var wristBodyIdx = [2][3]int{{41, 43, 42}, {31, 33, 32}}

// Wrist joint limits of fix_wrist_euler (mhr_utils.py), radians.
var (
	wristLimitX = [2]float64{-2.2, 1.0}
	wristLimitZ = [2]float64{-2.2, 1.5}
	wristLimitY = [2]float64{-1.2, 1.5}
)

// HandHead holds the hand decoder's MHR head buffers (head_pose_hand,
// built with enable_hand_model) and the body head's buffers that the
// refinement reads besides those of Head.
type HandHead struct {
	// Head is head_pose_hand's scale and hand PCA and hand joint indices.
	Head Head
	// LocalToWorldWrist, RightWristCoords and RootCoords move the hand
	// model's wrist-centric prediction onto the body (mhr_forward with
	// enable_hand_model).
	LocalToWorldWrist [9]float64 // row-major 3×3
	RightWristCoords  [3]float64
	RootCoords        [3]float64
	// NonHand are nonhand_param_idxs: model parameters the hand model
	// zeroes.
	NonHand []int
	// Joints are the MHR joints run_inference reads, left then right:
	// lower arm, wrist twist, wrist (76, 77, 78 and 40, 41, 42 for MHR's
	// 127 joints; a test character with fewer joints names its own).
	Joints [6]int
	// TwistRotation is the body head's joint_rotation at the two wrist
	// twist joints (joint_rotation[[77, 41]]), row-major.
	TwistRotation [2][9]float64
}

func (h *HandHead) check(numJoints int) error {
	if err := h.Head.check(); err != nil {
		return err
	}
	for _, i := range h.NonHand {
		if i < 0 || i >= numModel {
			return fmt.Errorf("non-hand parameter index %d outside [0,%d)", i, numModel)
		}
	}
	for _, j := range h.Joints {
		if j < 0 || j >= numJoints {
			return fmt.Errorf("joint %d outside the body model's %d joints", j, numJoints)
		}
	}
	return nil
}

// headParams is the MHR head's decoded output in the reference's
// parameter form (MHRHead.forward's global_rot, body_pose, hand, scale,
// shape), before mhr_forward assembles the model parameters.
type headParams struct {
	GlobalRot [3]float64       // ZYX Euler [θz, θy, θx]
	Body      [numBody]float64 // body_pose: hands and jaw zeroed
	Hand      [2 * numHandCont]float64
	Scale     [numScale]float64
	Shape     [45]float64
}

// decodeParams is MHRHead.forward up to the mhr_forward call.
func (h *Head) decodeParams(pose []float32) (headParams, error) {
	var d headParams
	if len(pose) != NumPose {
		return d, fmt.Errorf("pose has %d values, want %d", len(pose), NumPose)
	}
	for i, v := range pose {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return d, fmt.Errorf("pose value %d is %v", i, v)
		}
	}
	p := make([]float64, NumPose)
	for i, v := range pose {
		p[i] = float64(v)
	}
	d.GlobalRot = matrixToEulerZYX(rot6DToMatrix(p[offRot : offRot+6]))
	d.Body = bodyContToParams(p[offBody : offBody+numBodyCont])
	for i := bodyHandFirst; i <= bodyHandLast; i++ {
		d.Body[i] = 0
	}
	for i := numBody - 3; i < numBody; i++ {
		d.Body[i] = 0 // the jaw
	}
	copy(d.Hand[:], p[offHand:offHand+2*numHandCont])
	copy(d.Scale[:], p[offScale:offScale+numScale])
	copy(d.Shape[:], p[offShape:offShape+45])
	return d, nil
}

// modelParams is mhr_forward's assembly of the 204 model parameters:
// [global_trans·10, global_rot, body_pose[:130]] with the hands'
// decoded angles dropped in (replace_hands_in_pose), then scales =
// scale_mean + scale @ scale_comps.
func (h *Head) modelParams(p *headParams, trans [3]float64) [numModel]float64 {
	var m [numModel]float64
	for i := range 3 {
		m[i] = trans[i] * 10
	}
	copy(m[3:6], p.GlobalRot[:])
	copy(m[6:numModel-numScales], p.Body[:130])
	for side, idx := range [2][27]int{h.HandLeft, h.HandRight} {
		var cont [numHandCont]float64
		src := p.Hand[side*numHandCont : (side+1)*numHandCont]
		for j := range numHandCont {
			s := float64(h.HandMean[j])
			for a := range numHandCont {
				s += src[a] * float64(h.HandComps[a][j])
			}
			cont[j] = s
		}
		hp := handContToParams(cont[:])
		for k, i := range idx {
			m[i] = hp[k]
		}
	}
	for j := range numScales {
		s := float64(h.ScaleMean[j])
		for a := range numScale {
			s += p.Scale[a] * float64(h.ScaleComps[a][j])
		}
		m[numModel-numScales+j] = s
	}
	return m
}

// handModelParams is mhr_forward with enable_hand_model: the
// wrist-centric global rotation becomes
// rotmat_to_euler("xyz", euler_to_rotmat("xyz", rot) @ local_to_world_wrist),
// the translation −(R(rot')·(right_wrist − root) + root), and the
// non-hand parameters are zeroed after the assembly.
//
// Quirk kept: the head's global_rot is a ZYX-intrinsic triple
// [θz, θy, θx] and this reads it as an extrinsic "xyz" triple, i.e. as
// Rz(θx)·Ry(θy)·Rx(θz); the model was trained with it.
func (hh *HandHead) handModelParams(p *headParams) [numModel]float64 {
	g := p.GlobalRot
	r := mul3(eulerZYXMatrix([3]float64{g[2], g[1], g[0]}), hh.LocalToWorldWrist)
	e := matrixToEulerZYX(r) // [z, y, x] of R = Rz·Ry·Rx
	q := *p
	q.GlobalRot = [3]float64{e[2], e[1], e[0]}
	rr := eulerZYXMatrix(e)
	var d [3]float64
	for i := range 3 {
		d[i] = hh.RightWristCoords[i] - hh.RootCoords[i]
	}
	var trans [3]float64
	for i := range 3 {
		trans[i] = -(rr[3*i]*d[0] + rr[3*i+1]*d[1] + rr[3*i+2]*d[2] + hh.RootCoords[i])
	}
	m := hh.Head.modelParams(&q, trans)
	for _, i := range hh.NonHand {
		m[i] = 0
	}
	return m
}

// eulerZYXMatrix is Rz(a[0])·Ry(a[1])·Rx(a[2]), row-major: the matrix of
// roma's intrinsic "ZYX" angles a, or of extrinsic "xyz" angles
// (a[2], a[1], a[0]).
func eulerZYXMatrix(a [3]float64) [9]float64 {
	cz, sz := math.Cos(a[0]), math.Sin(a[0])
	cy, sy := math.Cos(a[1]), math.Sin(a[1])
	cx, sx := math.Cos(a[2]), math.Sin(a[2])
	return [9]float64{
		cz * cy, cz*sy*sx - sz*cx, cz*sy*cx + sz*sx,
		sz * cy, sz*sy*sx + cz*cx, sz*sy*cx - cz*sx,
		-sy, cy * sx, cy * cx,
	}
}

// eulerXZYMatrix is roma.euler_to_rotmat("XZY", a): intrinsic
// Rx(a[0])·Rz(a[1])·Ry(a[2]).
func eulerXZYMatrix(a [3]float64) [9]float64 {
	ca, sa := math.Cos(a[0]), math.Sin(a[0])
	cb, sb := math.Cos(a[1]), math.Sin(a[1])
	cc, sc := math.Cos(a[2]), math.Sin(a[2])
	return [9]float64{
		cb * cc, -sb, cb * sc,
		ca*sb*cc + sa*sc, ca * cb, ca*sb*sc - sa*cc,
		sa*sb*cc - ca*sc, sa * cb, sa*sb*sc + ca*cc,
	}
}

// matrixToEulerXZY is roma.rotmat_to_euler("XZY", R): [a, b, c] with
// R = Rx(a)·Rz(b)·Ry(c); R01 = −sin b, R21/R11 = tan a, R02/R00 = tan c.
// At gimbal lock roma sets the third angle to 0.
func matrixToEulerXZY(r [9]float64) [3]float64 {
	ch := math.Hypot(r[0], r[2])
	b := math.Atan2(-r[1], ch)
	if ch < 1e-12 {
		return [3]float64{math.Atan2(-r[5], r[8]), b, 0}
	}
	return [3]float64{math.Atan2(r[7], r[4]), b, math.Atan2(r[2], r[0])}
}

// fixWristEuler is fix_wrist_euler: each of the XZY angles has an
// alternative (x+π, −(z+π), y+π, wrapped by atan2(sin, cos)) giving the
// same rotation; the one with the smaller squared violation of the joint
// limits is kept (the original on a tie).
func fixWristEuler(a [3]float64) [3]float64 {
	wrap := func(v float64) float64 { return math.Atan2(math.Sin(v), math.Cos(v)) }
	alt := [3]float64{wrap(a[0] + math.Pi), wrap(-(a[1] + math.Pi)), wrap(a[2] + math.Pi)}
	viol := func(v float64, lim [2]float64) float64 {
		below, above := max(lim[0]-v, 0), max(v-lim[1], 0)
		return below*below + above*above
	}
	vo := viol(a[0], wristLimitX) + viol(a[1], wristLimitZ) + viol(a[2], wristLimitY)
	va := viol(alt[0], wristLimitX) + viol(alt[1], wristLimitZ) + viol(alt[2], wristLimitY)
	if va < vo {
		return alt
	}
	return a
}

// rotationAngle is rotation_angle_difference: acos of (tr(A·Bᵀ) − 1)/2
// clamped to [−1, 1].
func rotationAngle(a, b [9]float64) float64 {
	var tr float64
	for i := range 3 {
		for k := range 3 {
			tr += a[3*i+k] * b[3*i+k]
		}
	}
	return math.Acos(min(max((tr-1)/2, -1), 1))
}

// fusedWrist is run_inference's einsum("kabc,kabd->kadc", global, zero):
// the wrist's local rotation zeroᵀ·global, where zero = lowarm·twist is
// the wrist's global rotation at zero local pose.
func fusedWrist(global, lowarm, twist [9]float64) [9]float64 {
	return mul3(transpose3(mul3(lowarm, twist)), global)
}

func mul3(a, b [9]float64) [9]float64 {
	var c [9]float64
	for i := range 3 {
		for j := range 3 {
			c[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return c
}

func transpose3(a [9]float64) [9]float64 {
	return [9]float64{a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]}
}

// quatMatrix is roma.unitquat_to_rotmat of an x, y, z, w quaternion.
func quatMatrix(q []float64) [9]float64 {
	x, y, z, w := q[0], q[1], q[2], q[3]
	return [9]float64{
		1 - 2*(y*y+z*z), 2 * (x*y - z*w), 2 * (x*z + y*w),
		2 * (x*y + z*w), 1 - 2*(x*x+z*z), 2 * (y*z - x*w),
		2 * (x*z - y*w), 2 * (y*z + x*w), 1 - 2*(x*x+y*y),
	}
}

// frameHandBoxes is _get_hand_box: the body decoder's hand boxes (cx, cy, w,
// h as fractions of the 512 crop, left then right) made square with
// side max(w, h) and mapped to the frame through the body crop's M⁻¹;
// returned as (x0, y0, x1, y1) frame pixels.
func frameHandBoxes(boxes [2][4]float32, c Crop) [2][4]float64 {
	var out [2][4]float64
	for h, b := range boxes {
		cx, cy := float64(b[0])*CropSize, float64(b[1])*CropSize
		side := max(float64(b[2]), float64(b[3])) * CropSize / c.M[0]
		cx, cy = (cx-c.M[2])/c.M[0], (cy-c.M[5])/c.M[0]
		out[h] = [4]float64{cx - side/2, cy - side/2, cx + side/2, cy + side/2}
	}
	return out
}

// flipBox mirrors a box for the horizontally flipped frame of width W as
// run_inference does for the left hand: x0' = W − x1 − 1,
// x1' = W − x0 − 1 (the frame flip maps pixel x to W − 1 − x).
func flipBox(b [4]float64, W int) [4]float64 {
	return [4]float64{float64(W) - b[2] - 1, b[1], float64(W) - b[0] - 1, b[3]}
}

// newHandCrop is the estimator's transform_hand on a hand box: the crop
// of newBodyCrop with padding 0.9 instead of 1.25 (the same aspect fixes,
// so the side is 1.2× a square box).
func newHandCrop(box [4]float64) (Crop, error) { return newCrop(box, HandPadding) }

// flipRGB returns img mirrored horizontally (img[:, ::-1]).
func flipRGB(img *scene.RGB) *scene.RGB {
	out := scene.NewRGB(img.Rect)
	W, H := img.Rect.Dx(), img.Rect.Dy()
	for y := range H {
		src := img.Pix[y*img.Stride : y*img.Stride+3*W]
		dst := out.Pix[y*out.Stride : y*out.Stride+3*W]
		for x := range W {
			copy(dst[3*(W-1-x):3*(W-1-x)+3], src[3*x:3*x+3])
		}
	}
	return out
}

// handResult is one hand pass's final output as run_inference reads it.
type handResult struct {
	params   headParams
	crop     Crop          // the hand crop (of the flipped frame for the left hand)
	wrist2D  [2]float64    // pred_keypoints_2d[41], frame pixels (flipped frame for the left hand)
	maxCrop  float64       // max |pred_keypoints_2d_cropped| over all keypoints and both axes
	wristRot [2][9]float64 // joint_global_rots at the left and right wrist joints
}

// unflipLeft undoes the flip of the left hand's pass (run_inference,
// "Unflip output"): scale 9 is remapped from scale 8 through the body
// head's buffers, ((mean₈ + comps₈,₈·s₈) − mean₉)/comps₉,₉; the left wrist's
// global rotation is the right wrist's with rows 1 and 2 negated; the
// left hand's 54 coefficients are the right hand's.
//
// Quirk kept: the remap uses the body head's (head_pose) scale buffers,
// not the hand head's, and only the diagonal entries of scale_comps.
func unflipLeft(r *handResult, body *Head) {
	s8 := r.params.Scale[8]
	r.params.Scale[9] = ((float64(body.ScaleMean[8]) + float64(body.ScaleComps[8][8])*s8) - float64(body.ScaleMean[9])) / float64(body.ScaleComps[9][9])
	w := r.wristRot[1]
	for k := 3; k < 9; k++ {
		w[k] = -w[k]
	}
	r.wristRot[0] = w
	copy(r.params.Hand[:numHandCont], r.params.Hand[numHandCont:])
}

// handChecks is run_inference's acceptance test of both hands (left,
// right). bodyKP2D are the first body pass's keypoints in frame pixels,
// localWrist its wrists' local rotations (XZY Euler of the body
// parameters), fused the hand passes' wrist rotations made local.
//
// Quirk kept: the right wrist's distance is divided by the left hand's
// crop side and the left's by the right's (batch_lhand / batch_rhand
// swapped in the reference).
func handChecks(l, r *handResult, W int, bodyKP2D [][2]float32, localWrist, fused [2][9]float64) [2]bool {
	var ok [2]bool
	lw := [2]float64{float64(W) - l.wrist2D[0] - 1, l.wrist2D[1]} // flip the left wrist back
	dist := func(p [2]float64, k int) float64 {
		return math.Hypot(p[0]-float64(bodyKP2D[k][0]), p[1]-float64(bodyKP2D[k][1]))
	}
	wd := [2]float64{dist(lw, kpLeftWrist) / r.crop.Side, dist(r.wrist2D, kpRightWrist) / l.crop.Side}
	for s, h := range []*handResult{l, r} {
		ok[s] = rotationAngle(localWrist[s], fused[s]) < wristAngleLimit &&
			h.crop.Side > handBoxMin &&
			h.maxCrop < handKeypointLimit &&
			wd[s] < wristDistLimit
	}
	return ok
}

// wristPrompts builds the body decoder's keypoint prompt of the re-run:
// the hand passes' wrists (right 41, left 62, the left flipped back) and
// the first body pass's elbows (right 8, left 7), in the body crop's
// normalised coordinates, with the prompt order right wrist, left
// wrist, right elbow, left elbow. A prompt is kept only where its hand
// was accepted and it lies inside the crop. With several people in the
// frame (the reference batches one frame's people) a rejected prompt
// becomes the dummy (0, 0, −2), so every person gets 4; with one person
// rejected prompts are dropped, and none left means no re-run (nil).
// Kept points are shifted to [0, 1] and clamped.
func wristPrompts(c Crop, l, r *handResult, W int, bodyKP2D [][2]float32, ok [2]bool, several bool) [][3]float32 {
	lw := [2]float64{float64(W) - l.wrist2D[0] - 1, l.wrist2D[1]}
	pts := [4][2]float64{r.wrist2D, lw,
		{float64(bodyKP2D[kpRightElbow][0]), float64(bodyKP2D[kpRightElbow][1])},
		{float64(bodyKP2D[kpLeftElbow][0]), float64(bodyKP2D[kpLeftElbow][1])}}
	labels := [4]float32{kpRightWrist, kpLeftWrist, kpRightElbow, kpLeftElbow}
	valid := [4]bool{ok[1], ok[0], ok[1], ok[0]}
	var out [][3]float32
	for i, p := range pts {
		x, y := c.ToCrop(p[0], p[1])
		// _full_to_crop in float32: (M·p)/512 − 0.5.
		nx, ny := float32(float32(x)/CropSize)-0.5, float32(float32(y)/CropSize)-0.5
		cl := func(v float32) float32 { return min(max(v+0.5, 0), 1) }
		if several {
			if nx < -0.5 || nx > 0.5 || ny < -0.5 || ny > 0.5 || !valid[i] {
				out = append(out, [3]float32{0, 0, -2})
			} else {
				out = append(out, [3]float32{cl(nx), cl(ny), labels[i]})
			}
			continue
		}
		if nx > -0.5 && nx < 0.5 && ny > -0.5 && ny < 0.5 && valid[i] {
			out = append(out, [3]float32{cl(nx), cl(ny), labels[i]})
		}
	}
	return out
}

// mergeHands is the end of run_inference: the hands' pose, scales and
// shape go into the body's parameters where the hand is accepted
// (ok) and its fused wrist rotation is within 1.4 rad of the first body
// pass's (localWrist), and the wrist's XZY angles are replaced by the
// fix_wrist_euler of the fused rotation. fused are the wrist rotations
// made local on the FK of the body with the hands already dropped in
// (computed by the caller with mergedForFK).
func mergeHands(body *headParams, l, r *handResult, ok [2]bool, localWrist, fused [2][9]float64) {
	var valid [2]bool
	for s := range 2 {
		valid[s] = rotationAngle(localWrist[s], fused[s]) < wristAngleLimit && ok[s]
		if !valid[s] {
			continue
		}
		e := fixWristEuler(matrixToEulerXZY(fused[s]))
		for k, i := range wristBodyIdx[s] {
			body.Body[i] = e[k]
		}
	}
	upd := mergedForFK(body, l, r)
	for s := range 2 {
		if valid[s] {
			copy(body.Hand[s*numHandCont:(s+1)*numHandCont], upd.Hand[s*numHandCont:(s+1)*numHandCont])
		}
	}
	// Scale 9 is the left hand's, 8 the right's.
	if valid[0] {
		body.Scale[9] = upd.Scale[9]
	}
	if valid[1] {
		body.Scale[8] = upd.Scale[8]
	}
	n := 0.0
	for _, v := range valid {
		if v {
			n++
		}
	}
	if n == 0 {
		return
	}
	w := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	// The reference divides by (count + 1e-8).
	for i := 18; i < numScale; i++ {
		body.Scale[i] = (l.params.Scale[i]*w(valid[0]) + r.params.Scale[i]*w(valid[1])) / (n + 1e-8)
	}
	for i := 40; i < 45; i++ {
		body.Shape[i] = (l.params.Shape[i]*w(valid[0]) + r.params.Shape[i]*w(valid[1])) / (n + 1e-8)
	}
}

// mergedForFK is run_inference's updated_hand_pose, updated_scale and
// updated_shape on top of the body's parameters: both hands' poses (the
// left from the unflipped left pass), scale 9 from the left pass, 8 from
// the right, 18: and shape 40: as the two passes' mean.
func mergedForFK(body *headParams, l, r *handResult) headParams {
	u := *body
	copy(u.Hand[:numHandCont], l.params.Hand[:numHandCont])
	copy(u.Hand[numHandCont:], r.params.Hand[numHandCont:])
	u.Scale[9] = l.params.Scale[9]
	u.Scale[8] = r.params.Scale[8]
	for i := 18; i < numScale; i++ {
		u.Scale[i] = (l.params.Scale[i] + r.params.Scale[i]) / 2
	}
	for i := 40; i < 45; i++ {
		u.Shape[i] = (l.params.Shape[i] + r.params.Shape[i]) / 2
	}
	return u
}

// localWristRotations is ori_local_wrist_rotmat: the XZY Euler matrices
// of the body parameters' wrist angles, left then right.
func localWristRotations(p *headParams) [2][9]float64 {
	var out [2][9]float64
	for s, idx := range wristBodyIdx {
		out[s] = eulerXZYMatrix([3]float64{p.Body[idx[0]], p.Body[idx[1]], p.Body[idx[2]]})
	}
	return out
}

// projectFull is the final 2D reprojection of full mode: ((X + t)·f +
// (W/2, H/2)·z)/z with f = fx for both axes.
//
// Quirk kept: this uses the frame's centre (W/2, H/2) and fx for y,
// where the body pass projects with K's principal point and fy; the two
// differ when K is off-centre or fx ≠ fy.
func projectFull(p, t [3]float64, fx float64, W, H int) [2]float64 {
	x, y, z := p[0]+t[0], p[1]+t[1], p[2]+t[2]
	return [2]float64{(x*fx + float64(W)/2*z) / z, (y*fx + float64(H)/2*z) / z}
}
