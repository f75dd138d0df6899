package mesh

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// fullClip is tools/golden/mesh/stage.py --full's clip: three frames,
// two people, frame 0 with both, frames 1 and 2 with one each, and an
// off-centre camera.
type fullClip struct{}

const fullW, fullH, fullFrames = 160, 120, 3

var fullRects = map[scene.PersonID][fullFrames]*[4]int{
	1: {{30, 20, 70, 110}, {34, 22, 76, 112}, nil},
	2: {{90, 50, 150, 80}, nil, {40, 10, 120, 115}},
}

var fullK = scene.Intrinsics{Fx: 190, Fy: 190, Cx: 84.5, Cy: 57.25}

func (fullClip) Info() scene.VideoInfo {
	return scene.VideoInfo{Width: fullW, Height: fullH, FPS: scene.Rational{Num: 25, Den: 1}, Frames: fullFrames}
}

func (fullClip) Frame(i int) (*scene.RGB, error) {
	return formulaRGB(fullW, fullH, func(x, y, c int) int { return 3*x + 7*y + 41*c + 5*i + (x*y)%11 }), nil
}

func (fullClip) People() []scene.PersonID { return []scene.PersonID{1, 2} }

func (fullClip) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	r := fullRects[id][frame]
	if r == nil {
		return nil, nil
	}
	return rectMask(fullW, fullH, *r), nil
}

func fullInput() Input {
	var c fullClip
	cams := make([]scene.Intrinsics, fullFrames)
	for i := range cams {
		cams[i] = fullK
	}
	return Input{Frames: c, Masks: c, Cameras: cams}
}

// compareFull compares one full-mode frame result with the golden.
func compareFull(t *testing.T, g goldenNPZ, fr *FrameResult, worst map[string]float64) int {
	t.Helper()
	if fr.Mode != "full" {
		t.Errorf("frame %d: mode %q", fr.Frame, fr.Mode)
	}
	n := 0
	for _, p := range fr.People {
		key := fmt.Sprintf("f%d_p%d_", fr.Frame, p.ID)
		if !g.has(key + "model") {
			if p.Present {
				t.Errorf("%s: present, the golden has no such person", key)
			}
			continue
		}
		if !p.Present || p.LeftHandBox == nil || p.RightHandBox == nil || p.HandsAccepted == nil {
			t.Fatalf("%s: missing full-mode result %+v", key, p)
		}
		n++
		const px = fullW + fullH // pixel positions relative to the frame's size
		var kp2, kp3 []float64
		for _, k := range p.Keypoints2D {
			kp2 = append(kp2, float64(k[0])/px, float64(k[1])/px)
		}
		for _, k := range p.Keypoints3D {
			kp3 = append(kp3, float64(k[0]), float64(k[1]), float64(k[2]))
		}
		scale := func(v []float64) []float64 {
			for i := range v {
				v[i] /= px
			}
			return v
		}
		lb, rb := *p.LeftHandBox, *p.RightHandBox
		for _, c := range []struct {
			name      string
			got, want []float64
		}{
			{"model", f64s(p.Params.Model[:]), g.f64(key + "model")},
			{"shape", f64s(p.Params.Shape[:]), g.f64(key + "shape")},
			{"cam_t", p.Params.CamT[:], g.f64(key + "cam_t")},
			{"kp2d", kp2, scale(g.f64(key + "kp2d"))},
			{"kp3d", kp3, g.f64(key + "kp3d")},
			{"lhand_bbox", scale(lb[:]), scale(g.f64(key + "lhand_bbox"))},
			{"rhand_bbox", scale(rb[:]), scale(g.f64(key + "rhand_bbox"))},
		} {
			worst[c.name] = max(worst[c.name], compare(t, key+c.name, c.got, c.want, goldenTol))
		}
		acc := g.bools(key + "accepted")
		if acc[0] != p.HandsAccepted[0] || acc[1] != p.HandsAccepted[1] {
			t.Errorf("%s: hands accepted %v, the reference merged %v", key, *p.HandsAccepted, acc)
		}
	}
	return n
}

// TestTinyStageFull runs the stage in full mode on the tiny engines and
// compares with the reference's run_inference around the same engines
// (tools/golden/mesh/stage.py --full).
func TestTinyStageFull(t *testing.T) {
	g := openNPZ(t, "stage_full.npz")
	for _, batch := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			r := openTiny(t, Options{MaxBatch: batch, Mode: ModeFull})
			worst := map[string]float64{}
			n := 0
			err := r.RecoverFrames(context.Background(), fullInput(), func(fr *FrameResult) error {
				n += compareFull(t, g, fr, worst)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != 4 {
				t.Fatalf("compared %d people, want 4", n)
			}
			t.Logf("max relative error vs the reference's run_inference: %v", worst)
		})
	}
}

// TestFullModeNeedsHandEngines: a model directory without the hand
// engines opens in body mode, and full mode names what is missing.
func TestFullModeNeedsHandEngines(t *testing.T) {
	s := newFakeStage()
	_ = s.recoverer(t, Options{})
	layers := s.layerEngines()
	if _, err := newBodyRecoverer(s.backbone, s.decoder, layers, tinyMHR(t), testHead(), Options{Mode: ModeFull}); err == nil || !strings.Contains(err.Error(), "decoder_prompt") {
		t.Fatalf("New in full mode without hand engines: %v", err)
	}
	if _, err := newFull(s.backbone, s.decoder, layers, &Hands{DecoderPrompt: s.decoder}, tinyMHR(t), testHead(), Options{Mode: ModeFull}); err == nil || !strings.Contains(err.Error(), EngineHandDecoder) {
		t.Fatalf("NewFull without the hand decoder: %v", err)
	}
	// The tiny model directory without the full-mode engines.
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: 1})
	dir, err := models.Open(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	m := *dir.Manifest
	m.Engines = nil
	for _, e := range dir.Manifest.Engines {
		if e.Stage != "mesh" || !slices.Contains(fullEngines(), e.Name) {
			m.Engines = append(m.Engines, e)
		}
	}
	dir.Manifest = &m
	body, err := Open(dir, rt.Load, Options{})
	if err != nil {
		t.Fatalf("body mode without the hand engines: %v", err)
	}
	body.Close()
	if _, err := Open(dir, rt.Load, Options{Mode: ModeFull}); err == nil || !strings.Contains(err.Error(), "mesh/decoder_prompt") {
		t.Fatalf("full mode without the hand engines: %v", err)
	}
	if _, err := ParseMode("hands"); err == nil {
		t.Fatal("ParseMode accepted a bad mode")
	}
}
