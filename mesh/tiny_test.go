package mesh

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

var tinyDir = filepath.Join("..", "sample", "models", "tiny")

// openTiny opens the stage on the committed tiny model set with ONNX
// Runtime (installed into .deps by scripts/setup.sh).
func openTiny(t testing.TB, opts Options) *Recoverer {
	t.Helper()
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: 1})
	dir, err := models.Open(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, rt.Load, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// stageClip is tools/golden/mesh/stage.py's clip: two frames, two people.
type stageClip struct{}

const stageW, stageH = 160, 120

var stageRects = map[scene.PersonID][2][4]int{
	1: {{30, 20, 70, 110}, {34, 22, 76, 112}},
	2: {{90, 50, 150, 80}, {0, 0, 20, 30}},
}

func (stageClip) Info() scene.VideoInfo {
	return scene.VideoInfo{Width: stageW, Height: stageH, FPS: scene.Rational{Num: 25, Den: 1}, Frames: 2}
}

func (stageClip) Frame(i int) (*scene.RGB, error) {
	return formulaRGB(stageW, stageH, func(x, y, c int) int { return 5*x + 11*y + 37*c + 3*i + (x*y)%13 }), nil
}

func (stageClip) People() []scene.PersonID { return []scene.PersonID{1, 2} }

func (stageClip) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	return rectMask(stageW, stageH, stageRects[id][frame]), nil
}

func stageInput() Input {
	var c stageClip
	return Input{Frames: c, Masks: c, Cameras: []scene.Intrinsics{
		scene.DefaultIntrinsics(stageW, stageH), scene.DefaultIntrinsics(stageW, stageH)}}
}

// TestTinyStage runs the whole stage on the tiny engines and compares
// with the reference's pre/post-processing around the same engines in
// Python (tools/golden/mesh/stage.py).
func TestTinyStage(t *testing.T) {
	r := openTiny(t, Options{MaxBatch: 3})
	get := openNPZ(t, "stage.npz").f64
	worst := map[string]float64{}
	err := r.RecoverFrames(context.Background(), stageInput(), func(fr *FrameResult) error {
		for _, p := range fr.People {
			if !p.Present {
				t.Fatalf("frame %d person %d not present", fr.Frame, p.ID)
			}
			key := fmt.Sprintf("f%d_p%d_", fr.Frame, p.ID)
			var kp2, kp3, hb []float64
			for _, k := range p.Keypoints2D {
				// Pixel positions relative to the frame's size.
				kp2 = append(kp2, float64(k[0])/(stageW+stageH), float64(k[1])/(stageW+stageH))
			}
			for _, k := range p.Keypoints3D {
				kp3 = append(kp3, float64(k[0]), float64(k[1]), float64(k[2]))
			}
			for _, b := range p.HandBoxes {
				for _, v := range b {
					hb = append(hb, float64(v))
				}
			}
			want2 := get(key + "kp2d")
			for i := range want2 {
				want2[i] /= stageW + stageH
			}
			for _, c := range []struct {
				name      string
				got, want []float64
			}{
				{"model", f64s(p.Params.Model[:]), get(key + "model")},
				{"shape", f64s(p.Params.Shape[:]), get(key + "shape")},
				{"cam_t", p.Params.CamT[:], get(key + "cam_t")},
				{"kp2d", kp2, want2},
				{"kp3d", kp3, get(key + "kp3d")},
				{"hand_boxes", hb, get(key + "hand_boxes")},
			} {
				worst[c.name] = max(worst[c.name], compare(t, key+c.name, c.got, c.want, goldenTol))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max relative error vs the Python re-run: %v", worst)
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestTinyMeshes checks the Body adapter on the stage's output: the mesh
// is MHR's vertices in the camera frame plus the camera translation.
func TestTinyMeshes(t *testing.T) {
	r := openTiny(t, Options{Meshes: true})
	n := 0
	err := r.Recover(context.Background(), stageInput(), func(frame int, people []scene.Person) error {
		for _, p := range people {
			m := p.Mesh
			if m == nil || m.Validate() != nil || m.NumVertices() != 300 || m.NumFaces() != 500 {
				return fmt.Errorf("frame %d person %d: bad mesh %v", frame, p.ID, m)
			}
			out, err := r.body.Forward([]mhr.Input{{Identity: p.Params.Shape[:], Model: p.Params.Model[:]}})
			if err != nil {
				return err
			}
			v := out[0].Verts
			// Vertex 0: x/100 + tx, −y/100 + ty, −z/100 + tz.
			want := [3]float64{float64(v[0])/100 + p.Params.CamT[0], -float64(v[1])/100 + p.Params.CamT[1], -float64(v[2])/100 + p.Params.CamT[2]}
			for c := range 3 {
				if relErr(float64(m.Vertices[c]), want[c]) > 1e-6 {
					return fmt.Errorf("frame %d person %d: vertex 0 is %v, want %v", frame, p.ID, m.Vertices[:3], want)
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("checked %d meshes, want 4", n)
	}
}

var _ engine.Engine = (*fakeEngine)(nil)
