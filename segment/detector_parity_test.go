package segment

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// detectorParityDir is the reference SAM-3 detector shrunk and exported by
// tools/golden/detect/make_parity.py, with its goldens.
var detectorParityDir = filepath.Join("..", "testdata", "detect", "parity")

type detectorGolden struct {
	Concept       string `json:"concept"`
	Width, Height int
	Frames        []struct {
		Frame   int          `json:"frame"`
		Queries []int        `json:"queries"`
		Scores  []float64    `json:"scores"`
		Boxes   [][4]float64 `json:"boxes"`
		Masks   []string     `json:"masks"`
		Above   int          `json:"above"`
		Margin  float64      `json:"margin"`
	} `json:"frames"`
}

// TestDetectorParity runs segment.Detector and detect.Postprocess on the
// engine exported from the reference detector and compares with the
// reference's own detection path on the same frames: the same kept
// detections, boxes within 1e-3 relative, scores within 1e-3, mask IoU ≥
// 0.999.
func TestDetectorParity(t *testing.T) {
	f, err := os.Open(filepath.Join(detectorParityDir, "golden.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g detectorGolden
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	if len(g.Frames) == 0 {
		t.Fatal("no golden frames")
	}
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: benchThreads(t)})
	dir, err := models.Open(detectorParityDir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenDetector(dir, rt.Load, g.Concept)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	frames := loadFrames(t, clipFrames, len(g.Frames))
	if frames.info.Width != g.Width || frames.info.Height != g.Height {
		t.Fatalf("frames are %dx%d, golden %dx%d", frames.info.Width, frames.info.Height, g.Width, g.Height)
	}
	want, kept, worstIoU, worstBox, worstScore := 0, 0, 1.0, 0.0, 0.0
	for _, gf := range g.Frames {
		want += len(gf.Scores)
		dets, err := d.Detect(context.Background(), frames, gf.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) != len(gf.Scores) {
			t.Errorf("frame %d: %d detections kept, reference %d (queries %v)", gf.Frame, len(dets), len(gf.Scores), gf.Queries)
			continue
		}
		// Both keep the detections in query order.
		for i, dt := range dets {
			kept++
			if e := math.Abs(dt.Score - gf.Scores[i]); e > 1e-3 {
				t.Errorf("frame %d detection %d: score %.5f, reference %.5f", gf.Frame, i, dt.Score, gf.Scores[i])
			} else {
				worstScore = max(worstScore, e)
			}
			got := [4]float64{dt.X0, dt.Y0, dt.X1, dt.Y1}
			for k, w := range gf.Boxes[i] {
				e := math.Abs(got[k]-w) / max(math.Abs(w), 1)
				worstBox = max(worstBox, e)
				if e > 1e-3 {
					t.Errorf("frame %d detection %d: box %v, reference %v", gf.Frame, i, got, gf.Boxes[i])
					break
				}
			}
			bits, err := hex.DecodeString(gf.Masks[i])
			if err != nil {
				t.Fatal(err)
			}
			gm := scene.NewMask(g.Width, g.Height)
			for p := range gm.Pix {
				gm.Pix[p] = bits[p/8] >> (7 - p%8) & 1
			}
			iou, err := scene.IoU(dt.Mask, gm)
			if err != nil {
				t.Fatal(err)
			}
			worstIoU = min(worstIoU, iou)
			if iou < 0.999 {
				t.Errorf("frame %d detection %d: mask IoU %.5f with the reference (areas %d vs %d)", gf.Frame, i, iou, dt.Mask.Area(), gm.Area())
			}
		}
	}
	t.Logf("%d of the reference's %d kept detections compared over %d frames: worst mask IoU %.6f, box error %.2g (relative), score error %.2g",
		kept, want, len(g.Frames), worstIoU, worstBox, worstScore)
	if want == 0 {
		t.Error("the golden keeps no detection: the comparison would prove nothing")
	}
}
