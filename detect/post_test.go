package detect

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/body4d/body4d/internal/npytest"
	"github.com/body4d/body4d/scene"
)

// TestPostprocessGolden checks Postprocess against the reference's own
// functions (tools/golden/detect/make_golden.py): the same kept queries,
// scores within 1e-5, boxes within 1e-5 relative (the issue asks 1e-3),
// masks with IoU ≥ 0.999.
func TestPostprocessGolden(t *testing.T) {
	const w, h = 100, 70
	dir := filepath.Join("..", "testdata", "detect")
	for _, name := range []string{"people", "weak", "nobody"} {
		t.Run(name, func(t *testing.T) {
			read := func(what string) string { return filepath.Join(dir, name+"_"+what+".npy") }
			masks, shape := npytest.ReadShape[float32](t, read("masks"))
			raw := Raw{
				Logits:   npytest.Read[float32](t, read("logits")),
				Presence: npytest.Read[float32](t, read("presence"))[0],
				Boxes:    npytest.Read[float32](t, read("boxes")),
				Masks:    masks, MH: shape[1], MW: shape[2],
			}
			kept := npytest.Read[int64](t, read("kept"))
			scores := npytest.Read[float32](t, read("scores"))
			xyxy := npytest.Read[float32](t, read("xyxy"))
			up := npytest.Read[uint8](t, read("up"))
			dets, err := Postprocess(raw, w, h)
			if err != nil {
				t.Fatal(err)
			}
			if name != "nobody" && len(kept) < 2 {
				t.Fatalf("golden keeps %d detections: it does not exercise NMS", len(kept))
			}
			if len(dets) != len(kept) {
				t.Fatalf("%d detections, the reference keeps %d (queries %v)", len(dets), len(kept), kept)
			}
			for i, d := range dets {
				if math.Abs(d.Score-float64(scores[i])) > 1e-5 {
					t.Errorf("detection %d (query %d): score %.7f, reference %.7f", i, kept[i], d.Score, scores[i])
				}
				for k, v := range []float64{d.X0, d.Y0, d.X1, d.Y1} {
					ref := float64(xyxy[4*i+k])
					if math.Abs(v-ref) > 1e-5*max(math.Abs(ref), 1) {
						t.Errorf("detection %d: box[%d] %.6f, reference %.6f", i, k, v, ref)
					}
				}
				ref := &scene.Mask{W: w, H: h, Pix: up[i*w*h : (i+1)*w*h]}
				iou, err := scene.IoU(d.Mask, ref)
				if err != nil {
					t.Fatal(err)
				}
				if iou < 0.999 {
					t.Errorf("detection %d: mask IoU %.5f with the reference's", i, iou)
				}
			}
		})
	}
}

func TestPostprocessBadSizes(t *testing.T) {
	_, err := Postprocess(Raw{Logits: make([]float32, 2), Boxes: make([]float32, 8), Masks: make([]float32, 7), MH: 2, MW: 2}, 4, 4)
	if err == nil {
		t.Fatal("mismatched mask size accepted")
	}
}

// TestNMSOrder: of two overlapping detections the higher score survives
// whatever the query order.
func TestNMSOrder(t *testing.T) {
	m := []float32{1, 1, -1, -1}
	for _, logits := range [][]float32{{2, 3}, {3, 2}} {
		dets, err := Postprocess(Raw{Logits: logits, Presence: 10, Boxes: make([]float32, 8), Masks: slices.Concat(m, m), MH: 2, MW: 2}, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := sigmoid(min(max(inverseSigmoid(sigmoid(3)*sigmoid(10)), -10), 10))
		if len(dets) != 1 || dets[0].Score != float64(want) {
			t.Errorf("logits %v: %+v, want one detection of score %v", logits, dets, want)
		}
	}
}
