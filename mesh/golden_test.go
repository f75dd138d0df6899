package mesh

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/body4d/body4d/scene"
)

// The goldens of tools/golden/mesh/golden.py: the reference's own
// functions on fixed inputs.

const (
	goldenW, goldenH = 320, 240
	goldenTol        = 1e-5 // relative, with magnitudes below 1 compared absolutely
)

var goldenRects = [][4]int{{100, 40, 160, 220}, {10, 150, 250, 200}, {280, 0, 320, 90}, {200, 20, 203, 24}}

// goldenNPZ reads a golden .npz of testdata/mesh, failing the test on
// a missing or mistyped array.
type goldenNPZ struct {
	t *testing.T
	r *npz.Reader
}

func openNPZ(t *testing.T, name string) goldenNPZ {
	t.Helper()
	r, err := npz.Open(filepath.Join("..", "testdata", "mesh", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return goldenNPZ{t, r}
}

func openGolden(t *testing.T) goldenNPZ {
	t.Helper()
	return openNPZ(t, "golden.npz")
}

// readNPZ reads array key as a []T.
func readNPZ[T any](g goldenNPZ, key string) []T {
	g.t.Helper()
	var v []T
	if err := g.r.Read(key+".npy", &v); err != nil {
		g.t.Fatalf("%s: %v", key, err)
	}
	return v
}

func (g goldenNPZ) has(key string) bool { return g.r.Header(key+".npy") != nil }

func (g goldenNPZ) f64(key string) []float64 { g.t.Helper(); return readNPZ[float64](g, key) }
func (g goldenNPZ) f32(key string) []float32 { g.t.Helper(); return readNPZ[float32](g, key) }
func (g goldenNPZ) u8(key string) []uint8    { g.t.Helper(); return readNPZ[uint8](g, key) }
func (g goldenNPZ) i64(key string) []int64   { g.t.Helper(); return readNPZ[int64](g, key) }
func (g goldenNPZ) bools(key string) []bool  { g.t.Helper(); return readNPZ[bool](g, key) }

// f64f reads a float32 array as float64.
func (g goldenNPZ) f64f(key string) []float64 { g.t.Helper(); return f64s(g.f32(key)) }

// ints reads an int64 array as int.
func (g goldenNPZ) ints(key string) []int {
	g.t.Helper()
	v := g.i64(key)
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// relErr is |got−want| / max(|want|, 1).
func relErr(got, want float64) float64 { return math.Abs(got-want) / max(math.Abs(want), 1) }

// compare checks got against want elementwise and returns the largest
// relative error.
func compare(t *testing.T, what string, got, want []float64, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i := range got {
		if e := relErr(got[i], want[i]); e > worst || math.IsNaN(e) {
			worst, at = e, i
		}
	}
	if !(worst <= tol) {
		t.Errorf("%s: element %d is %v, want %v (relative error %.3g > %g)", what, at, got[at], want[at], worst, tol)
	}
	return worst
}

// goldenImage is golden.py's frame formula.
func goldenImage() *scene.RGB {
	return formulaRGB(goldenW, goldenH, func(x, y, c int) int { return 7*x + 13*y + 29*c + (x*y)%17 })
}

func goldenMask(r [4]int) *scene.Mask { return rectMask(goldenW, goldenH, r) }

// formulaRGB is the w×h frame with pix[y, x, c] = pix(x, y, c) mod 256,
// as the golden scripts write their frames.
func formulaRGB(w, h int, pix func(x, y, c int) int) *scene.RGB {
	img := scene.NewRGB(imageRect(w, h))
	for y := range h {
		for x := range w {
			for c := range 3 {
				img.Pix[y*img.Stride+3*x+c] = uint8(pix(x, y, c) % 256)
			}
		}
	}
	return img
}

// rectMask is the w×h mask of rectangle r (x0, y0, x1, y1; x1 and y1
// exclusive).
func rectMask(w, h int, r [4]int) *scene.Mask {
	m := scene.NewMask(w, h)
	for y := r[1]; y < r[3]; y++ {
		for x := r[0]; x < r[2]; x++ {
			m.Pix[y*w+x] = 1
		}
	}
	return m
}

func goldenK(g goldenNPZ) scene.Intrinsics {
	k := g.f64("K")
	return scene.Intrinsics{Fx: k[0], Fy: k[4], Cx: k[2], Cy: k[5]}
}

func TestGoldenCrop(t *testing.T) {
	g := openGolden(t)
	K := goldenK(g)
	boxes, centers, scales, affine := g.f64("boxes"), g.f64("bbox_center"), g.f64("bbox_scale"), g.f64("affine")
	crops, masks := g.u8("crops"), g.u8("mask_crops")
	normIdx, normVal := g.i64("norm_index"), g.f32("norm_values")
	cond, rays := g.f64("condition"), g.f64("rays")
	img := goldenImage()
	const px = CropSize * CropSize
	var worstM, worstCond, worstRay, worstNorm float64
	for p, r := range goldenRects {
		m := goldenMask(r)
		box, err := boxFromMask(m)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "box", box[:], boxes[4*p:4*p+4], 0)
		c, err := newBodyCrop(box)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "bbox_center", c.Center[:], centers[2*p:2*p+2], goldenTol)
		compare(t, "bbox_scale", []float64{c.Side, c.Side}, scales[2*p:2*p+2], goldenTol)
		// M comes from cv2.getAffineTransform on float32 points.
		worstM = max(worstM, compare(t, "affine", c.M[:], affine[6*p:6*p+6], 1e-5))

		got := make([]uint8, 3*px)
		c.WarpRGB(got, img)
		checkU8(t, fmt.Sprintf("person %d: crop (vs cv2.warpAffine)", p), got, crops[3*px*p:3*px*(p+1)], 10)
		gm := make([]uint8, px)
		c.WarpMask(gm, m)
		checkU8(t, fmt.Sprintf("person %d: mask crop", p), gm, masks[px*p:px*(p+1)], 10)

		// Normalisation of the reference's own crop.
		norm := make([]float32, 3*px)
		normalizeCrop(norm, crops[3*px*p:3*px*(p+1)])
		for k, i := range normIdx {
			worstNorm = max(worstNorm, relErr(float64(norm[i]), float64(normVal[len(normIdx)*p+k])))
		}

		cv := c.Condition(K)
		worstCond = max(worstCond, compare(t, "condition", []float64{float64(cv[0]), float64(cv[1]), float64(cv[2])}, cond[3*p:3*p+3], goldenTol))
		rv := make([]float32, 2*Grid*Grid)
		c.Rays(rv, K)
		rg := make([]float64, len(rv))
		for i, v := range rv {
			rg[i] = float64(v)
		}
		worstRay = max(worstRay, compare(t, "rays", rg, rays[len(rv)*p:len(rv)*(p+1)], goldenTol))
	}
	if worstNorm > goldenTol {
		t.Errorf("normalised crop: relative error %.3g", worstNorm)
	}
	t.Logf("max relative error: M %.2g, condition %.2g, rays %.2g, normalisation %.2g", worstM, worstCond, worstRay, worstNorm)
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// checkU8 checks that got differs from want (at least as long) by at
// most one level, at no more than maxDiffs values: crops warped as
// cv2.warpAffine does, up to its rounding of M to float32.
func checkU8(t *testing.T, what string, got, want []uint8, maxDiffs int) {
	t.Helper()
	diffs, maxd := 0, 0
	for i, v := range got {
		if d := absInt(int(v) - int(want[i])); d > 0 {
			diffs++
			maxd = max(maxd, d)
		}
	}
	t.Logf("%s differs at %d of %d values (max %d levels)", what, diffs, len(got), maxd)
	if maxd > 1 || diffs > maxDiffs {
		t.Errorf("%s differs at %d values, by up to %d levels", what, diffs, maxd)
	}
}

func goldenHead(g goldenNPZ) *Head {
	h := &Head{}
	copy(h.ScaleMean[:], g.f32("dec_scale_mean"))
	sc := g.f32("dec_scale_comps")
	for a := range numScale {
		copy(h.ScaleComps[a][:], sc[a*numScales:])
	}
	copy(h.HandMean[:], g.f32("dec_hand_pose_mean"))
	hc := g.f32("dec_hand_pose_comps")
	for a := range numHandCont {
		copy(h.HandComps[a][:], hc[a*numHandCont:])
	}
	for k, v := range g.i64("dec_hand_joint_idxs_left") {
		h.HandLeft[k] = int(v)
	}
	for k, v := range g.i64("dec_hand_joint_idxs_right") {
		h.HandRight[k] = int(v)
	}
	return h
}

func TestGoldenDecode(t *testing.T) {
	g := openGolden(t)
	h := goldenHead(g)
	if err := h.check(); err != nil {
		t.Fatal(err)
	}
	pose, rot, params, shape := g.f32("dec_pose"), g.f64("dec_global_rot"), g.f64("dec_model_params"), g.f64("dec_shape")
	n := len(pose) / NumPose
	var worstRot, worstParams float64
	for q := range n {
		d, err := h.Decode(pose[q*NumPose : (q+1)*NumPose])
		if err != nil {
			t.Fatal(err)
		}
		// Near gimbal lock (cos θy → 0) θz and θx trade against each
		// other and the reference's float32 arithmetic moves them by
		// ~eps32/cos θy; there the rotation they make is compared.
		want := [3]float64(rot[3*q : 3*q+3])
		if math.Abs(math.Cos(want[1])) > 1e-2 {
			worstRot = max(worstRot, compare(t, "global_rot", d.GlobalRot[:], want[:], goldenTol))
		} else {
			gm, wm := eulerZYXMatrix(d.GlobalRot), eulerZYXMatrix(want)
			worstRot = max(worstRot, compare(t, "global rotation matrix (near gimbal lock)", gm[:], wm[:], goldenTol))
		}
		m := make([]float64, numModel)
		for i, v := range d.Model {
			m[i] = float64(v)
		}
		wp := params[numModel*q : numModel*(q+1)]
		m[3], m[4], m[5] = wp[3], wp[4], wp[5] // compared above
		worstParams = max(worstParams, compare(t, "model_params", m, wp, goldenTol))
		s := make([]float64, 45)
		for i, v := range d.Shape {
			s[i] = float64(v)
		}
		compare(t, "shape", s, shape[45*q:45*(q+1)], 0)
	}
	t.Logf("%d poses: max relative error global_rot %.2g, model_params %.2g", n, worstRot, worstParams)
}

func TestGoldenCamera(t *testing.T) {
	g := openGolden(t)
	K := goldenK(g)
	predCam, pts, camT := g.f64("cam_pred_cam"), g.f64("cam_points"), g.f64("cam_cam_t")
	kp2d, depth, kpCrop := g.f64("cam_kp2d"), g.f64("cam_depth"), g.f64("cam_kp2d_crop")
	var worstT, worst2D, worstCrop float64
	for p, r := range goldenRects {
		box, _ := boxFromMask(goldenMask(r))
		c, _ := newBodyCrop(box)
		raw := [3]float32{float32(predCam[3*p]), float32(predCam[3*p+1]), float32(predCam[3*p+2])}
		ct := cameraTranslation(raw, c, K)
		worstT = max(worstT, compare(t, "cam_t", ct[:], camT[3*p:3*p+3], goldenTol))
		for k := range NumKeypoints {
			o := p*NumKeypoints + k
			u, v, z := projectPoint([3]float64(pts[3*o:3*o+3]), ct, K)
			// Pixel positions are relative to the frame's size: the
			// reference adds cx to fx·x/z in float32.
			const px = goldenW + goldenH
			worst2D = max(worst2D, compare(t, "kp2d", []float64{u / px, v / px, z}, []float64{kp2d[2*o] / px, kp2d[2*o+1] / px, depth[o]}, goldenTol))
			x, y := c.ToCrop(u, v)
			worstCrop = max(worstCrop, compare(t, "kp2d_crop", []float64{x/CropSize - 0.5, y/CropSize - 0.5}, kpCrop[2*o:2*o+2], goldenTol))
		}
	}
	t.Logf("max relative error: cam_t %.2g, keypoints 2D %.2g, crop keypoints %.2g", worstT, worst2D, worstCrop)
}
