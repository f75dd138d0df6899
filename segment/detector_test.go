package segment

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/models"
)

// TestTinyDetector runs the tiny detector on a sample frame: its built-in
// pathway (tools/export/make_tiny.py segment_detector) has two people,
// queries 0 and 1, with scores near 0.93 and 0.86 and boxes centred at
// x = 0.3 and 0.7 of the width.
func TestTinyDetector(t *testing.T) {
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: benchThreads(t)})
	dir, err := models.Open(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenDetector(dir, rt.Load, DefaultConcept)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	frames := loadFrames(t, clipFrames, 1)
	dets, err := d.Detect(context.Background(), frames, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 2 {
		t.Fatalf("%d detections, want 2: %+v", len(dets), dets)
	}
	w := float64(frames.info.Width)
	for i, want := range []struct{ score, cx float64 }{{0.93, 0.3}, {0.86, 0.7}} {
		dt := dets[i]
		if math.Abs(dt.Score-want.score) > 0.03 {
			t.Errorf("detection %d: score %.3f, want about %.2f", i, dt.Score, want.score)
		}
		if cx := (dt.X0 + dt.X1) / 2 / w; math.Abs(cx-want.cx) > 1e-6 {
			t.Errorf("detection %d: box centre x %.4f of the width, want %.1f", i, cx, want.cx)
		}
		if dt.Mask.Area() == 0 {
			t.Errorf("detection %d: empty mask", i)
		}
	}
	if _, err := OpenDetector(dir, rt.Load, "dog"); err == nil || !strings.Contains(err.Error(), `concept "dog"`) {
		t.Errorf("other concept: err = %v", err)
	}
}

// BenchmarkDetector: the detector on one sample frame (resize, engine,
// post-processing), per frame; the tiny one, or the one in the model
// directory BODY4D_DETECTOR_MODELS names (the real-size dry run's:
// tools/export/realsize/realsize.sh).
func BenchmarkDetector(b *testing.B) {
	rt := orttest.Runtime(b, ort.Options{IntraOpThreads: benchThreads(b)})
	path := tinyDir
	if p := os.Getenv("BODY4D_DETECTOR_MODELS"); p != "" {
		path = p
	}
	dir, err := models.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	d, err := OpenDetector(dir, rt.Load, DefaultConcept)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	frames := loadFrames(b, clipFrames, 1)
	for b.Loop() {
		if _, err := d.Detect(context.Background(), frames, 0); err != nil {
			b.Fatal(err)
		}
	}
}
