package amodal

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/internal/npytest"
)

// Goldens from tools/golden/amodal/make_golden.py (diffusers
// EulerDiscreteScheduler as SVD-xt, tiny UNet through onnxruntime).
const goldenF, goldenH, goldenW = 3, 8, 16

func readNpy[T float32 | float64](t testing.TB, name string) []T {
	return npytest.Read[T](t, filepath.Join("..", "testdata", "amodal", name))
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-12)
}

func TestScheduleMatchesDiffusers(t *testing.T) {
	sigmas, steps := readNpy[float64](t, "sigmas.npy"), readNpy[float64](t, "timesteps.npy")
	s := defaultSampler()
	got, err := karrasSchedule(s.Steps, s.SigmaMin, s.SigmaMax, s.Rho)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Sigmas) != len(sigmas) || len(got.Timesteps) != len(steps) {
		t.Fatalf("%d sigmas, %d timesteps; golden has %d, %d", len(got.Sigmas), len(got.Timesteps), len(sigmas), len(steps))
	}
	var worst float64
	for i, w := range sigmas {
		if w == 0 {
			if got.Sigmas[i] != 0 {
				t.Errorf("sigma %d = %g, want 0", i, got.Sigmas[i])
			}
			continue
		}
		worst = math.Max(worst, relErr(got.Sigmas[i], w))
	}
	for i, w := range steps {
		worst = math.Max(worst, relErr(got.Timesteps[i], w))
	}
	t.Logf("worst relative error vs diffusers: %.3g", worst)
	if worst > 1e-6 {
		t.Errorf("worst relative error %.3g > 1e-6", worst)
	}
}

func goldenLatents(t testing.TB, name string) Latents {
	return Latents{goldenF, goldenH, goldenW, readNpy[float32](t, name)}
}

func TestSamplerMatchesReference(t *testing.T) {
	unet := tinyUNet(t)
	want := readNpy[float32](t, "steps.npy")
	ehs, err := interleaveEmbeddings(readNpy[float32](t, "embeds.npy"))
	if err != nil {
		t.Fatal(err)
	}
	s := defaultSampler()
	n := goldenF * LatentChannels * goldenH * goldenW
	if len(want) != s.Steps*n {
		t.Fatalf("steps.npy holds %d values, want %d", len(want), s.Steps*n)
	}
	var worstAll float64
	s.OnStep = func(step int, x Latents) {
		// Relative to the step's largest magnitude: single elements
		// near zero carry float32 rounding of the large ones.
		ref := want[step*n : (step+1)*n]
		var scale, worst float64
		for _, v := range ref {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i, v := range x.Data {
			worst = math.Max(worst, math.Abs(float64(v)-float64(ref[i]))/scale)
		}
		worstAll = math.Max(worstAll, worst)
		if worst > 1e-4 {
			t.Errorf("step %d: relative error %.3g > 1e-4", step, worst)
		}
	}
	if _, err := s.Sample(context.Background(), unet, goldenLatents(t, "cond_a.npy"), goldenLatents(t, "cond_b.npy"), ehs, goldenLatents(t, "noise.npy")); err != nil {
		t.Fatal(err)
	}
	t.Logf("worst per-step relative error vs reference: %.3g", worstAll)
}

func BenchmarkSamplerStep(b *testing.B) {
	unet := tinyUNet(b)
	ehs, _ := interleaveEmbeddings(readNpy[float32](b, "embeds.npy"))
	a, c, nz := goldenLatents(b, "cond_a.npy"), goldenLatents(b, "cond_b.npy"), goldenLatents(b, "noise.npy")
	s := defaultSampler()
	timed := &timedEngine{Engine: unet}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Sample(context.Background(), timed, a, c, ehs, nz); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	steps := float64(b.N * s.Steps)
	total := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(total/steps, "ns/step")
	b.ReportMetric(float64(timed.ns)/steps, "engine-ns/step")
	b.ReportMetric((total-float64(timed.ns))/steps, "host-ns/step")
}
