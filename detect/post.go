package detect

import (
	"fmt"
	"math"
	"slices"

	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// The reference's detection thresholds (build_sam3_video_model:
// score_threshold_detection=0.5, det_nms_thresh=0.1).
const (
	ScoreThreshold = 0.5
	NMSIoU         = 0.1
)

// Raw is a detector engine's output for one frame: Q queries.
type Raw struct {
	Logits   []float32 // [Q] class logits, before the presence score
	Presence float32   // the presence logit
	Boxes    []float32 // [Q,4] cx, cy, w, h relative to the frame
	Masks    []float32 // [Q,MH,MW] mask logits
	MH, MW   int
}

// Postprocess turns one frame's raw output into the kept detections on
// a w×h frame, in query order, as the reference does:
//
//   - the joint score (Sam3Image._update_scores_and_boxes with
//     supervise_joint_box_scores): sigmoid of inverse_sigmoid(sigmoid(logit)
//     × sigmoid(presence)) clamped to [−10, 10], inverse_sigmoid with
//     eps 1e-3 (sam3/model/model_misc.py);
//   - mask NMS (sam3/perflib/nms.py nms_masks, generic_nms_cpu): among
//     the queries scoring above 0.5, in descending score, a query is
//     dropped when its binarised low-resolution mask overlaps a kept one
//     with IoU > 0.1;
//   - the kept queries scoring above 0.5 (Sam3VideoBase.run_detection);
//   - boxes by box_cxcywh_to_xyxy, scaled to pixels; masks upsampled to
//     the frame bilinearly (align_corners=False) and binarised at 0.
func Postprocess(r Raw, w, h int) ([]Detection, error) {
	q := len(r.Logits)
	if len(r.Boxes) != 4*q || r.MH <= 0 || r.MW <= 0 || len(r.Masks) != q*r.MH*r.MW {
		return nil, fmt.Errorf("detect: engine output sizes disagree: %d logits, %d box values, %d mask values of %d×%d",
			q, len(r.Boxes), len(r.Masks), r.MW, r.MH)
	}
	presence := sigmoid(r.Presence)
	probs := make([]float32, q)
	var valid []int
	for i, l := range r.Logits {
		probs[i] = sigmoid(min(max(inverseSigmoid(sigmoid(l)*presence), -10), 10))
		if probs[i] > ScoreThreshold {
			valid = append(valid, i)
		}
	}
	plane := r.MH * r.MW
	bin := func(i int) []bool {
		b := make([]bool, plane)
		for k, v := range r.Masks[i*plane : (i+1)*plane] {
			b[k] = v > 0
		}
		return b
	}
	masks := map[int][]bool{}
	for _, i := range valid {
		masks[i] = bin(i)
	}
	order := slices.Clone(valid)
	slices.SortStableFunc(order, func(a, b int) int {
		// numpy's argsort()[::-1]: descending score; equal scores
		// (which random floats do not produce) would come last-first.
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return b - a
	})
	keep := map[int]bool{}
	for len(order) > 0 {
		i := order[0]
		keep[i] = true
		var rest []int
		for _, j := range order[1:] {
			if maskIoU(masks[i], masks[j]) <= NMSIoU {
				rest = append(rest, j)
			}
		}
		order = rest
	}
	var out []Detection
	up := make([]float32, w*h)
	for _, i := range valid {
		if !keep[i] {
			continue
		}
		b := r.Boxes[4*i : 4*i+4]
		cx, cy, bw, bh := b[0], b[1], b[2], b[3]
		d := Detection{
			X0: float64(cx-0.5*bw) * float64(w), Y0: float64(cy-0.5*bh) * float64(h),
			X1: float64(cx+0.5*bw) * float64(w), Y1: float64(cy+0.5*bh) * float64(h),
			Score: float64(probs[i]), Mask: scene.NewMask(w, h),
		}
		resample.InterpolateBilinear(r.Masks[i*plane:(i+1)*plane], r.MW, r.MH, w, h, up)
		for k, v := range up {
			if v > 0 {
				d.Mask.Pix[k] = 1
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// inverseSigmoid is sam3's inverse_sigmoid (eps 1e-3).
func inverseSigmoid(x float32) float32 {
	x = min(max(x, 0), 1)
	return float32(math.Log(float64(max(x, 1e-3) / max(1-x, 1e-3))))
}

// maskIoU is sam3's mask_iou: intersection over union, union at least 1.
func maskIoU(a, b []bool) float64 {
	var inter, union int
	for k := range a {
		if a[k] && b[k] {
			inter++
		}
		if a[k] || b[k] {
			union++
		}
	}
	return float64(inter) / float64(max(union, 1))
}
