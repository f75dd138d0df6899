package amodal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/scene"
)

// testVideo is an in-memory video: a moving gradient with a bright
// block, so frames differ and depth has a range.
type testVideo struct {
	w, h, n int
}

func (v testVideo) Info() scene.VideoInfo {
	return scene.VideoInfo{Width: v.w, Height: v.h, Frames: v.n, FPS: scene.Rational{Num: 8, Den: 1}}
}

func (v testVideo) Frame(i int) (*scene.RGB, error) {
	if i < 0 || i >= v.n {
		return nil, fmt.Errorf("no frame %d", i)
	}
	img := scene.NewRGB(image.Rect(0, 0, v.w, v.h))
	for y := range v.h {
		for x := range v.w {
			r, g, b := uint8(x*255/v.w), uint8(y*255/v.h), uint8((x+y+7*i)%256)
			if x >= 2*i && x < 2*i+v.w/3 && y > v.h/4 {
				r, g, b = 250, 240, 230
			}
			img.SetRGB(x, y, r, g, b)
		}
	}
	return img, nil
}

// boxMasks gives each person a box per frame; a nil box is absent.
type boxMasks struct {
	w, h  int
	boxes map[scene.PersonID][]*image.Rectangle
	bad   map[[2]int]*scene.Mask // (frame, id) → mask to return instead
}

func (m boxMasks) People() []scene.PersonID {
	var ids []scene.PersonID
	for id := range m.boxes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (m boxMasks) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	if b, ok := m.bad[[2]int{frame, int(id)}]; ok {
		return b, nil
	}
	bs, ok := m.boxes[id]
	if !ok || frame < 0 || frame >= len(bs) {
		return nil, fmt.Errorf("no mask of %d on %d", id, frame)
	}
	r := bs[frame]
	if r == nil {
		return nil, nil
	}
	mk := scene.NewMask(m.w, m.h)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			mk.Pix[y*m.w+x] = 1
		}
	}
	return mk, nil
}

func rect(x0, y0, x1, y1 int) *image.Rectangle { r := image.Rect(x0, y0, x1, y1); return &r }

// tinyEngines loads the committed tiny amodal engines.
func tinyEngines(t testing.TB) Engines {
	t.Helper()
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: 1})
	dir := orttest.Tiny(t)
	c, err := Open(dir, rt.Load, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c.eng
}

// counted counts an engine's Run calls and can cancel a context after
// a number of them.
type counted struct {
	engine.Engine
	calls  atomic.Int64
	images atomic.Int64 // frames seen in "image" inputs (the depth engine)
	cancel func()
	after  int64
}

func (e *counted) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	n := e.calls.Add(1)
	if t, ok := in["image"]; ok {
		e.images.Add(t.Shape()[0])
	}
	if e.cancel != nil && n == e.after {
		e.cancel()
	}
	return e.Engine.Run(ctx, in)
}

// smallOptions runs the tiny engines at a small resolution.
func smallOptions(dir string) Options {
	return Options{Dir: dir, Seed: 7, Steps: 3, Window: 4, Height: 32, Width: 64, CompletionHeight: 16, CompletionWidth: 32}
}

// twoPeople: person 1 on every frame, person 3 absent on frames 1 and 5,
// person 4 never present.
func twoPeople(w, h, n int) boxMasks {
	m := boxMasks{w: w, h: h, boxes: map[scene.PersonID][]*image.Rectangle{}}
	for i := range n {
		m.boxes[1] = append(m.boxes[1], rect(4+i, 6, 20+i, 30))
		var b *image.Rectangle
		if i != 1 && i != 5 {
			b = rect(26, 4, 40, 28)
		}
		m.boxes[3] = append(m.boxes[3], b)
		m.boxes[4] = append(m.boxes[4], nil)
	}
	return m
}

// snapshot reads everything a Result serves.
type snapshot struct {
	visible map[scene.PersonID][]bool
	spans   map[scene.PersonID][]Span
	masks   map[[2]int]string
	images  map[[2]int]string
}

func snap(t *testing.T, r *Result, frames int) snapshot {
	t.Helper()
	s := snapshot{visible: r.Visible, spans: r.Spans, masks: map[[2]int]string{}, images: map[[2]int]string{}}
	for _, id := range r.Masks.People() {
		for f := range frames {
			m, err := r.Masks.Mask(f, id)
			if err != nil {
				t.Fatal(err)
			}
			if m != nil {
				s.masks[[2]int{int(id), f}] = string(m.Pix)
			}
			img, err := r.Images(id, f)
			if err != nil {
				t.Fatal(err)
			}
			if img != nil {
				s.images[[2]int{int(id), f}] = string(img.Pix)
			}
		}
	}
	return s
}

func equalSnap(a, b snapshot) bool {
	return fmt.Sprint(a.visible) == fmt.Sprint(b.visible) && fmt.Sprint(a.spans) == fmt.Sprint(b.spans) &&
		fmt.Sprint(a.masks) == fmt.Sprint(b.masks) && fmt.Sprint(a.images) == fmt.Sprint(b.images)
}

func TestCompleteTiny(t *testing.T) {
	eng := tinyEngines(t)
	video := testVideo{w: 48, h: 32, n: 6}
	masks := twoPeople(video.w, video.h, video.n)
	unet, completion := &counted{Engine: eng.UNet}, &counted{Engine: eng.UNetCompletion}
	e := eng
	e.UNet, e.UNetCompletion = unet, completion
	dir := t.TempDir()
	c, err := New(e, smallOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	var progress []int
	c.opts.Progress = func(done, total int) { progress = append(progress, done, total) }
	res, err := c.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if got := res.Masks.People(); fmt.Sprint(got) != "[1 3 4]" {
		t.Errorf("People() = %v, want [1 3 4]", got)
	}
	// 6 depth frames + 2 windows × 3 people.
	if n := len(progress); n != 2*12 || progress[n-2] != 12 || progress[n-1] != 12 {
		t.Errorf("progress %v, want 12 steps to 12", progress)
	}
	first := snap(t, res, video.n)
	for id, v := range res.Visible {
		if len(v) != video.n {
			t.Fatalf("person %d: %d visibility flags, want %d", id, len(v), video.n)
		}
	}
	for f := range video.n {
		for _, id := range []scene.PersonID{3, 4} {
			absent := id == 4 || f == 1 || f == 5
			_, hasMask := first.masks[[2]int{int(id), f}]
			_, hasImg := first.images[[2]int{int(id), f}]
			if absent && (hasMask || hasImg || res.Visible[id][f]) {
				t.Errorf("person %d frame %d: absent but mask %v image %v visible %v", id, f, hasMask, hasImg, res.Visible[id][f])
			}
			if !absent && !hasMask {
				t.Errorf("person %d frame %d: present but no mask", id, f)
			}
		}
	}
	// Person 4 is never present: no engine work for it. Persons 1 and 3
	// need the amodal pass in both windows (3 steps each), plus
	// completion where occluded.
	amodalCalls := int64(2 * 2 * 3)
	completions := 0
	for _, s := range res.Spans {
		completions += len(s)
	}
	if got := unet.calls.Load(); got != amodalCalls {
		t.Errorf("%d amodal-segmentation UNet calls, want %d", got, amodalCalls)
	}
	if got, want := completion.calls.Load(), int64(3*completions); got != want {
		t.Errorf("%d content-completion UNet calls, want %d (%d completion passes)", got, want, completions)
	}
	t.Logf("spans %v, visible %v", res.Spans, res.Visible)

	// Same seed, another directory: identical. Resume in the same
	// directory: identical, and no engine runs.
	again, err := New(eng, smallOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := again.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if !equalSnap(first, snap(t, r2, video.n)) {
		t.Error("two runs with the same seed differ")
	}
	before := unet.calls.Load()
	r3, err := c.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	if unet.calls.Load() != before {
		t.Errorf("resumed run made %d UNet calls, want 0", unet.calls.Load()-before)
	}
	if !equalSnap(first, snap(t, r3, video.n)) {
		t.Error("resumed run differs")
	}
	// Changed masks for person 1: only its windows rerun.
	moved := twoPeople(video.w, video.h, video.n)
	moved.boxes[1][0] = rect(0, 0, 10, 10)
	before = unet.calls.Load()
	if _, err := c.Complete(context.Background(), video, moved); err != nil {
		t.Fatal(err)
	}
	if got := unet.calls.Load() - before; got < 3 || got > 6 {
		t.Errorf("changing one window's masks made %d UNet calls, want that window's 3 (+3 if it completes)", got)
	}
}

func TestCompleteTempDir(t *testing.T) {
	eng := tinyEngines(t)
	video := testVideo{w: 48, h: 32, n: 3}
	opts := smallOptions("")
	c, err := New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Complete(context.Background(), video, twoPeople(video.w, video.h, video.n))
	if err != nil {
		t.Fatal(err)
	}
	dir := res.tempDir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temporary work directory: %v", err)
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close the temporary directory %s still exists (%v)", dir, err)
	}
}

// windowDirs lists finished and unfinished window directories.
func windowDirs(t *testing.T, dir string) (done, partial []string) {
	t.Helper()
	roots, _ := filepath.Glob(filepath.Join(dir, "amodal-*"))
	for _, root := range roots {
		ents, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() == "depth" {
				continue
			}
			if strings.Contains(e.Name(), ".tmp") {
				partial = append(partial, e.Name())
				continue
			}
			if _, err := os.Stat(filepath.Join(root, e.Name(), "meta.json")); err != nil {
				partial = append(partial, e.Name())
			} else {
				done = append(done, e.Name())
			}
		}
	}
	return done, partial
}

// TestCompleteCancelResume stops runs in the depth pass and inside a
// window, and resumes them.
func TestCompleteCancelResume(t *testing.T) {
	eng := tinyEngines(t)
	video := testVideo{w: 48, h: 32, n: 6}
	masks := twoPeople(video.w, video.h, video.n)
	ref, err := New(eng, smallOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	wantSnap := snap(t, want, video.n)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unet := &counted{Engine: eng.UNet, cancel: cancel, after: 5} // inside person 3's first window
	e := eng
	e.UNet = unet
	c, err := New(e, smallOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctx, video, masks); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err %v, want context.Canceled", err)
	}
	done, partial := windowDirs(t, dir)
	if len(partial) > 0 {
		t.Errorf("cancelled run left partial windows %v", partial)
	}
	if len(done) == 0 || len(done) >= 6 {
		t.Errorf("cancelled run finished windows %v, want some but not all 6", done)
	}
	before := unet.calls.Load()
	unet.cancel = nil
	got, err := c.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSnap(wantSnap, snap(t, got, video.n)) {
		t.Error("resumed run differs from an uninterrupted one")
	}
	// Finished windows are not run again.
	total := int64(2 * 2 * 3)
	for _, sp := range want.Spans {
		total += int64(3 * len(sp))
	}
	if redo := unet.calls.Load() - before; redo <= 0 || redo >= total {
		t.Errorf("resume made %d UNet calls, a full run makes %d: finished windows were not reused", redo, total)
	}
	testDepthResume(t, eng, video, masks, wantSnap)
}

// testDepthResume stops a run inside the depth range pass and checks
// that the resumed run starts after the groups its partial range covers,
// keeps no depth maps but the running window's, and gives want.
func testDepthResume(t *testing.T, eng Engines, video testVideo, masks boxMasks, want snapshot) {
	// An uninterrupted run's depth frames: the range pass, then each
	// window's frames again.
	whole := &counted{Engine: eng.Depth}
	e := eng
	e.Depth = whole
	c0, err := New(e, smallOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c0.Complete(context.Background(), video, masks); err != nil {
		t.Fatal(err)
	}
	if n := whole.images.Load(); n <= int64(video.n) {
		t.Fatalf("an uninterrupted run computed %d depth frames for %d frames: the windows computed none again", n, video.n)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	depth := &counted{Engine: eng.Depth, cancel: cancel, after: 2} // the second batch is cut off
	e.Depth = depth
	c, err := New(e, smallOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctx, video, masks); !errors.Is(err, context.Canceled) {
		t.Fatalf("run stopped in the depth pass: err %v, want context.Canceled", err)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "amodal-*", "depth", "*.f32z"))
	ranges, _ := filepath.Glob(filepath.Join(dir, "amodal-*", "depth", "range.json"))
	partials, _ := filepath.Glob(filepath.Join(dir, "amodal-*", "depth", "range-partial.json"))
	if len(saved) != 0 || len(ranges) != 0 || len(partials) != 1 {
		t.Fatalf("after stopping: %d depth maps, %d range and %d partial range files; want none, none, one", len(saved), len(ranges), len(partials))
	}
	var part depthRange
	data, err := os.ReadFile(partials[0])
	if err == nil {
		err = json.Unmarshal(data, &part)
	}
	if err != nil || part.Frames <= 0 || part.Frames >= video.n {
		t.Fatalf("partial range %+v (%v): want some frames, not all", part, err)
	}
	before := depth.images.Load()
	depth.cancel = nil
	got, err := c.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSnap(want, snap(t, got, video.n)) {
		t.Error("run resumed in the depth pass differs from an uninterrupted one")
	}
	// The frames the partial range covers are not computed again.
	if redo, full := depth.images.Load()-before, whole.images.Load(); redo != full-int64(part.Frames) {
		t.Errorf("resumed run computed %d depth frames, want %d (an uninterrupted run's %d less the %d covered)", redo, full-int64(part.Frames), full, part.Frames)
	}

	// A finished run releases the depth maps and keeps the range; running
	// again reuses every window and needs no depth at all.
	left, _ := filepath.Glob(filepath.Join(dir, "amodal-*", "depth", "*.f32z"))
	ranges, _ = filepath.Glob(filepath.Join(dir, "amodal-*", "depth", "range.json"))
	if len(left) != 0 || len(ranges) != 1 {
		t.Fatalf("after a finished run: %d depth frames and %d range files, want none and one", len(left), len(ranges))
	}
	before = depth.images.Load()
	again, err := c.Complete(context.Background(), video, masks)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSnap(want, snap(t, again, video.n)) {
		t.Error("run after release differs")
	}
	if redo := depth.images.Load() - before; redo != 0 {
		t.Errorf("run with every window reusable computed %d depth frames, want 0", redo)
	}

	// Other masks in the same directory redo windows: their depth is
	// computed again and the result is that of a fresh directory.
	other := twoPeople(video.w, video.h, video.n)
	other.boxes[1][2] = rect(8, 10, 30, 31)
	fresh, err := New(eng, smallOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	wantOther, err := fresh.Complete(context.Background(), video, other)
	if err != nil {
		t.Fatal(err)
	}
	gotOther, err := c.Complete(context.Background(), video, other)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSnap(snap(t, wantOther, video.n), snap(t, gotOther, video.n)) {
		t.Error("windows redone after the depth was released differ from a fresh run")
	}
}

// TestDepthStore: the compressed depth file gives back every bit
// (negative zero, NaN payloads, extremes), and a truncated or padded file
// is an error, not a wrong map.
func TestDepthStore(t *testing.T) {
	st, err := openStore(t.TempDir(), "k")
	if err != nil {
		t.Fatal(err)
	}
	d := []float32{0, float32(math.Copysign(0, -1)), 1, -1, math.MaxFloat32, math.SmallestNonzeroFloat32,
		math.Float32frombits(0x7fc01234), float32(math.Inf(-1)), 3.14159}
	for i := range 1000 {
		d = append(d, float32(math.Sin(float64(i)/37))*5)
	}
	if err := st.saveDepth(7, d); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.loadDepth(7, len(d))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range d {
		if math.Float32bits(got[i]) != math.Float32bits(d[i]) {
			t.Fatalf("value %d: %08x, want %08x", i, math.Float32bits(got[i]), math.Float32bits(d[i]))
		}
	}
	for _, n := range []int{len(d) - 1, len(d) + 1} {
		if _, _, err := st.loadDepth(7, n); err == nil {
			t.Errorf("%d values read as %d: no error", len(d), n)
		}
	}
	if _, ok, err := st.loadDepth(8, len(d)); ok || err != nil {
		t.Errorf("missing frame: ok %v err %v", ok, err)
	}
	raw, _ := os.ReadFile(st.depthPath(7))
	if err := os.WriteFile(st.depthPath(7), raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.loadDepth(7, len(d)); err == nil {
		t.Error("truncated file: no error")
	}
	if err := st.releaseDepth(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.loadDepth(7, len(d)); ok {
		t.Error("depth still there after release")
	}
}
