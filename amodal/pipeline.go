package amodal

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
)

// vaeScale is the SVD VAE's scaling_factor.
const vaeScale = 0.18215

// clipSide is the CLIP vision input size.
const clipSide = 224

// normalSource yields standard normal values in a fixed order.
type normalSource interface{ fill(dst []float32) }

type pcgNormal struct{ r *rand.Rand }

func (p pcgNormal) fill(dst []float32) {
	for i := range dst {
		dst[i] = float32(p.r.NormFloat64())
	}
}

func newPCGNormal(k noiseKey) normalSource {
	return pcgNormal{rand.New(rand.NewPCG(k.seedValue(), 0x626f64793464))}
}

// The noise of one pipeline call: the reference draws condition A's,
// then condition B's, then the initial latents from one generator. Here
// each condition frame has its own stream, so frames are prepared in
// parallel and a chunk at a time; the latents are one stream.
const (
	streamA = iota
	streamB
	streamLatent
)

// noiseKey names one noise stream of the stage.
type noiseKey struct {
	seed   uint64
	person int
	start  int // first frame of the window
	pass   int // passAmodal or passCompletion
	stream int
	frame  int // frame of the call for streamA and streamB; -1 for streamLatent
}

const (
	passAmodal = iota
	passCompletion
)

// splitmix64 is a bijective mixer for deriving stream seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (k noiseKey) seedValue() uint64 {
	h := splitmix64(k.seed)
	for _, v := range []int{k.person, k.start, k.pass, k.stream, k.frame} {
		h = splitmix64(h ^ uint64(v))
	}
	return h
}

// vasCall is one Diffusion-VAS pipeline call: F frames at h×w, with the
// two conditions given per frame as [3,h,w] values in [-1,1].
type vasCall struct {
	frames, h, w int
	unet         engine.Engine // the pass's UNet: amodal segmentation or content completion
	condA, condB func(i int, dst []float32) error
	key          noiseKey // the call's streams; stream and frame are set per draw
}

// runVAS runs the reference DiffusionVASPipeline.__call__ (segment-amodal
// C.3) with Go owning everything but the networks, and hands each chunk
// of decoded uint8 RGB frames (h×w×3, interleaved) to emit in order.
// Conditions are built, embedded and encoded a chunk at a time, so memory
// holds latents for the window but pixels only for a chunk.
func (c *Completer) runVAS(ctx context.Context, call vasCall, emit func(first int, rgb [][]uint8) error) error {
	f, h, w := call.frames, call.h, call.w
	noise := func(stream, frame int) normalSource {
		k := call.key
		k.stream, k.frame = stream, frame
		return c.newNoise(k)
	}
	chunk := c.opts.DecodeChunk
	embeds := make([]float32, 0, f*EmbedDim)
	var latA, latB Latents
	plane := h * w
	// CLIPImageProcessor's mean and std.
	clipMean := [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd := [3]float32{0.26862954, 0.26130258, 0.27577711}
	for first := 0; first < f; first += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, f-first)
		a := make([]float32, n*3*plane)
		b := make([]float32, n*3*plane)
		pix := make([]float32, n*3*clipSide*clipSide)
		if err := parallel(n, func(i int) error {
			fa, fb := a[i*3*plane:(i+1)*3*plane], b[i*3*plane:(i+1)*3*plane]
			if err := call.condA(first+i, fa); err != nil {
				return err
			}
			if err := call.condB(first+i, fb); err != nil {
				return err
			}
			// CLIP sees condition A before preprocessing and noise.
			for ch := range 3 {
				r := resample.ResizeWithAntialiasing(fa[ch*plane:(ch+1)*plane], w, h, clipSide, clipSide)
				dst := pix[(i*3+ch)*clipSide*clipSide:]
				for k, v := range r {
					dst[k] = ((v+1)/2 - clipMean[ch]) / clipStd[ch]
				}
			}
			nz := make([]float32, 3*plane)
			for _, c2 := range []struct {
				x      []float32
				stream int
			}{{fa, streamA}, {fb, streamB}} {
				preprocess(c2.x)
				noise(c2.stream, first+i).fill(nz)
				for k := range c2.x {
					c2.x[k] += float32(c.sampler.NoiseAug) * nz[k]
				}
			}
			return nil
		}); err != nil {
			return err
		}
		e, err := c.runOne(ctx, c.eng.CLIP, "clip_vision", "pixel_values", engine.Shape{int64(n), 3, clipSide, clipSide}, pix, "image_embeds", engine.Shape{int64(n), EmbedDim})
		if err != nil {
			return err
		}
		embeds = append(embeds, e...)
		for _, cond := range []struct {
			x   []float32
			lat *Latents
		}{{a, &latA}, {b, &latB}} {
			l, lh, lw, err := c.encode(ctx, cond.x, n, h, w)
			if err != nil {
				return err
			}
			if cond.lat.Data == nil {
				*cond.lat = Latents{Frames: f, Height: lh, Width: lw, Data: make([]float32, 0, f*LatentChannels*lh*lw)}
			} else if lh != cond.lat.Height || lw != cond.lat.Width {
				return fmt.Errorf("amodal: vae_encoder latents changed size from %dx%d to %dx%d", cond.lat.Width, cond.lat.Height, lw, lh)
			}
			cond.lat.Data = append(cond.lat.Data, l...)
		}
	}
	ehs, err := interleaveEmbeddings(embeds)
	if err != nil {
		return err
	}
	x0 := newLatents(f, latA.Height, latA.Width)
	noise(streamLatent, -1).fill(x0.Data)
	x, err := c.sampler.Sample(ctx, call.unet, latA, latB, ehs, x0)
	if err != nil {
		return err
	}
	fl := x.frameLen()
	for first := 0; first < f; first += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, f-first)
		z := make([]float32, n*fl)
		for i, v := range x.Data[first*fl : (first+n)*fl] {
			z[i] = v * float32(1/vaeScale)
		}
		y, err := c.runOne(ctx, c.eng.VAEDecoder, "vae_decoder", "latent", engine.Shape{int64(n), LatentChannels, int64(x.Height), int64(x.Width)}, z,
			"sample", engine.Shape{int64(n), 3, int64(h), int64(w)})
		if err != nil {
			return err
		}
		out := make([][]uint8, n)
		if err := parallel(n, func(i int) error {
			out[i] = toRGB8(y[i*3*plane:(i+1)*3*plane], w, h)
			return nil
		}); err != nil {
			return err
		}
		if err := emit(first, out); err != nil {
			return err
		}
	}
	return nil
}

// preprocess is diffusers' VaeImageProcessor.preprocess on a tensor
// frame: it maps [0,1] to [-1,1] unless some value is already negative.
// The reference feeds [-1,1] conditions, so this only fires on a frame
// with no negative value (a full mask, or a depth frame whose values all
// lie in the upper half of the video's range); replicated.
func preprocess(fr []float32) {
	for _, v := range fr {
		if v < 0 {
			return
		}
	}
	for i, v := range fr {
		fr[i] = 2*v - 1
	}
}

// toRGB8 is VaeImageProcessor.postprocess to PIL: (y/2+0.5) clamped to
// [0,1], times 255, rounded half to even, planar to interleaved.
func toRGB8(y []float32, w, h int) []uint8 {
	plane := w * h
	out := make([]uint8, 3*plane)
	for ch := range 3 {
		for p, v := range y[ch*plane : (ch+1)*plane] {
			t := min(max(v/2+0.5, 0), 1)
			out[p*3+ch] = uint8(math.RoundToEven(float64(t * 255)))
		}
	}
	return out
}

// encode runs the VAE encoder on n frames [n,3,h,w] and returns the
// unscaled latents (the latent distribution's mode) and their size.
func (c *Completer) encode(ctx context.Context, x []float32, n, h, w int) ([]float32, int, int, error) {
	t, err := engine.FromFloat32(engine.Shape{int64(n), 3, int64(h), int64(w)}, x)
	if err != nil {
		return nil, 0, 0, err
	}
	out, err := c.eng.VAEEncoder.Run(ctx, map[string]*engine.Tensor{"sample": t})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("amodal: vae_encoder: %w", err)
	}
	l, ok := out["latent"]
	if !ok {
		return nil, 0, 0, fmt.Errorf("amodal: vae_encoder returned no latent output")
	}
	s := l.Shape()
	if len(s) != 4 || s[0] != int64(n) || s[1] != LatentChannels || s[2] < 1 || s[3] < 1 {
		return nil, 0, 0, fmt.Errorf("amodal: vae_encoder latent is %s, want [%d,4,h,w]", s, n)
	}
	if err := l.CheckFinite(); err != nil {
		return nil, 0, 0, fmt.Errorf("amodal: vae_encoder latent: %w", err)
	}
	d, err := l.AsFloat32()
	return d, int(s[2]), int(s[3]), err
}

// runOne runs an engine with one float32 input and reads one float32
// output of the expected shape, rejecting NaN and infinities.
func (c *Completer) runOne(ctx context.Context, e engine.Engine, name, in string, inShape engine.Shape, data []float32, outName string, want engine.Shape) ([]float32, error) {
	t, err := engine.FromFloat32(inShape, data)
	if err != nil {
		return nil, err
	}
	out, err := e.Run(ctx, map[string]*engine.Tensor{in: t})
	if err != nil {
		return nil, fmt.Errorf("amodal: %s: %w", name, err)
	}
	o, ok := out[outName]
	if !ok {
		return nil, fmt.Errorf("amodal: %s returned no %q output", name, outName)
	}
	if o.Shape().String() != want.String() {
		return nil, fmt.Errorf("amodal: %s output %q is %s, want %s", name, outName, o.Shape(), want)
	}
	if err := o.CheckFinite(); err != nil {
		return nil, fmt.Errorf("amodal: %s output %q: %w", name, outName, err)
	}
	return o.AsFloat32()
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines and returns
// the first error.
func parallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}
