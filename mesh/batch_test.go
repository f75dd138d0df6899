package mesh

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/scene"
)

func TestIsOutOfMemory(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("shape mismatch"), false},
		{fmt.Errorf("decoder: %w", ErrOutOfMemory), true},
		{errors.New("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 1073741824"), true},
		{errors.New("CUDA failure 2: out of memory ; GPU=0"), true},
		{errors.New("CUDNN_STATUS_ALLOC_FAILED"), true},
		{errors.New("std::bad_alloc"), true},
		{errors.New("NaN in output"), false},
	} {
		if got := isOutOfMemory(c.err); got != c.want {
			t.Errorf("IsOutOfMemory(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestBatchHalving runs the stage with engines that run out of memory
// above a batch size and checks that every person on every frame is
// recovered exactly once from its own crop, and frames come out in order.
func TestBatchHalving(t *testing.T) {
	const w, h = 64, 48
	for _, c := range []struct {
		name      string
		frames    int
		people    int
		maxBatch  int
		failAbove int
		failIn    string // "backbone", "decoder" or a layer engine
	}{
		{"no failure", 3, 2, 4, 0, "backbone"},
		{"backbone fits 3", 4, 2, 8, 3, "backbone"},
		{"decoder fits 2", 3, 2, 4, 2, "decoder"},
		{"last layer fits 1", 2, 2, 4, 1, refineEngine(Layers - 1)},
		{"middle layer, more people than the batch", 1, 6, 8, 2, refineEngine(2)},
		{"batch of one never fails", 2, 1, 1, 1, "backbone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newFakeStage()
			failing := map[string]*fakeEngine{"backbone": s.backbone, "decoder": s.decoder}
			for _, l := range s.layers {
				failing[l.name] = l
			}
			failing[c.failIn].failAbove = c.failAbove
			// The ONNX Runtime wording for one engine, the sentinel for the others.
			failing["backbone"].oomErr = func(n int) error {
				return fmt.Errorf("onnxruntime: Failed to allocate memory for requested buffer of size %d", n<<20)
			}
			r := s.recoverer(t, Options{MaxBatch: c.maxBatch, FreeMemory: func() (uint64, error) { return 1 << 40, nil }})
			ids := make([]scene.PersonID, c.people)
			for i := range ids {
				ids[i] = scene.PersonID(i + 1)
			}
			masks := boxMasks{w: w, h: h, ids: ids, absent: func(f int, id scene.PersonID) bool { return (f+int(id))%4 == 0 }}
			in := Input{Frames: synthVideo{w, h, c.frames}, Masks: masks, Cameras: cameras(c.frames, w, h)}
			var got []int
			err := r.RecoverFrames(context.Background(), in, func(fr *FrameResult) error {
				got = append(got, fr.Frame)
				checkFrame(t, in, fr)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range got {
				if f != i {
					t.Fatalf("frames emitted %v, want 0..%d in order", got, c.frames-1)
				}
			}
			if len(got) != c.frames {
				t.Fatalf("emitted %d frames, want %d", len(got), c.frames)
			}
			// Every present crop went through each engine exactly once.
			crops := 0
			for f := range c.frames {
				for _, id := range ids {
					if !masks.absent(f, id) {
						crops++
					}
				}
			}
			// The engines up to the failing one run a crop again when a
			// batch is retried; from the failing one on, each crop runs
			// exactly once, and the last layer's runs are the results.
			for _, name := range []string{c.failIn, refineEngine(Layers - 1)} {
				e := failing[name]
				sum, big := 0, 0
				for _, n := range e.sizes {
					sum += n
					big = max(big, n)
				}
				if sum != crops {
					t.Errorf("%s ran %d crops in %v, want %d", name, sum, e.sizes, crops)
				}
				if f := c.failAbove; f > 0 && (big > f || big < (f+1)/2) {
					t.Errorf("%s: largest batch %d, want within [%d,%d] (batches %v)", name, big, (f+1)/2, f, e.sizes)
				}
			}
			for name, e := range failing {
				sum := 0
				for _, n := range e.sizes {
					sum += n
				}
				if sum < crops {
					t.Errorf("%s ran %d crops, fewer than the %d present", name, sum, crops)
				}
			}
			if c.failAbove > 0 && c.failAbove < c.maxBatch && failing[c.failIn].fails == 0 {
				t.Errorf("%s never ran out of memory: the test does not test halving", c.failIn)
			}
		})
	}
}

// checkFrame checks that each present person's result comes from that
// person's own crop on that frame: the fakes put the CLIFF condition in
// the shape parameters.
func checkFrame(t *testing.T, in Input, fr *FrameResult) {
	t.Helper()
	for _, p := range fr.People {
		m, _ := in.Masks.Mask(fr.Frame, p.ID)
		if p.Present != (m != nil) {
			t.Fatalf("frame %d person %d: present %v, mask %v", fr.Frame, p.ID, p.Present, m != nil)
		}
		if m == nil {
			continue
		}
		box, _ := boxFromMask(m)
		crop, _ := newBodyCrop(box)
		want := crop.Condition(in.Cameras[fr.Frame])
		if got := [3]float32(p.Params.Shape[:3]); got != want {
			t.Fatalf("frame %d person %d: result of crop %v, want %v", fr.Frame, p.ID, got, want)
		}
		if p.Params.Focal != in.Cameras[fr.Frame].Fx {
			t.Fatalf("frame %d person %d: focal %v, want %v", fr.Frame, p.ID, p.Params.Focal, in.Cameras[fr.Frame].Fx)
		}
	}
}

// TestBatchOOMAtOne: a batch of one that still runs out of memory is an
// error, not an endless retry.
func TestBatchOOMAtOne(t *testing.T) {
	s := newFakeStage()
	r := s.recoverer(t, Options{MaxBatch: 4})
	always := &alwaysOOM{}
	r.layers[0] = always
	in := Input{Frames: synthVideo{32, 32, 2}, Masks: boxMasks{w: 32, h: 32, ids: []scene.PersonID{1, 2}}, Cameras: cameras(2, 32, 32)}
	err := r.Recover(context.Background(), in, func(int, []scene.Person) error { return nil })
	if !isOutOfMemory(err) {
		t.Fatalf("err = %v, want out of memory", err)
	}
	// Frames 0 and 1 make one window of 4 crops: batch 4, 2, 1, then give up.
	if !reflect.DeepEqual(always.sizes, []int{4, 2, 1}) {
		t.Errorf("batch sizes tried %v, want [4 2 1]", always.sizes)
	}
}

type alwaysOOM struct{ sizes []int }

func (a *alwaysOOM) Info() engine.Info { return engine.Info{} }
func (a *alwaysOOM) Close() error      { return nil }
func (a *alwaysOOM) Run(_ context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	a.sizes = append(a.sizes, int(in["prev_tokens"].Shape()[0]))
	return nil, errors.New("CUDA error: out of memory")
}

// TestResume: a second run over the same work directory reads every
// frame back without running an engine; removing one frame's file makes
// the crops of exactly that frame's window (the frames batched with it)
// run again.
func TestResume(t *testing.T) {
	const w, h, n = 48, 40, 6
	dir := t.TempDir()
	masks := boxMasks{w: w, h: h, ids: []scene.PersonID{2, 5}, absent: func(f int, id scene.PersonID) bool { return f == 3 && id == 5 }}
	in := Input{Frames: synthVideo{w, h, n}, Masks: masks, Cameras: cameras(n, w, h)}
	collect := func(r *Recoverer) []*FrameResult {
		var out []*FrameResult
		if err := r.RecoverFrames(context.Background(), in, func(fr *FrameResult) error {
			out = append(out, fr)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := collect(newFakeStage().recoverer(t, Options{Dir: dir, MaxBatch: 3}))

	s := newFakeStage()
	again := collect(s.recoverer(t, Options{Dir: dir, MaxBatch: 3}))
	if len(s.backbone.sizes) != 0 {
		t.Errorf("resumed run ran the backbone on %v crops", s.backbone.sizes)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("resumed results differ from the first run's")
	}

	// Frames 4 and 5 (2 crops each) ran as one window. Removing frame 5,
	// as a kill between the two saves would, makes the whole window run
	// again, not frame 5 alone in another batch.
	if err := os.Remove(filepath.Join(dir, "mesh_00000005.json")); err != nil {
		t.Fatal(err)
	}
	// A torn temporary file from a crash must not be read as a frame.
	if err := os.WriteFile(filepath.Join(dir, ".mesh_123.tmp"), []byte(`{"frame":`), 0o644); err != nil {
		t.Fatal(err)
	}
	s = newFakeStage()
	third := collect(s.recoverer(t, Options{Dir: dir, MaxBatch: 3}))
	crops := 0
	for _, n := range s.backbone.sizes {
		crops += n
	}
	if crops != 4 {
		t.Errorf("after removing frame 5, backbone ran %v, want the 4 crops of frames 4 and 5", s.backbone.sizes)
	}
	if !reflect.DeepEqual(first, third) {
		t.Errorf("recomputed frames differ from the first run's")
	}
	for _, fr := range third {
		checkFrame(t, in, fr)
	}
}

func TestRecoverBadInput(t *testing.T) {
	const w, h = 32, 24
	r := newFakeStage().recoverer(t, Options{})
	base := Input{Frames: synthVideo{w, h, 2}, Masks: boxMasks{w: w, h: h, ids: []scene.PersonID{1}}, Cameras: cameras(2, w, h)}
	run := func(in Input) error {
		return r.Recover(context.Background(), in, func(int, []scene.Person) error { return nil })
	}
	if err := run(base); err != nil {
		t.Fatalf("good input: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Input)
		want string
	}{
		{"cameras", func(in *Input) { in.Cameras = in.Cameras[:1] }, "1 cameras for 2 frames"},
		{"bad camera", func(in *Input) { in.Cameras[1].Fx = 0 }, "frame 1: camera"},
		{"mask size", func(in *Input) { in.Masks = boxMasks{w: w + 1, h: h, ids: []scene.PersonID{1}} }, "frame 0 person 1: mask is 33×24"},
		{"frame size", func(in *Input) { in.Frames = sizedFrames{synthVideo{w, h, 2}, 1} }, "frame 1 is"},
		{"completed image", func(in *Input) {
			in.Amodal = &scene.Amodal{Images: func(scene.PersonID, int) (*scene.RGB, error) { return scene.NewRGB(image.Rect(0, 0, 5, 5)), nil }}
		}, "completed image is 5×5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := base
			in.Cameras = cameras(2, w, h)
			c.edit(&in)
			err := run(in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// sizedFrames returns a smaller frame at index bad.
type sizedFrames struct {
	synthVideo
	bad int
}

func (s sizedFrames) Frame(i int) (*scene.RGB, error) {
	if i == s.bad {
		return scene.NewRGB(image.Rect(0, 0, s.w/2, s.h)), nil
	}
	return s.synthVideo.Frame(i)
}

func TestNaNFromEngineNamesPerson(t *testing.T) {
	s := newFakeStage()
	run := s.layers[2].run
	s.layers[2].run = func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
		out := run(in, n)
		out["pose"].Float32()[NumPose+10] = float32(math.NaN()) // second crop of the batch
		return out
	}
	r := s.recoverer(t, Options{MaxBatch: 8})
	in := Input{Frames: synthVideo{40, 30, 1}, Masks: boxMasks{w: 40, h: 30, ids: []scene.PersonID{3, 4}}, Cameras: cameras(1, 40, 30)}
	err := r.Recover(context.Background(), in, func(int, []scene.Person) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "frame 0 person 4") || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("err = %v, want a NaN error naming frame 0 person 4", err)
	}
}

func TestRecoverCancel(t *testing.T) {
	r := newFakeStage().recoverer(t, Options{MaxBatch: 1})
	in := Input{Frames: synthVideo{32, 24, 5}, Masks: boxMasks{w: 32, h: 24, ids: []scene.PersonID{1}}, Cameras: cameras(5, 32, 24)}
	ctx, cancel := context.WithCancel(context.Background())
	var frames []int
	err := r.Recover(ctx, in, func(f int, _ []scene.Person) error {
		frames = append(frames, f)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(frames) != 1 {
		t.Fatalf("err = %v after frames %v, want context.Canceled after frame 0", err, frames)
	}
}

// TestCompletedImages: a person's crop is cut from the completed image
// where amodal completion gives one, and from the frame elsewhere.
func TestCompletedImages(t *testing.T) {
	const w, h = 40, 30
	s := newFakeStage()
	var sums []float64
	run := s.backbone.run
	s.backbone.run = func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
		img := in["image"].Float32()
		per := len(img) / n
		for b := range n {
			var sum float64
			for _, v := range img[b*per : (b+1)*per] {
				sum += float64(v)
			}
			sums = append(sums, sum)
		}
		return run(in, n)
	}
	r := s.recoverer(t, Options{MaxBatch: 8})
	white := scene.NewRGB(image.Rect(0, 0, w, h))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	in := Input{Frames: synthVideo{w, h, 1}, Masks: boxMasks{w: w, h: h, ids: []scene.PersonID{1, 2}}, Cameras: cameras(1, w, h)}
	if err := r.Recover(context.Background(), in, func(int, []scene.Person) error { return nil }); err != nil {
		t.Fatal(err)
	}
	plain := append([]float64(nil), sums...)
	sums = nil
	in.Amodal = &scene.Amodal{Images: func(id scene.PersonID, f int) (*scene.RGB, error) {
		if id == 2 {
			return white, nil
		}
		return nil, nil
	}}
	if err := r.Recover(context.Background(), in, func(int, []scene.Person) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0] != plain[0] || sums[1] == plain[1] {
		t.Fatalf("crop sums %v with a completed image for person 2, %v without", sums, plain)
	}
}
