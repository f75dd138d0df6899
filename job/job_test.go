package job

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/body4d/body4d"
	"github.com/body4d/body4d/scene"
)

func TestSmootherModes(t *testing.T) {
	for _, mode := range []string{"", "kalman", "oneeuro", "reference"} {
		if s, err := smoother(mode); err != nil || s == nil {
			t.Errorf("smoother(%q) = %v, %v", mode, s, err)
		}
	}
	if s, err := smoother("off"); err != nil || s != nil {
		t.Errorf(`smoother("off") = %v, %v; want nil, nil`, s, err)
	}
	if _, err := smoother("kalmann"); err == nil || !strings.Contains(err.Error(), `"kalmann"`) {
		t.Errorf("unknown mode: err %v", err)
	}
}

func TestCameraNote(t *testing.T) {
	if n := (cameraSolves{estimated: 8}).note(); n != "" {
		t.Errorf("no ill-conditioned solve, note %q", n)
	}
	n := cameraSolves{estimated: 8, ill: []int{3, 40}}.note()
	if !strings.Contains(n, "on 2 of 8 frames estimated") || !strings.Contains(n, "--fovx DEG") {
		t.Errorf("note %q: want the counts and the --fovx advice", n)
	}
}

func TestKeyChangesWithInputs(t *testing.T) {
	a := key("segment", scene.Prompts{Clicks: []scene.Click{{X: 1, Y: 2, Person: 1}}})
	b := key("segment", scene.Prompts{Clicks: []scene.Click{{X: 1, Y: 3, Person: 1}}})
	if a == b || a != key("segment", scene.Prompts{Clicks: []scene.Click{{X: 1, Y: 2, Person: 1}}}) {
		t.Errorf("keys %s %s: want different for different clicks, same for same", a, b)
	}
}

func TestBadSpec(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no video", Spec{Out: t.TempDir()}, "no video"},
		{"no out", Spec{Video: "x.mp4"}, "no output directory"},
		{"missing video", Spec{Video: filepath.Join(t.TempDir(), "missing.mp4"), Out: t.TempDir(),
			Prompts: scene.Prompts{Clicks: []scene.Click{{Person: 1}}}}, "missing.mp4"},
		{"bad models", Spec{Video: "x.mp4", Out: t.TempDir(), Models: t.TempDir()}, "manifest"},
		{"bad device", Spec{Video: "x.mp4", Out: t.TempDir(), Device: "tpu"}, `"tpu"`},
		{"bad smoothing", Spec{Video: sampleClip(t), Out: t.TempDir(), Stages: Stages{Smooth: "median"},
			Prompts: scene.Prompts{Clicks: []scene.Click{{X: 10, Y: 10, Person: 1}}}}, `"median"`},
		{"bad mesh mode", Spec{Video: sampleClip(t), Out: t.TempDir(), Stages: Stages{Mesh: "hands"},
			Prompts: scene.Prompts{Clicks: []scene.Click{{X: 10, Y: 10, Person: 1}}}}, `"hands"`},
		{"click outside", Spec{Video: sampleClip(t), Out: t.TempDir(),
			Prompts: scene.Prompts{Clicks: []scene.Click{{X: 900, Y: 10, Person: 1}}}}, "outside the 640x360 frame"},
		{"auto with masks", Spec{Video: shortClip(t, 3), FPS: scene.Rational{Num: 30, Den: 1}, Out: t.TempDir(),
			Masks: shortMasks(t, 3), Auto: &Auto{}}, "cannot be combined with masks"},
		{"auto, other concept", Spec{Video: sampleClip(t), Out: t.TempDir(), Frames: 2, Auto: &Auto{Concept: "dog"}}, `concept "dog"`},
		{"auto, bad interval", Spec{Video: sampleClip(t), Out: t.TempDir(), Frames: 2, Auto: &Auto{Redetect: -2}}, "redetect interval -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(ctx, tc.spec, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v; want it to mention %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(tc.spec.Out, "result.mp4")); tc.spec.Out != "" && err == nil {
				t.Error("a failed job left result.mp4")
			}
		})
	}
}

func sampleClip(t *testing.T) string {
	t.Helper()
	dir, err := SampleDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "clip", "sample.mp4")
}

func TestWritePLY(t *testing.T) {
	m := &scene.Mesh{Vertices: []float32{0, 0, 1, 1, 0, 1, 0, 1, 1.5}, Faces: []uint32{0, 1, 2}}
	p := filepath.Join(t.TempDir(), "m.ply")
	if err := writePLY(p, m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(data, []byte("end_header\n"))
	if !ok || !bytes.Contains(head, []byte("element vertex 3\n")) || !bytes.Contains(head, []byte("element face 1\n")) {
		t.Fatalf("header %q", head)
	}
	if len(body) != 3*12+13 {
		t.Fatalf("body is %d bytes, want %d", len(body), 3*12+13)
	}
	if z := math.Float32frombits(binary.LittleEndian.Uint32(body[32:])); z != 1.5 {
		t.Errorf("third vertex z = %g, want 1.5", z)
	}
	if body[36] != 3 || binary.LittleEndian.Uint32(body[37+8:]) != 2 {
		t.Errorf("face record % x", body[36:])
	}
}

type maskMap map[scene.PersonID]*scene.Mask

func (m maskMap) People() []scene.PersonID {
	var ids []scene.PersonID
	for id := range m {
		ids = append(ids, id)
	}
	return ids
}
func (m maskMap) Mask(_ int, id scene.PersonID) (*scene.Mask, error) { return m[id], nil }

func TestPaintMasks(t *testing.T) {
	img := scene.NewRGB(imageRect(4, 2))
	m := scene.NewMask(4, 2)
	m.Pix[1] = 1
	if err := paintMasks(img, maskMap{1: m, 2: nil}, 0); err != nil {
		t.Fatal(err)
	}
	if img.Pix[3] == 0 && img.Pix[4] == 0 && img.Pix[5] == 0 {
		t.Error("masked pixel not painted")
	}
	for i, v := range img.Pix {
		if (i < 3 || i >= 6) && v != 0 {
			t.Fatalf("unmasked byte %d painted: %d", i, v)
		}
	}
	if err := paintMasks(img, maskMap{3: scene.NewMask(3, 2)}, 0); err == nil || !strings.Contains(err.Error(), "3x2") {
		t.Errorf("wrong-size mask: err %v", err)
	}
}

func imageRect(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) }

func TestKeypointsProjection(t *testing.T) {
	K := scene.Intrinsics{Fx: 100, Fy: 200, Cx: 50, Cy: 60}
	got := keypoints(7, []float32{1, 2, 4, 0, 0, -1}, K)
	if got.Frame != 7 || len(got.KP3D) != 2 || len(got.KP2D) != 2 {
		t.Fatalf("%+v", got)
	}
	if p := got.KP2D[0]; p == nil || p[0] != 75 || p[1] != 160 {
		t.Errorf("front point projects to %v, want (75, 160)", p)
	}
	if got.KP2D[1] != nil {
		t.Errorf("point behind the camera projects to %v, want null", got.KP2D[1])
	}
}

func TestParamsNPZ(t *testing.T) {
	tr := body4d.Track{ID: 2, Start: 5, Params: make([]body4d.Params, 3), Present: []bool{true, false, true}, Visible: []bool{true, false, false}}
	tr.Params[2].Model[203] = 1.5
	tr.Params[1].CamT = [3]float64{0, 0, 4}
	p := filepath.Join(t.TempDir(), "params.npz")
	if err := writeParamsNPZ(p, tr); err != nil {
		t.Fatal(err)
	}
	r, err := npz.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Header("model.npy").Descr.Shape; len(got) != 2 || got[0] != 3 || got[1] != 204 {
		t.Errorf("model shape %v, want [3 204]", got)
	}
	var model []float32
	if err := r.Read("model.npy", &model); err != nil {
		t.Fatal(err)
	}
	var frames []int64
	if err := r.Read("frame.npy", &frames); err != nil {
		t.Fatal(err)
	}
	var camT []float64
	if err := r.Read("cam_t.npy", &camT); err != nil {
		t.Fatal(err)
	}
	if model[2*204+203] != 1.5 || frames[0] != 5 || frames[2] != 7 || camT[5] != 4 {
		t.Errorf("model[2,203] %g, frames %v, cam_t %v", model[2*204+203], frames, camT)
	}
}

// TestRemoveAbandoned: a killed run's temporary files go, everything
// else stays.
func TestRemoveAbandoned(t *testing.T) {
	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "people", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	gone := []string{".result.mp4.123.tmp", "summary.json.tmp", filepath.Join("people", "1", "params.npz.tmp")}
	kept := []string{"result.mp4", "summary.json", filepath.Join("people", "1", "params.npz")}
	for _, p := range append(slices.Clone(gone), kept...) {
		if err := os.WriteFile(filepath.Join(out, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeAbandoned(out); err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			t.Errorf("%s left", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if err := removeAbandoned(filepath.Join(out, "absent")); err != nil {
		t.Errorf("no output directory yet: %v", err)
	}
}

// TestAutoRun: auto mode on the tiny models finds the tiny detector's two
// people on frame 0, matches them on frame 2 (no new ids), and the job
// writes both people's meshes.
func TestAutoRun(t *testing.T) {
	out := t.TempDir()
	spec := Spec{Video: shortClip(t, 3), FPS: scene.Rational{Num: 30, Den: 1}, Out: out, Auto: &Auto{Redetect: 2},
		Stages: Stages{NoAmodal: true, NoCamera: true}}
	sum, err := Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := sum.Auto
	if a == nil || !slices.Equal(a.Detected, []int{0, 2}) || len(a.People) != 2 {
		t.Fatalf("auto summary %+v: want detections on frames 0 and 2 and two people", a)
	}
	for i, p := range a.People {
		if p.ID != scene.PersonID(i+1) || p.FirstFrame != 0 || p.Score < 0.7 || p.Clicked {
			t.Errorf("person %+v: want id %d found on frame 0 with a score ≥ 0.7", p, i+1)
		}
	}
	if len(sum.People) != 2 || sum.People[0].Frames != 3 || sum.People[1].Frames != 3 {
		t.Errorf("people outputs %+v: want 2 people with 3 meshes each", sum.People)
	}
}
