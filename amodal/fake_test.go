package amodal

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// fakeEngine satisfies a stage contract and computes outputs in Go.
type fakeEngine struct {
	info engine.Info
	run  func(in map[string]*engine.Tensor) (map[string]*engine.Tensor, error)
	mu   sync.Mutex
	seen []engine.Shape // the first input's shape per call
}

func (f *fakeEngine) Info() engine.Info { return f.info }
func (f *fakeEngine) Close() error      { return nil }
func (f *fakeEngine) Run(_ context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	f.mu.Lock()
	f.seen = append(f.seen, in[f.info.Inputs[0].Name].Shape())
	f.mu.Unlock()
	return f.run(in)
}

func contractInfo(name string) engine.Info {
	for _, c := range Contracts() {
		if c.Engine == name {
			return engine.Info{Inputs: c.Inputs, Outputs: c.Outputs}
		}
	}
	panic(name)
}

func zeros(shape ...int64) *engine.Tensor {
	return engine.Must(engine.New(engine.Float32, shape))
}

// fakeEngines decode every frame to the same white box on black — x in
// [W/4, W/2), y in [H/4, 5H/8) — whatever the conditions, so the test
// controls the amodal masks through the modal ones.
func fakeEngines(depth func(x, y int) float32) (Engines, *fakeEngine) {
	unet := &fakeEngine{info: contractInfo("unet"), run: func(in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
		s := in["sample"].Shape()
		return map[string]*engine.Tensor{"noise_pred": zeros(2, s[1], 4, s[3], s[4])}, nil
	}}
	e := Engines{
		CLIP: &fakeEngine{info: contractInfo("clip_vision"), run: func(in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
			return map[string]*engine.Tensor{"image_embeds": zeros(in["pixel_values"].Shape()[0], EmbedDim)}, nil
		}},
		VAEEncoder: &fakeEngine{info: contractInfo("vae_encoder"), run: func(in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
			s := in["sample"].Shape()
			return map[string]*engine.Tensor{"latent": zeros(s[0], 4, s[2]/8, s[3]/8)}, nil
		}},
		UNet:           unet,
		UNetCompletion: &fakeEngine{info: contractInfo("unet_completion"), run: unet.run},
		VAEDecoder: &fakeEngine{info: contractInfo("vae_decoder"), run: func(in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
			s := in["latent"].Shape()
			n, h, w := s[0], 8*s[2], 8*s[3]
			out := zeros(n, 3, h, w)
			d := out.Float32()
			for i := range d {
				x, y := int64(i)%w, int64(i)/w%h
				d[i] = -1
				if 4*x >= w && 2*x < w && 4*y >= h && 8*y < 5*h {
					d[i] = 1
				}
			}
			return map[string]*engine.Tensor{"sample": out}, nil
		}},
		Depth: &fakeEngine{info: contractInfo("depth"), run: func(in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
			s := in["image"].Shape()
			out := zeros(s[0], s[2], s[3])
			d := out.Float32()
			for i := range d {
				d[i] = depth(i%int(s[3]), i/int(s[3])%int(s[2]))
			}
			return map[string]*engine.Tensor{"depth": out}, nil
		}},
	}
	return e, unet
}

func maskOf(w, h int, r image.Rectangle) *scene.Mask {
	m := scene.NewMask(w, h)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			m.Pix[y*w+x] = 1
		}
	}
	return m
}

// TestCompleteOcclusionSpan drives the stage with engines whose amodal
// mask is a fixed box, and checks the span, the End-inclusive
// completion, the hand-off of masks and images and the visibility flags.
func TestCompleteOcclusionSpan(t *testing.T) {
	const W, H, N = 64, 32, 10
	eng, unet := fakeEngines(func(x, y int) float32 { return float32(x) })
	amodal := image.Rect(16, 8, 32, 20) // the decoded box at video size
	m := boxMasks{w: W, h: H, boxes: map[scene.PersonID][]*image.Rectangle{}}
	for i := range N {
		r := amodal
		switch i {
		case 4, 5:
			r = image.Rect(16, 8, 32, 14) // top half: IoU 0.5, occluded
		case 3:
			r = image.Rect(14, 6, 34, 22) // larger than the amodal box: score 1, fake
		}
		p1 := &r
		if i == 6 { // absent inside the span
			p1 = nil
		}
		m.boxes[1] = append(m.boxes[1], p1)
		var b *image.Rectangle
		if i < 4 {
			b = &amodal
		}
		m.boxes[2] = append(m.boxes[2], b)
	}
	opts := Options{Dir: t.TempDir(), Steps: 2, Window: 10, Height: 32, Width: 64, CompletionHeight: 16, CompletionWidth: 32}
	c, err := New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Complete(context.Background(), testVideo{w: W, h: H, n: N}, m)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Spans); got != "map[1:[{2 7}]]" {
		t.Errorf("spans %s, want person 1 frames 2..7", got)
	}
	if got := fmt.Sprint(res.Visible[1]); got != "[true true true true false false false true true true]" {
		t.Errorf("person 1 visible %s", got)
	}
	if got := fmt.Sprint(res.Visible[2]); got != "[true true true true false false false false false false]" {
		t.Errorf("person 2 visible %s", got)
	}
	// UNet frames per call: the amodal pass of person 1 (10) and of
	// person 2 (10) on the amodal-segmentation UNet, and person 1's
	// completion of frames 2..7 (6, End included) on the
	// content-completion UNet.
	perPass := func(e *fakeEngine) string {
		var frames []int64
		for i, s := range e.seen {
			if i%opts.Steps == 0 {
				frames = append(frames, s[1])
			}
		}
		return fmt.Sprint(frames)
	}
	if got := perPass(unet); got != "[10 10]" {
		t.Errorf("amodal-segmentation UNet frame counts per pass %v, want [10 10]", got)
	}
	if got := perPass(eng.UNetCompletion.(*fakeEngine)); got != "[6]" {
		t.Errorf("content-completion UNet frame counts per pass %v, want [6]", got)
	}
	for f := range N {
		got, err := res.Masks.Mask(f, 1)
		if err != nil {
			t.Fatal(err)
		}
		if f == 6 {
			if got != nil {
				t.Errorf("frame 6: person 1 is absent, got a mask of area %d", got.Area())
			}
			if img, _ := res.Images(1, f); img != nil {
				t.Error("frame 6: person 1 is absent, got a completed image")
			}
			continue
		}
		want := maskOf(W, H, *m.boxes[1][f]) // modal outside the span and on the fake frame
		if f >= 2 && f <= 7 && f != 3 {
			want = maskOf(W, H, amodal)
		}
		if string(got.Pix) != string(want.Pix) {
			t.Errorf("frame %d: mask area %d bounds %v, want area %d bounds %v", f, got.Area(), got.Bounds(), want.Area(), want.Bounds())
		}
		img, err := res.Images(1, f)
		if err != nil {
			t.Fatal(err)
		}
		if (img != nil) != (f >= 2 && f <= 7) {
			t.Errorf("frame %d: completed image %v", f, img != nil)
		}
		if img != nil {
			if c := img.RGBAAt(24, 14); c.R != 255 || c.G != 255 || c.B != 255 {
				t.Errorf("frame %d: completed pixel inside the box is %v, want white", f, c)
			}
			if c := img.RGBAAt(2, 2); c.R != 0 {
				t.Errorf("frame %d: completed pixel outside the box is %v, want black", f, c)
			}
		}
		if img2, _ := res.Images(2, f); img2 != nil {
			t.Errorf("person 2 frame %d: completed image without occlusion", f)
		}
	}
	if _, err := res.Masks.Mask(N, 1); err == nil {
		t.Error("mask past the last frame: no error")
	}
	if _, err := res.Masks.Mask(0, 9); err == nil {
		t.Error("mask of an unknown person: no error")
	}
}

func TestCompleteBadInput(t *testing.T) {
	const W, H, N = 48, 32, 3
	good := twoPeople(W, H, N)
	flat, _ := fakeEngines(func(x, y int) float32 { return 0.5 })
	eng, _ := fakeEngines(func(x, y int) float32 { return float32(y) })
	for _, c := range []struct {
		name   string
		eng    Engines
		video  scene.FrameSource
		masks  scene.MaskSource
		want   string
		cancel bool
	}{
		{"no frames", eng, testVideo{w: W, h: H, n: 0}, good, "0 frames", false},
		{"no people", eng, testVideo{w: W, h: H, n: N}, boxMasks{w: W, h: H}, "no people", false},
		{"person 0", eng, testVideo{w: W, h: H, n: N}, boxMasks{w: W, h: H, boxes: map[scene.PersonID][]*image.Rectangle{0: {nil, nil, nil}}}, "≥ 1", false},
		{"mask size", eng, testVideo{w: W, h: H, n: N}, boxMasks{w: W, h: H, boxes: good.boxes, bad: map[[2]int]*scene.Mask{{1, 3}: scene.NewMask(W, H+1)}},
			"person 3 on frame 1 is 48x33", false},
		{"frame size", eng, sizedVideo{testVideo{w: W, h: H, n: N}, 2}, good, "frame 2 is 47x32", false},
		{"constant depth", flat, testVideo{w: W, h: H, n: N}, good, "depth is constant", false},
		{"cancelled", eng, testVideo{w: W, h: H, n: N}, good, context.Canceled.Error(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			comp, err := New(c.eng, Options{Dir: t.TempDir(), Steps: 2, Height: 16, Width: 32, CompletionHeight: 16, CompletionWidth: 32})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if c.cancel {
				cancel()
			}
			defer cancel()
			_, err = comp.Complete(ctx, c.video, c.masks)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one containing %q", err, c.want)
			}
		})
	}
}

// sizedVideo returns frame bad one pixel narrower.
type sizedVideo struct {
	testVideo
	bad int
}

func (v sizedVideo) Frame(i int) (*scene.RGB, error) {
	img, err := v.testVideo.Frame(i)
	if i == v.bad && err == nil {
		img = scene.NewRGB(image.Rect(0, 0, v.w-1, v.h))
	}
	return img, err
}

func TestNewBadOptions(t *testing.T) {
	eng, _ := fakeEngines(func(x, y int) float32 { return float32(x) })
	noDepth := eng
	noDepth.Depth = nil
	wrong := eng
	wrong.UNet = &fakeEngine{info: contractInfo("vae_decoder")}
	for _, c := range []struct {
		name string
		eng  Engines
		opts Options
		want string
	}{
		{"one step", eng, Options{Steps: 1}, "Steps"},
		{"negative window", eng, Options{Window: -1}, "Window"},
		{"odd size", eng, Options{Height: 30}, "multiples of 8"},
		{"no depth engine", noDepth, Options{}, "no depth engine"},
		{"wrong unet", wrong, Options{}, "amodal/unet"},
	} {
		_, err := New(c.eng, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestOpen(t *testing.T) {
	fakes, _ := fakeEngines(func(x, y int) float32 { return float32(x) })
	byFile := map[string]engine.Engine{}
	var entries []models.Entry
	for _, e := range fakes.list() {
		if e.name == "depth" {
			continue // missing from the manifest
		}
		entries = append(entries, models.Entry{Stage: "amodal", Name: e.name, File: e.name + ".onnx", Backend: "onnx"})
		byFile[e.name+".onnx"] = e.eng
	}
	dir := &models.Dir{Path: "/models", Manifest: &models.Manifest{Format: 1, Engines: entries}}
	var loaded, closed int
	load := func(path string) (engine.Engine, error) {
		loaded++
		return closer{byFile[filepath.Base(path)], &closed}, nil
	}
	if _, err := Open(dir, load, Options{}); err == nil || !strings.Contains(err.Error(), "amodal/depth") {
		t.Errorf("no depth engine in the manifest: err %v", err)
	}
	if closed != loaded {
		t.Errorf("after a failed Open %d of %d loaded engines were closed", closed, loaded)
	}
	dir.Manifest.Engines = append(dir.Manifest.Engines, models.Entry{Stage: "amodal", Name: "depth", File: "depth.onnx", Backend: "onnx"})
	byFile["depth.onnx"] = fakes.Depth
	loaded, closed = 0, 0
	c, err := Open(dir, load, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil || loaded != 6 || closed != 6 {
		t.Errorf("Close: %v; %d loaded, %d closed", err, loaded, closed)
	}
}

// closer counts Close calls.
type closer struct {
	engine.Engine
	n *int
}

func (c closer) Close() error { *c.n++; return nil }
