package segment

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// The host-side hot paths are checked bit for bit against the plain
// formulation they replace, and timed on SAM-3 sizes.

// TestSigmoidScaled checks the saturated shortcut of sigmoidScaled on
// every float32 with 20 < |v| ≤ 256 (beyond, the formula is monotone).
func TestSigmoidScaled(t *testing.T) {
	plain := func(v float32) float32 { return 20/(1+float32(math.Exp(float64(-v)))) - 10 }
	for _, sign := range []float32{1, -1} {
		for u := math.Float32bits(20); ; u++ {
			v := math.Float32frombits(u)
			if v > 256 {
				break
			}
			if got, want := sigmoidScaled(sign*v), plain(sign*v); math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("v=%v: %v, want %v", sign*v, got, want)
			}
		}
	}
	for _, v := range []float32{0, 1, -1, 19.99, -19.99, 1e30, -1e30, -1024, float32(math.Inf(1)), float32(math.Inf(-1))} {
		if got, want := sigmoidScaled(v), plain(v); got != want {
			t.Errorf("v=%v: %v, want %v", v, got, want)
		}
	}
	if v := sigmoidScaled(float32(math.NaN())); !math.IsNaN(float64(v)) {
		t.Errorf("NaN gives %v", v)
	}
}

// maskInputPlain is maskInput as resample.InterpolateBilinear, then the per-pixel
// scaling.
func maskInputPlain(logits [][]float32, l, S int, binarize bool) []float32 {
	B := len(logits)
	hr := make([]float32, B*S*S)
	for b := range B {
		resample.InterpolateBilinear(logits[b], l, l, S, S, hr[b*S*S:(b+1)*S*S])
	}
	for i := range S * S {
		if !binarize {
			for b := range B {
				v := hr[b*S*S+i]
				hr[b*S*S+i] = 20/(1+float32(math.Exp(float64(-v)))) - 10
			}
			continue
		}
		owner := 0
		for b := 1; b < B; b++ {
			if hr[b*S*S+i] > hr[owner*S*S+i] {
				owner = b
			}
		}
		for b := range B {
			v := float32(-10)
			if b == owner && hr[b*S*S+i] > 0 {
				v = 10
			}
			hr[b*S*S+i] = v
		}
	}
	return hr
}

func testLogits(B, l int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float32, B)
	for b := range out {
		out[b] = make([]float32, l*l)
		for i := range out[b] {
			out[b][i] = float32(r.NormFloat64() * 15)
		}
	}
	out[B-1][7] = noObjScore
	return out
}

func TestMaskInputMatchesPlain(t *testing.T) {
	for _, B := range []int{1, 3} {
		for _, bin := range []bool{false, true} {
			lg := testLogits(B, 36, uint64(B))
			want := maskInputPlain(lg, 36, 126, bin)
			got := make([]float32, len(want))
			maskInput(got, lg, 36, 126, bin, &floatPool{})
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("B=%d binarize=%v: element %d is %v, want %v", B, bin, i, got[i], want[i])
				}
			}
		}
	}
}

func TestChannelsLast(t *testing.T) {
	const C, hw, B = 5, 131, 3
	src := make([]float32, C*hw)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, hw*B*C)
	channelsLast(dst, src, C, hw, B)
	for i := range hw {
		for b := range B {
			for c := range C {
				if got, want := dst[(i*B+b)*C+c], src[c*hw+i]; got != want {
					t.Fatalf("[%d,%d,%d] = %v, want %v", i, b, c, got, want)
				}
			}
		}
	}
}

// TestFrameInput checks the engine input, whose resize is split over
// rows and written straight into the planes, against the whole-image
// resize normalised byte by byte, on sub-images (the frame's first pixel
// not at Pix[0], rows longer than the frame), upscaling and downscaling.
func TestFrameInput(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mean, std := [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
	for _, sz := range [][3]int{{64, 36, 100}, {90, 130, 50}, {50, 50, 50}, {50, 70, 50}, {70, 50, 50}} {
		big := scene.NewRGB(image.Rect(0, 0, sz[0]+7, sz[1]+5))
		for i := range big.Pix {
			big.Pix[i] = uint8(r.IntN(256))
		}
		img := &scene.RGB{Pix: big.Pix[big.PixOffset(4, 3):], Stride: big.Stride, Rect: image.Rect(4, 3, 4+sz[0], 3+sz[1])}
		s := sz[2]
		got := modelInput(img, s, mean, std)
		px := resample.NewResizer(sz[0], sz[1], s, s, 3, resample.Bicubic).Resize(img.Pix[img.PixOffset(4, 3):], img.Stride)
		for i := range s * s {
			for c := range 3 {
				want := (float32(float64(px[3*i+c])/255) - mean[c]) / std[c]
				if g := got[c*s*s+i]; math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("%v: channel %d pixel %d is %v, want %v", sz, c, i, g, want)
				}
			}
		}
	}
}

// BenchmarkHost times the host-side work of one tracked frame of two
// people on SAM-3 sizes (the engines' time is in BenchmarkTrackFrame).
func BenchmarkHost(b *testing.B) {
	cfg := SAM3()
	S, l, g := cfg.ImageSize, cfg.lowResSize(), cfg.featSize()
	hw := g * g
	const B = 2
	b.Run("frame_input", func(b *testing.B) {
		img := scene.NewRGB(image.Rect(0, 0, 1280, 720))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		x := make([]float32, 3*S*S)
		var rs *frameResizer
		info := scene.VideoInfo{Width: 1280, Height: 720, Frames: 1}
		tr := &Tracker{cfg: cfg}
		for b.Loop() {
			rs, _ = tr.frameInput(&memFrames{info: info, imgs: []*scene.RGB{img}}, info, 0, rs, x)
		}
	})
	b.Run("mask_input", func(b *testing.B) {
		lg := make([][]float32, B)
		for i := range lg {
			lg[i] = make([]float32, l*l)
			for k := range lg[i] {
				lg[i][k] = float32((k*7919)%300)/10 - 15
			}
		}
		hr := make([]float32, B*S*S)
		p := &floatPool{}
		for b.Loop() {
			maskInput(hr, lg, l, S, false, p)
		}
	})
	b.Run("prompt", func(b *testing.B) {
		bk := newBank()
		var p memPlan
		for f := range numMaskmem {
			e := &memEntry{frame: f, maskmem: make([]uint16, B*memDim*hw), ptr: make([]float32, B*hiddenDim)}
			bk.nonCond[f] = e
			p.spatial = append(p.spatial, memRef{frame: f, tpos: f})
			p.pointers = append(p.pointers, ptrRef{frame: f, pos: f + 1})
		}
		c := &Constants{MaskmemTposEnc: make([]float32, numMaskmem*memDim), TposProjWeight: make([]float32, memDim*hiddenDim), TposProjBias: make([]float32, memDim)}
		posT := make([]float32, memDim*hw)
		n := p.promptLen(B, hw)
		prompt, pos := make([]float32, n), make([]float32, n)
		for b.Loop() {
			bk.fillPrompt(p, B, hw, posT, c, 16, prompt, pos)
		}
	})
	b.Run("src", func(b *testing.B) {
		fpn2 := make([]float32, hiddenDim*hw)
		src := make([]float32, hw*B*hiddenDim)
		for b.Loop() {
			channelsLast(src, fpn2, hiddenDim, hw, B)
		}
	})
}

// failFrames fails to read one frame.
type failFrames struct {
	scene.FrameSource
	bad int
}

func (f failFrames) Frame(i int) (*scene.RGB, error) {
	if i == f.bad {
		return nil, errors.New("unreadable")
	}
	return f.FrameSource.Frame(i)
}

// TestPropagationErrors: an unreadable frame and NaN from the image
// encoder during propagation are reported for their frame, and a
// cancelled propagation stops.
func TestPropagationErrors(t *testing.T) {
	tr := openTiny(t, tinyDir, Options{})
	prompts := scene.Prompts{Clicks: []scene.Click{{Frame: 1, X: 90, Y: 175, Person: 1}}}
	frames := loadFrames(t, clipFrames, 5)
	_, err := tr.Segment(context.Background(), failFrames{frames, 3}, prompts)
	if err == nil || err.Error() != "segment: frame 3: unreadable" {
		t.Errorf("unreadable frame 3: error %v", err)
	}
	// Frame 1 is encoded for the click, frame 2 next, which gives NaN.
	e := tr.eng
	e.Image = &nanLater{Engine: e.Image, output: "fpn2", after: 1}
	bad, err := New(e, tr.consts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Segment(context.Background(), frames, prompts)
	if err == nil || !strings.Contains(err.Error(), "frame 2: image_encoder") {
		t.Errorf("NaN features: error %v, want one naming frame 2 and image_encoder", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := New(tr.eng, tr.consts, Options{OnFrame: func(r FrameReport) {
		if r.Frame == 2 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stop.Segment(ctx, frames, prompts); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}

// nanLater poisons one output from its (after+1)-th run on.
type nanLater struct {
	engine.Engine
	output string
	after  int32
	runs   atomic.Int32
}

func (e *nanLater) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	out, err := e.Engine.Run(ctx, in)
	if err == nil && e.runs.Add(1) > e.after {
		out[e.output].Float32()[7] = float32(nanValue())
	}
	return out, err
}
