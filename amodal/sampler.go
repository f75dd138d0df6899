package amodal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/body4d/body4d/engine"
)

// LatentChannels is the number of channels of the SVD VAE latent.
const LatentChannels = 4

// EmbedDim is the width of a CLIP image embedding.
const EmbedDim = 1024

// Latents is a clip of F latent frames laid out [F,4,H,W].
type Latents struct {
	Frames, Height, Width int
	Data                  []float32
}

// newLatents returns zeroed latents of the given size.
func newLatents(frames, height, width int) Latents {
	return Latents{frames, height, width, make([]float32, frames*LatentChannels*height*width)}
}

func (l Latents) frameLen() int { return LatentChannels * l.Height * l.Width }

func (l Latents) check(name string) error {
	if l.Frames <= 0 || l.Height <= 0 || l.Width <= 0 {
		return fmt.Errorf("amodal: %s latents have size %dx%dx%d", name, l.Frames, l.Height, l.Width)
	}
	if len(l.Data) != l.Frames*l.frameLen() {
		return fmt.Errorf("amodal: %s latents hold %d values, want %d for [%d,4,%d,%d]",
			name, len(l.Data), l.Frames*l.frameLen(), l.Frames, l.Height, l.Width)
	}
	return nil
}

func (l Latents) sameSize(m Latents) bool {
	return l.Frames == m.Frames && l.Height == m.Height && l.Width == m.Width
}

// Sampler denoises amodal latents with the reference Euler v-prediction
// loop and classifier-free guidance (segment-amodal.md C.3).
type Sampler struct {
	Steps              int
	SigmaMin, SigmaMax float64
	Rho                float64
	Guidance           float64
	FPS, MotionBucket  int
	NoiseAug           float64
	// OnStep, if set, sees the latents after each step (index from 0).
	OnStep func(step int, x Latents)
}

// defaultSampler returns the settings the reference runs with.
func defaultSampler() Sampler {
	return Sampler{Steps: 25, SigmaMin: 0.002, SigmaMax: 700, Rho: 7, Guidance: 1.5, FPS: 8, MotionBucket: 127, NoiseAug: 0.02}
}

// interleaveEmbeddings builds encoder_hidden_states [2F,1,1024] from one
// CLIP embedding per frame as the reference pipeline does: zeros for the
// unconditional row, interleaved [neg0,pos0,neg1,pos1,...] even though the
// UNet batch is [uncond frames; cond frames] (segment-amodal.md C.3).
func interleaveEmbeddings(embeds []float32) (*engine.Tensor, error) {
	if len(embeds) == 0 || len(embeds)%EmbedDim != 0 {
		return nil, fmt.Errorf("amodal: %d embedding values is not a whole number of %d-wide embeddings", len(embeds), EmbedDim)
	}
	f := len(embeds) / EmbedDim
	out := make([]float32, 2*f*EmbedDim)
	for i := range f {
		copy(out[(2*i+1)*EmbedDim:(2*i+2)*EmbedDim], embeds[i*EmbedDim:(i+1)*EmbedDim])
	}
	return engine.FromFloat32(engine.Shape{int64(2 * f), 1, EmbedDim}, out)
}

// gaussianNoise returns n standard normal values from a PCG source seeded
// with seed. It is Go's generator, not PyTorch's: parity tests pass the
// reference's noise in instead of drawing it here.
func gaussianNoise(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x626f64793464))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// Sample runs the denoising loop. condA and condB are the condition
// latents (already noise-augmented and VAE-encoded), ehs comes from
// interleaveEmbeddings and noise is the unit-variance initial latent.
func (s Sampler) Sample(ctx context.Context, unet engine.Engine, condA, condB Latents, ehs *engine.Tensor, noise Latents) (Latents, error) {
	for _, c := range []struct {
		name string
		l    Latents
	}{{"condition A", condA}, {"condition B", condB}, {"noise", noise}} {
		if err := c.l.check(c.name); err != nil {
			return Latents{}, err
		}
		if !c.l.sameSize(noise) {
			return Latents{}, fmt.Errorf("amodal: %s latents are %dx%dx%d, noise is %dx%dx%d",
				c.name, c.l.Frames, c.l.Height, c.l.Width, noise.Frames, noise.Height, noise.Width)
		}
	}
	if unet == nil {
		return Latents{}, errors.New("amodal: no UNet engine")
	}
	if ehs == nil {
		return Latents{}, errors.New("amodal: no encoder_hidden_states")
	}
	if want := (engine.Shape{int64(2 * noise.Frames), 1, EmbedDim}); ehs.Shape().String() != want.String() || ehs.DType() != engine.Float32 {
		return Latents{}, fmt.Errorf("amodal: encoder_hidden_states is %s %s, want float32 %s", ehs.DType(), ehs.Shape(), want)
	}
	sched, err := karrasSchedule(s.Steps, s.SigmaMin, s.SigmaMax, s.Rho)
	if err != nil {
		return Latents{}, err
	}
	f, h, w := noise.Frames, noise.Height, noise.Width
	fl := noise.frameLen()
	hw := h * w

	x := newLatents(f, h, w)
	scale0 := math.Sqrt(sched.Sigmas[0]*sched.Sigmas[0] + 1)
	for i, v := range noise.Data {
		x.Data[i] = float32(float64(v) * scale0)
	}

	// The condition channels of both halves never change: fill them once.
	// Layout [2,F,12,h,w]; the unconditional half keeps zero conditions.
	sampleData := make([]float32, 2*f*3*fl)
	for fr := range f {
		base := ((f + fr) * 3 * LatentChannels) * hw
		copy(sampleData[base+fl:base+2*fl], condA.Data[fr*fl:(fr+1)*fl])
		copy(sampleData[base+2*fl:base+3*fl], condB.Data[fr*fl:(fr+1)*fl])
	}
	shape := engine.Shape{2, int64(f), 3 * LatentChannels, int64(h), int64(w)}
	sample, err := engine.FromFloat32(shape, sampleData)
	if err != nil {
		return Latents{}, err
	}
	timestep := engine.Must(engine.FromFloat32(engine.Shape{1}, make([]float32, 1)))
	ids := []float32{float32(s.FPS - 1), float32(s.MotionBucket), float32(s.NoiseAug)}
	timeIDs := engine.Must(engine.FromFloat32(engine.Shape{2, 3}, append(append([]float32{}, ids...), ids...)))
	inputs := map[string]*engine.Tensor{
		"sample": sample, "timestep": timestep,
		"encoder_hidden_states": ehs, "added_time_ids": timeIDs,
	}

	for step := range s.Steps {
		if err := ctx.Err(); err != nil {
			return Latents{}, err
		}
		sigma, next := sched.Sigmas[step], sched.Sigmas[step+1]
		inScale := float32(1 / math.Sqrt(sigma*sigma+1))
		for half := range 2 {
			for fr := range f {
				dst := sampleData[((half*f+fr)*3*LatentChannels)*hw:][:fl]
				src := x.Data[fr*fl : (fr+1)*fl]
				for i, v := range src {
					dst[i] = v * inScale
				}
			}
		}
		timestep.Float32()[0] = float32(sched.Timesteps[step])
		out, err := unet.Run(ctx, inputs)
		if err != nil {
			return Latents{}, fmt.Errorf("amodal: UNet at step %d: %w", step, err)
		}
		v, err := noisePred(out, f, h, w)
		if err != nil {
			return Latents{}, fmt.Errorf("amodal: UNet at step %d: %w", step, err)
		}
		// Guidance, v-prediction x0 and the Euler step, in float64 per
		// element as diffusers computes them in float32 tensors.
		g := s.Guidance
		c0 := -sigma / math.Sqrt(sigma*sigma+1)
		c1 := 1 / (sigma*sigma + 1)
		dt := (next - sigma) / sigma
		n := f * fl
		for i := range n {
			vu, vc := float64(v[i]), float64(v[n+i])
			vg := vu + g*(vc-vu)
			xi := float64(x.Data[i])
			x0 := vg*c0 + xi*c1
			nx := xi + (xi-x0)*dt
			if math.IsNaN(nx) || math.IsInf(nx, 0) {
				return Latents{}, fmt.Errorf("amodal: latents became %v at step %d (sigma %g), element %d", nx, step, sigma, i)
			}
			x.Data[i] = float32(nx)
		}
		if s.OnStep != nil {
			s.OnStep(step, x)
		}
	}
	return x, nil
}

func noisePred(out map[string]*engine.Tensor, f, h, w int) ([]float32, error) {
	t, ok := out["noise_pred"]
	if !ok {
		return nil, errors.New("no noise_pred output")
	}
	want := engine.Shape{2, int64(f), LatentChannels, int64(h), int64(w)}
	if t.Shape().String() != want.String() {
		return nil, fmt.Errorf("noise_pred is %s, want %s", t.Shape(), want)
	}
	v, err := t.AsFloat32()
	if err != nil {
		return nil, fmt.Errorf("noise_pred: %w", err)
	}
	return v, nil
}
