package fov

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// Tensor names of MoGe-2's forward(), as its official ONNX export
// (docs/onnx.md) names them.
const (
	tensorImage       = "image"        // [1,3,h,w] float32 RGB in [0,1]
	tensorNumTokens   = "num_tokens"   // int64 scalar; only in the dynamic-token export
	tensorPoints      = "points"       // [1,h,w,3] affine-invariant points
	tensorMask        = "mask"         // [1,h,w] probability (sigmoid applied)
	tensorMetricScale = "metric_scale" // [1]
)

// Options configure an Estimator. The zero value is the reference's
// infer() defaults with one estimate per video.
type Options struct {
	// Tokens is the ViT token budget; 0 means infer()'s default, 3600
	// (resolution level 9). NumTokens converts a level.
	Tokens int
	// FOVX is a known horizontal field of view in degrees; 0 means
	// estimate it. With it known the focal is fixed and the engine is
	// not needed for intrinsics (infer() only solves the shift then).
	FOVX float64
	// PerFrame estimates every frame, as the reference pipeline does.
	// Otherwise SampleFrames frames spread over the video are estimated
	// and the median focal is used for all frames.
	PerFrame bool
	// SampleFrames is how many frames the per-video estimate uses; 0
	// means 8.
	SampleFrames int
	// OnFrame, if not nil, is called with each frame's estimate as
	// Intrinsics makes it (from the goroutine running Intrinsics): the
	// caller learns, for one, which solves were ill-conditioned.
	OnFrame func(frame int, r FrameResult)
}

// An Estimator recovers camera intrinsics with a MoGe-2 engine. It holds
// no mutable state; it is safe for concurrent use when its engine is.
type Estimator struct {
	eng    engine.Engine
	opts   Options
	tokens bool // the engine takes num_tokens
}

// New returns an Estimator that runs eng.
func New(eng engine.Engine, opts Options) (*Estimator, error) {
	if opts.Tokens < 0 {
		return nil, fmt.Errorf("fov: token count %d must not be negative", opts.Tokens)
	}
	if opts.Tokens == 0 {
		opts.Tokens = maxTokens
	}
	if opts.SampleFrames < 0 {
		return nil, fmt.Errorf("fov: %d sample frames must not be negative", opts.SampleFrames)
	}
	if opts.SampleFrames == 0 {
		opts.SampleFrames = 8
	}
	if opts.FOVX != 0 && !(opts.FOVX > 0 && opts.FOVX < 180) {
		return nil, fmt.Errorf("fov: horizontal field of view %v° is outside (0, 180)", opts.FOVX)
	}
	e := &Estimator{eng: eng, opts: opts}
	if eng == nil {
		if opts.FOVX == 0 {
			return nil, fmt.Errorf("fov: no moge engine, and no known field of view")
		}
		return e, nil
	}
	for _, in := range eng.Info().Inputs {
		if in.Name == tensorNumTokens {
			e.tokens = true
		}
	}
	return e, nil
}

// FrameResult is the estimate for one frame.
type FrameResult struct {
	Solution
	MetricScale float64
	// Intrinsics are in pixels of the frame, with fx := fy as
	// SAM-3D-Body sets them.
	Intrinsics scene.Intrinsics
}

// Frame runs the engine on one frame and recovers its intrinsics.
func (e *Estimator) Frame(ctx context.Context, img *scene.RGB) (FrameResult, error) {
	r, _, err := e.run(ctx, img)
	return r, err
}

// run runs the engine on one frame and solves its camera, returning the
// engine's map as well.
func (e *Estimator) run(ctx context.Context, img *scene.RGB) (FrameResult, mogeMap, error) {
	if e.eng == nil {
		return FrameResult{}, mogeMap{}, fmt.Errorf("fov: no moge engine to run")
	}
	if img == nil {
		return FrameResult{}, mogeMap{}, fmt.Errorf("fov: nil frame")
	}
	W, H := img.Rect.Dx(), img.Rect.Dy()
	h, w, err := InputSize(W, H, e.opts.Tokens)
	if err != nil {
		return FrameResult{}, mogeMap{}, err
	}
	data, err := ResizeInput(img, h, w)
	if err != nil {
		return FrameResult{}, mogeMap{}, err
	}
	inputs := map[string]*engine.Tensor{tensorImage: engine.Must(engine.FromFloat32(engine.Shape{1, 3, int64(h), int64(w)}, data))}
	if e.tokens {
		inputs[tensorNumTokens] = engine.Must(engine.FromInt64(engine.Shape{}, []int64{int64(e.opts.Tokens)}))
	}
	out, err := e.eng.Run(ctx, inputs)
	if err != nil {
		return FrameResult{}, mogeMap{}, fmt.Errorf("fov: moge: %w", err)
	}
	m, err := readOutputs(out)
	if err != nil {
		return FrameResult{}, mogeMap{}, err
	}
	s := m.samples(W, H)
	var sol Solution
	if e.opts.FOVX != 0 {
		sol, err = SolveShift(s, FocalFromFOVX(e.opts.FOVX, W, H))
	} else {
		sol, err = SolveFocalShift(s)
	}
	if err != nil {
		return FrameResult{}, mogeMap{}, err
	}
	return FrameResult{Solution: sol, MetricScale: m.scale, Intrinsics: PixelIntrinsics(sol.Focal, W, H, true)}, m, nil
}

// Intrinsics returns one camera per frame of the video (it implements
// body4d.CameraEstimator).
func (e *Estimator) Intrinsics(ctx context.Context, frames scene.FrameSource) ([]scene.Intrinsics, error) {
	info := frames.Info()
	if info.Frames <= 0 {
		return nil, fmt.Errorf("fov: video has %d frames", info.Frames)
	}
	if info.Width <= 0 || info.Height <= 0 {
		return nil, fmt.Errorf("fov: video is %d×%d", info.Width, info.Height)
	}
	cams := make([]scene.Intrinsics, info.Frames)
	if e.opts.FOVX != 0 {
		k := PixelIntrinsics(FocalFromFOVX(e.opts.FOVX, info.Width, info.Height), info.Width, info.Height, true)
		for i := range cams {
			cams[i] = k
		}
		return cams, nil
	}
	if e.opts.PerFrame {
		for i := range cams {
			r, err := e.frame(ctx, frames, i)
			if err != nil {
				return nil, err
			}
			cams[i] = r.Intrinsics
		}
		return cams, nil
	}
	n := min(e.opts.SampleFrames, info.Frames)
	var focals []float64
	for i := range n {
		// The centres of n equal runs of frames.
		r, err := e.frame(ctx, frames, (2*i+1)*info.Frames/(2*n))
		if err != nil {
			return nil, err
		}
		if r.Samples >= 2 { // fewer: the reference's placeholder focal 1, no estimate
			focals = append(focals, r.Focal)
		}
	}
	f := 1.0 // the reference's focal when no frame has enough valid points
	if len(focals) > 0 {
		f = median(focals)
	}
	k := PixelIntrinsics(f, info.Width, info.Height, true)
	for i := range cams {
		cams[i] = k
	}
	return cams, nil
}

func (e *Estimator) frame(ctx context.Context, frames scene.FrameSource, i int) (FrameResult, error) {
	if err := ctx.Err(); err != nil {
		return FrameResult{}, err
	}
	img, err := frames.Frame(i)
	if err != nil {
		return FrameResult{}, fmt.Errorf("fov: frame %d: %w", i, err)
	}
	info := frames.Info()
	if img.Rect.Dx() != info.Width || img.Rect.Dy() != info.Height {
		return FrameResult{}, fmt.Errorf("fov: frame %d is %d×%d, video is %d×%d", i, img.Rect.Dx(), img.Rect.Dy(), info.Width, info.Height)
	}
	r, err := e.Frame(ctx, img)
	if err != nil {
		return FrameResult{}, fmt.Errorf("frame %d: %w", i, err)
	}
	if e.opts.OnFrame != nil {
		e.opts.OnFrame(i, r)
	}
	return r, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mogeMap is the engine's point map and mask at its own resolution.
type mogeMap struct {
	w, h   int
	points []float32 // xyz per pixel
	mask   []float32 // probability per pixel
	scale  float64
}

func readOutputs(out map[string]*engine.Tensor) (mogeMap, error) {
	get := func(name string, rank int) (*engine.Tensor, []float32, error) {
		t := out[name]
		if t == nil {
			return nil, nil, fmt.Errorf("fov: moge returned no %q output", name)
		}
		d := t.Float32()
		if d == nil {
			return nil, nil, fmt.Errorf("fov: moge output %q is %v, want float32", name, t.DType())
		}
		if s := t.Shape(); len(s) != rank || s[0] != 1 {
			return nil, nil, fmt.Errorf("fov: moge output %q has shape %v, want rank %d with batch 1", name, s, rank)
		}
		for i, v := range d {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, fmt.Errorf("fov: moge output %q element %d is %v", name, i, v)
			}
		}
		return t, d, nil
	}
	pt, points, err := get(tensorPoints, 4)
	if err != nil {
		return mogeMap{}, err
	}
	ps := pt.Shape()
	if ps[3] != 3 || ps[1] < 1 || ps[2] < 1 {
		return mogeMap{}, fmt.Errorf("fov: moge output %q has shape %v, want [1,h,w,3]", tensorPoints, ps)
	}
	mt, mask, err := get(tensorMask, 3)
	if err != nil {
		return mogeMap{}, err
	}
	if ms := mt.Shape(); ms[1] != ps[1] || ms[2] != ps[2] {
		return mogeMap{}, fmt.Errorf("fov: moge output %q has shape %v, points are %v", tensorMask, ms, ps)
	}
	_, scale, err := get(tensorMetricScale, 1)
	if err != nil {
		return mogeMap{}, err
	}
	if len(scale) != 1 || !(scale[0] > 0) {
		return mogeMap{}, fmt.Errorf("fov: moge output %q is %v, want one positive value", tensorMetricScale, scale)
	}
	return mogeMap{w: int(ps[2]), h: int(ps[1]), points: points, mask: mask, scale: float64(scale[0])}, nil
}

// samples takes the solve's 64×64 nearest samples of the frame-sized map
// straight from the engine-sized one. The reference's model resizes its
// outputs to the frame with bilinear interpolation (align_corners=False)
// and then picks nearest pixels, so each sample is the bilinear value of
// the engine map at that frame pixel's centre; the other pixels of the
// frame-sized map are never needed. (The reference interpolates the mask
// logits before the sigmoid; the engine's mask is already a probability,
// so the 0.5 threshold can differ at mask edges.)
func (m mogeMap) samples(W, H int) Samples {
	var xd, yd [SampleSize]int // frame pixels of the samples
	var xs, ys [SampleSize]resample.Lerp
	for i := range SampleSize {
		xd[i], yd[i] = nearestIndex(i, W, SampleSize), nearestIndex(i, H, SampleSize)
		xs[i] = resample.InterpolateTap(xd[i], m.w, W)
		ys[i] = resample.InterpolateTap(yd[i], m.h, H)
	}
	half := math.Hypot(float64(W), float64(H)) / 2
	s := Samples{XYZ: make([]float32, 0, 3*SampleSize*SampleSize), UV: make([]float32, 0, 2*SampleSize*SampleSize)}
	for iy, y := range ys {
		v := float32((float64(yd[iy]) + 0.5 - float64(H)/2) / half)
		for ix, x := range xs {
			at := func(v []float32, c, n int) float32 {
				p := func(i, j int) float32 { return v[(i*m.w+j)*n+c] }
				top := x.W0*p(y.I0, x.I0) + x.W1*p(y.I0, x.I1)
				bot := x.W0*p(y.I1, x.I0) + x.W1*p(y.I1, x.I1)
				return y.W0*top + y.W1*bot
			}
			if !(at(m.mask, 0, 1) > 0.5) {
				continue
			}
			u := float32((float64(xd[ix]) + 0.5 - float64(W)/2) / half)
			s.XYZ = append(s.XYZ, at(m.points, 0, 3), at(m.points, 1, 3), at(m.points, 2, 3))
			s.UV = append(s.UV, u, v)
		}
	}
	return s
}
