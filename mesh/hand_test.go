package mesh

import (
	"fmt"
	"math"
	"testing"
)

// Goldens of full mode's functions: tools/golden/mesh/golden.py --hand.

func mat3(v []float64) [9]float64 { return [9]float64(v[:9]) }

func TestGoldenEulerXZY(t *testing.T) {
	g := openNPZ(t, "hand.npz")
	ang, rot, back := g.f64("fn_xzy_angles"), g.f64("fn_xzy_rotmat"), g.f64("fn_xzy_back")
	var worstR, worstA float64
	for i := range len(ang) / 3 {
		r := eulerXZYMatrix([3]float64(ang[3*i : 3*i+3]))
		worstR = max(worstR, compare(t, "euler_to_rotmat XZY", r[:], rot[9*i:9*i+9], 1e-12))
		a := matrixToEulerXZY(mat3(rot[9*i:]))
		worstA = max(worstA, compare(t, "rotmat_to_euler XZY", a[:], back[3*i:3*i+3], 1e-9))
	}
	t.Logf("max relative error: matrices %.2g, angles %.2g", worstR, worstA)
}

func TestGoldenFixWristEuler(t *testing.T) {
	g := openNPZ(t, "hand.npz")
	in, want := g.f64("fn_fix_in"), g.f64("fn_fix_out")
	alt := 0
	for i := range len(in) / 3 {
		a := [3]float64(in[3*i : 3*i+3])
		got := fixWristEuler(a)
		compare(t, "fix_wrist_euler", got[:], want[3*i:3*i+3], 1e-12)
		if got != a {
			alt++
		}
	}
	if alt == 0 || alt == len(in)/3 {
		t.Fatalf("%d of %d inputs took the alternative: both branches must be covered", alt, len(in)/3)
	}
}

func TestGoldenRotationAngle(t *testing.T) {
	g := openNPZ(t, "hand.npz")
	a, b, want := g.f64("fn_angle_a"), g.f64("fn_angle_b"), g.f64("fn_angle")
	for i := range want {
		got := rotationAngle(mat3(a[9*i:]), mat3(b[9*i:]))
		// acos near 0 amplifies rounding: compare cos of the angles there.
		if want[i] < 1e-3 {
			compare(t, "rotation_angle_difference (cos)", []float64{math.Cos(got)}, []float64{math.Cos(want[i])}, 1e-12)
			continue
		}
		compare(t, "rotation_angle_difference", []float64{got}, want[i:i+1], 1e-7)
	}
}

func TestGoldenHandBoxes(t *testing.T) {
	g := openNPZ(t, "hand.npz")
	fr := g.f64("box_fractions")
	left, right, flipped := g.f64("box_left"), g.f64("box_right"), g.f64("box_left_flipped")
	crops := g.u8("box_left_crops")
	img := flipRGB(goldenImage())
	const px = CropSize * CropSize
	var worstBox, worstCrop float64
	for p, rect := range goldenRects {
		box, _ := boxFromMask(goldenMask(rect))
		c, _ := newBodyCrop(box)
		var hb [2][4]float32
		for h := range 2 {
			for k := range 4 {
				hb[h][k] = float32(fr[8*p+4*h+k])
			}
		}
		got := frameHandBoxes(hb, c)
		// Frame pixels relative to the frame's size: the reference
		// computes in float32.
		rel := func(v []float64) []float64 {
			out := make([]float64, len(v))
			for i, x := range v {
				out[i] = x / (goldenW + goldenH)
			}
			return out
		}
		worstBox = max(worstBox, compare(t, "left hand box", rel(got[0][:]), rel(left[4*p:4*p+4]), goldenTol))
		worstBox = max(worstBox, compare(t, "right hand box", rel(got[1][:]), rel(right[4*p:4*p+4]), goldenTol))
		fl := flipBox(got[0], goldenW)
		compare(t, "flipped left box", rel(fl[:]), rel(flipped[4*p:4*p+4]), goldenTol)
		for side, b := range [][4]float64{flipBox([4]float64(left[4*p:4*p+4]), goldenW), [4]float64(right[4*p : 4*p+4])} {
			name := []string{"left", "right"}[side]
			hc, err := newHandCrop(b)
			if err != nil {
				t.Fatal(err)
			}
			worstCrop = max(worstCrop, compare(t, name+" hand crop centre", rel(hc.Center[:]), rel(g.f64("box_" + name + "_center")[2*p:2*p+2]), goldenTol))
			compare(t, name+" hand crop side", rel([]float64{hc.Side, hc.Side}), rel(g.f64("box_" + name + "_scale")[2*p:2*p+2]), goldenTol)
			// M's scale, and its translation over its scale (frame pixels,
			// relative to the frame's size). cv2.getAffineTransform reads
			// float32 points: for the 0.27-pixel box, points ~200 apart by
			// 0.27 carry ~1e-4 relative error into M's scale, so it is
			// compared at 1e-4 (the crop's centre and side match at 1e-8).
			wm := g.f64("box_" + name + "_affine")[6*p : 6*p+6]
			compare(t, name+" hand crop M scale", []float64{hc.M[0], hc.M[4]}, []float64{wm[0], wm[4]}, 1e-4)
			compare(t, name+" hand crop M translation", rel([]float64{hc.M[2] / hc.M[0], hc.M[5] / hc.M[4]}), rel([]float64{wm[2] / wm[0], wm[5] / wm[4]}), goldenTol)
			if side == 0 {
				buf := make([]uint8, 3*px)
				hc.WarpRGB(buf, img)
				// As the person crops (TestGoldenCrop), M's float32 rounding in
				// the reference moves a few sample positions across a rounding
				// boundary; hand crops magnify more, so a few more flip.
				checkU8(t, fmt.Sprintf("person %d: mirrored left hand crop", p), buf, crops[3*px*p:3*px*(p+1)], 100)
			}
		}
	}
	t.Logf("max relative error: hand boxes %.2g, hand crops %.2g", worstBox, worstCrop)
}

func TestGoldenHandDecode(t *testing.T) {
	g := openNPZ(t, "hand.npz")
	hh := &HandHead{}
	h := &hh.Head
	copy(h.ScaleMean[:], f32s(g.f64f("hdec_scale_mean")))
	sc := g.f64f("hdec_scale_comps")
	for a := range numScale {
		for j := range numScales {
			h.ScaleComps[a][j] = float32(sc[a*numScales+j])
		}
	}
	copy(h.HandMean[:], f32s(g.f64f("hdec_hand_pose_mean")))
	hc := g.f64f("hdec_hand_pose_comps")
	for a := range numHandCont {
		for j := range numHandCont {
			h.HandComps[a][j] = float32(hc[a*numHandCont+j])
		}
	}
	for k, v := range g.ints("hdec_hand_joint_idxs_left") {
		h.HandLeft[k] = v
	}
	for k, v := range g.ints("hdec_hand_joint_idxs_right") {
		h.HandRight[k] = v
	}
	copy(hh.LocalToWorldWrist[:], g.f64f("hdec_local_to_world_wrist"))
	copy(hh.RightWristCoords[:], g.f64f("hdec_right_wrist_coords"))
	copy(hh.RootCoords[:], g.f64f("hdec_root_coords"))
	hh.NonHand = g.ints("hdec_nonhand_param_idxs")
	pose, params, bodyPose := g.f64f("hdec_pose"), g.f64("hdec_model_params"), g.f64("hdec_body_pose")
	var worst float64
	for q := range len(pose) / NumPose {
		p, err := h.decodeParams(f32s(pose[q*NumPose : (q+1)*NumPose]))
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, compare(t, "body_pose", p.Body[:], bodyPose[numBody*q:numBody*(q+1)], goldenTol))
		m := hh.handModelParams(&p)
		worst = max(worst, compare(t, "hand model_params", m[:], params[numModel*q:numModel*(q+1)], goldenTol))
	}
	t.Logf("max relative error %.2g", worst)
}
