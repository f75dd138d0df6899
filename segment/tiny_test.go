package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// openTiny opens the tracker on sample/models/tiny (random weights with
// the engines' contracts). Without the ONNX Runtime library the test
// fails unless BODY4D_SKIP_ORT=1.
func openTiny(t testing.TB, dir string, opts Options) *Tracker {
	t.Helper()
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: benchThreads(t)})
	d, err := models.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Open(d, rt.Load, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	})
	return tr
}

// benchThreads is ONNX Runtime's intra-op thread count for the tests:
// BODY4D_BENCH_THREADS if set (benchmarks compare settings with it), else
// 0, ONNX Runtime's default.
func benchThreads(t testing.TB) int {
	s := os.Getenv("BODY4D_BENCH_THREADS")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("BODY4D_BENCH_THREADS=%q: want a count >= 0", s)
	}
	return n
}

var tinyDir = filepath.Join("..", "sample", "models", "tiny")

// pngFrames is a FrameSource over numbered PNG files, counting reads.
type pngFrames struct {
	paths []string
	info  scene.VideoInfo
	reads []int
}

func loadFrames(t testing.TB, dir string, n int) *pngFrames {
	t.Helper()
	f := &pngFrames{info: scene.VideoInfo{FPS: scene.Rational{Num: 30000, Den: 1001}, Frames: n}, reads: make([]int, n)}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("%03d.png", i))
		if i == 0 {
			img, err := readPNG(p)
			if err != nil {
				t.Fatal(err)
			}
			f.info.Width, f.info.Height = img.Rect.Dx(), img.Rect.Dy()
		}
		f.paths = append(f.paths, p)
	}
	return f
}

func readPNG(path string) (*scene.RGB, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	img, err := png.Decode(r)
	if err != nil {
		return nil, err
	}
	return scene.FromImage(img), nil
}

func (f *pngFrames) Info() scene.VideoInfo { return f.info }
func (f *pngFrames) Frame(i int) (*scene.RGB, error) {
	if i < 0 || i >= len(f.paths) {
		return nil, fmt.Errorf("no frame %d", i)
	}
	f.reads[i]++
	return readPNG(f.paths[i])
}

var clipFrames = filepath.Join("..", "testdata", "segment", "frames")

// scoreEngine shifts the mask decoder's object scores, so that a test
// can make the random tiny decoder see people (or not).
type scoreEngine struct {
	engine.Engine
	add float32
}

func (e scoreEngine) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	out, err := e.Engine.Run(ctx, in)
	if err == nil {
		for i := range out["obj_score"].Float32() {
			out["obj_score"].Float32()[i] += e.add
		}
	}
	return out, err
}

// withScore returns tr with its decoder's scores shifted by add.
func withScore(t testing.TB, tr *Tracker, add float32, opts Options) *Tracker {
	e := tr.eng
	e.MaskDecoder = scoreEngine{e.MaskDecoder, add}
	out, err := New(e, tr.consts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTinyEndToEnd tracks two people of the sample clip with the tiny
// engines (decoder scores shifted so that people are seen) and checks
// what holds whatever the weights: every frame has an output per person
// at the frame's size, a person not clicked on another person's clicked
// frame has no estimate there, results from memory and from a work
// directory are bit-identical (and so deterministic), each frame is
// decoded once, and the memory the tracker reports follows the
// reference's rules.
func TestTinyEndToEnd(t *testing.T) {
	const n = 3
	prompts := scene.Prompts{Clicks: []scene.Click{
		{Frame: 0, X: 90, Y: 175, Person: 1},
		{Frame: 0, X: 520, Y: 172, Person: 2},
		{Frame: 0, X: 500, Y: 100, Person: 2, Negative: true},
		{Frame: 2, X: 120, Y: 175, Person: 1},
	}}
	base := openTiny(t, tinyDir, Options{})
	run := func(dir string) (*Masks, []FrameReport, *pngFrames) {
		var reps []FrameReport
		tr := withScore(t, base, 100, Options{Dir: dir, OnFrame: func(r FrameReport) { reps = append(reps, r) }})
		frames := loadFrames(t, clipFrames, n)
		ms, err := tr.Segment(context.Background(), frames, prompts)
		if err != nil {
			t.Fatal(err)
		}
		return ms.(*Masks), reps, frames
	}
	a, reps, frames := run("")
	b, _, _ := run(t.TempDir())
	for i, c := range frames.reads {
		if c != 1 {
			t.Errorf("frame %d read %d times, want 1", i, c)
		}
	}
	if got := fmt.Sprint(a.People()); got != "[1 2]" {
		t.Fatalf("people %s", got)
	}
	if len(reps) != n {
		t.Fatalf("%d frame reports for %d frames", len(reps), n)
	}
	for i, r := range reps {
		if r.Frame != i || r.Reverse {
			t.Errorf("report %d is frame %d (reverse %v); want forward frames in order", i, r.Frame, r.Reverse)
		}
		if r.Clicked != (r.Frame == 0 || r.Frame == 2) {
			t.Errorf("frame %d: clicked %v", r.Frame, r.Clicked)
		}
		if r.Clicked {
			continue
		}
		if fmt.Sprint(r.CondFrames) != "[0 2]" {
			t.Errorf("frame %d: conditioning memories %v, want [0 2]", r.Frame, r.CondFrames)
		}
		// No recent memory for frame 1: frame 0 is clicked, and the
		// frame filter never walks to frame 0 (TestGoldenMemory checks the
		// rules in depth). Pointers: clicked frame 0 only.
		if len(r.RecentFrames) != 0 || fmt.Sprint(r.PointerFrames) != "[0]" {
			t.Errorf("frame %d: recent memories %v, pointers %v; want none and [0]", r.Frame, r.RecentFrames, r.PointerFrames)
		}
	}
	for f := range n {
		for _, id := range a.People() {
			ma, err := a.Mask(f, id)
			if err != nil {
				t.Fatal(err)
			}
			mb, err := b.Mask(f, id)
			if err != nil {
				t.Fatal(err)
			}
			score, est, err := a.Score(f, id)
			if err != nil {
				t.Fatal(err)
			}
			if placeholder := f == 2 && id == 2; est == placeholder {
				t.Errorf("frame %d person %d: estimated %v", f, id, est)
			}
			if !est {
				if ma != nil {
					t.Errorf("frame %d person %d: a mask without an estimate", f, id)
				}
				continue
			}
			if !(score > 0) || ma == nil || mb == nil {
				t.Fatalf("frame %d person %d: score %v, masks nil %v %v; want a person seen", f, id, score, ma == nil, mb == nil)
			}
			if ma.W != 640 || ma.H != 360 || len(ma.Pix) != 640*360 {
				t.Errorf("mask %dx%d", ma.W, ma.H)
			}
			if !bytes.Equal(ma.Pix, mb.Pix) {
				t.Fatalf("frame %d person %d: masks from memory and from the work directory differ", f, id)
			}
			if _, err := b.Logits(f, id); err == nil {
				t.Errorf("frame %d person %d: logits from a work directory: no error", f, id)
			}
		}
	}
	if _, err := a.Mask(n, 1); err == nil {
		t.Error("mask of a frame beyond the video: no error")
	}
	if _, err := a.Mask(0, 9); err == nil {
		t.Error("mask of an untracked person: no error")
	}
}

// TestTinyAbsent: a person the decoder scores absent gets nil masks, its
// low-res logits all −1024, and its score is still reported; the person
// clicked on a later frame is tracked backward too.
func TestTinyAbsent(t *testing.T) {
	var reps []FrameReport
	tr := withScore(t, openTiny(t, tinyDir, Options{}), -50, Options{OnFrame: func(r FrameReport) { reps = append(reps, r) }})
	frames := loadFrames(t, clipFrames, 3)
	ms, err := tr.Segment(context.Background(), frames, scene.Prompts{Clicks: []scene.Click{{Frame: 1, X: 90, Y: 175, Person: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	m := ms.(*Masks)
	for f := range 3 {
		mask, err := m.Mask(f, 1)
		if err != nil {
			t.Fatal(err)
		}
		score, est, _ := m.Score(f, 1)
		if mask != nil || !est || score > 0 {
			t.Errorf("frame %d: mask %v, estimated %v, score %v; want absent", f, mask != nil, est, score)
		}
		l, _ := m.Logits(f, 1)
		for _, v := range l {
			if v != noObjScore {
				t.Fatalf("frame %d: logit %v of an absent person", f, v)
			}
		}
	}
	var order []string
	for _, r := range reps {
		order = append(order, fmt.Sprintf("%d%v", r.Frame, map[bool]string{true: "b", false: "f"}[r.Reverse]))
	}
	if got := strings.Join(order, " "); got != "1f 2f 0b" {
		t.Errorf("propagation order %s, want 1f 2f 0b", got)
	}
	// Backward from frame 1, frame 0 reads the frame after it: clicked
	// frame 1 as conditioning memory, tracked frame 2 is not selectable
	// (absent: effective IoU 0) but frame 1 is the must-include one.
	if r := reps[2]; fmt.Sprint(r.CondFrames) != "[1]" || len(r.RecentFrames) != 0 || r.EffIoU != 0 {
		t.Errorf("frame 0 backward: %+v", r)
	}
}

// TestTinyBadInput: prompts the tracker cannot follow fail with an error
// naming the frame or person, before any engine runs.
func TestTinyBadInput(t *testing.T) {
	tr := openTiny(t, tinyDir, Options{})
	frames := loadFrames(t, clipFrames, 2)
	for _, tc := range []struct {
		name    string
		prompts scene.Prompts
		want    string
	}{
		{"none", scene.Prompts{}, "no prompts"},
		{"frame beyond video", scene.Prompts{Clicks: []scene.Click{{Frame: 2, X: 10, Y: 10, Person: 1}}}, "frame 2 does not exist (video has 2 frames)"},
		{"outside frame", scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 700, Y: 10, Person: 1}}}, "outside the 640x360 frame"},
		{"person 0", scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 1, Y: 1, Person: 0}}}, "person id 0"},
		{"only negative", scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 1, Y: 1, Person: 2, Negative: true}}}, "person 2 has only negative clicks"},
		{"conflicting labels", scene.Prompts{Clicks: []scene.Click{
			{Frame: 1, X: 5, Y: 5, Person: 1}, {Frame: 1, X: 5, Y: 5, Person: 1, Negative: true}}}, "person 1 has both a positive and a negative click at (5,5) on frame 1"},
		{"two boxes", scene.Prompts{Boxes: []scene.Box{
			{Frame: 0, X0: 1, Y0: 1, X1: 5, Y1: 5, Person: 1}, {Frame: 0, X0: 2, Y0: 2, X1: 6, Y1: 6, Person: 1}}}, "two boxes on frame 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprint(frames.reads)
			_, err := tr.Segment(context.Background(), frames, tc.prompts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if fmt.Sprint(frames.reads) != before {
				t.Error("frames were read before the prompts were checked")
			}
		})
	}
	// A person added after tracking started is refused (the reference's
	// rule); the session keeps its results.
	s, err := tr.NewSession(frames)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 90, Y: 175, Person: 1}}}); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Propagate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Add(context.Background(), scene.Prompts{Clicks: []scene.Click{{Frame: 1, X: 90, Y: 175, Person: 2}}})
	if err == nil || !strings.Contains(err.Error(), "person 2") {
		t.Fatalf("new person after tracking: error %v", err)
	}
	if _, _, err := ms.Score(1, 1); err != nil {
		t.Errorf("earlier results lost: %v", err)
	}
}

// nanEngine wraps an engine and poisons one output.
type nanEngine struct {
	engine.Engine
	output string
}

func (e nanEngine) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	out, err := e.Engine.Run(ctx, in)
	if err == nil {
		out[e.output].Float32()[7] = float32(nanValue())
	}
	return out, err
}

func nanValue() float64 { var z float64; return z / z }

// TestTinyEngineNaN: an engine output with NaN is an error naming the
// frame and the engine.
func TestTinyEngineNaN(t *testing.T) {
	tr := openTiny(t, tinyDir, Options{})
	e := tr.eng
	e.MemoryAttention = nanEngine{e.MemoryAttention, "pix_feat_with_mem"}
	bad, err := New(e, tr.consts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	frames := loadFrames(t, clipFrames, 2)
	_, err = bad.Segment(context.Background(), frames, scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 90, Y: 175, Person: 1}}})
	var mm *engine.Mismatch
	if err == nil || !errors.As(err, &mm) || !strings.Contains(err.Error(), "frame 1: memory_attention") {
		t.Fatalf("error %v, want a value mismatch naming frame 1 and memory_attention", err)
	}
}
