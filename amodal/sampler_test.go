package amodal

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
)

func TestKarrasScheduleEnds(t *testing.T) {
	s, err := karrasSchedule(25, 0.002, 700, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sigmas) != 26 || len(s.Timesteps) != 25 {
		t.Fatalf("got %d sigmas, %d timesteps", len(s.Sigmas), len(s.Timesteps))
	}
	if math.Abs(s.Sigmas[0]-700) > 1e-9 || math.Abs(s.Sigmas[24]-0.002) > 1e-15 || s.Sigmas[25] != 0 {
		t.Errorf("ends %g %g %g, want 700 0.002 0", s.Sigmas[0], s.Sigmas[24], s.Sigmas[25])
	}
	for i := 1; i < 25; i++ {
		if !(s.Sigmas[i] < s.Sigmas[i-1]) {
			t.Errorf("sigma %d = %g not below %g", i, s.Sigmas[i], s.Sigmas[i-1])
		}
		if d := s.Timesteps[i] - 0.25*math.Log(s.Sigmas[i]); d != 0 {
			t.Errorf("timestep %d off by %g", i, d)
		}
	}
}

func TestKarrasScheduleBad(t *testing.T) {
	for _, c := range []struct {
		name        string
		steps       int
		lo, hi, rho float64
		want        string
	}{
		{"one step", 1, 0.002, 700, 7, "steps"},
		{"zero min", 25, 0, 700, 7, "sigma_min"},
		{"min above max", 25, 800, 700, 7, "sigma_min"},
		{"NaN max", 25, 0.002, math.NaN(), 7, "sigma_max"},
		{"zero rho", 25, 0.002, 700, 0, "rho"},
	} {
		_, err := karrasSchedule(c.steps, c.lo, c.hi, c.rho)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %q", c.name, err, c.want)
		}
	}
}

func TestInterleaveEmbeddings(t *testing.T) {
	emb := make([]float32, 2*EmbedDim)
	for i := range emb {
		emb[i] = float32(i + 1)
	}
	ehs, err := interleaveEmbeddings(emb)
	if err != nil {
		t.Fatal(err)
	}
	if got := ehs.Shape().String(); got != "[4,1,1024]" {
		t.Fatalf("shape %s", got)
	}
	d := ehs.Float32()
	for row, want := range []float32{0, 1, 0, 1 + EmbedDim} {
		if d[row*EmbedDim] != want {
			t.Errorf("row %d starts %g, want %g", row, d[row*EmbedDim], want)
		}
	}
	if _, err := interleaveEmbeddings(make([]float32, 1000)); err == nil {
		t.Error("1000 values: no error")
	}
}

// fakeUNet returns a fixed v for both halves and records its inputs.
type fakeUNet struct {
	vu, vc  float32
	samples [][]float32
	steps   []float32
	nan     int // step at which to return NaN; -1 never
}

func (u *fakeUNet) Info() engine.Info { return engine.Info{} }

func (u *fakeUNet) Run(_ context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	s := in["sample"].Shape()
	f, h, w := int(s[1]), int(s[3]), int(s[4])
	u.samples = append(u.samples, append([]float32{}, in["sample"].Float32()...))
	u.steps = append(u.steps, in["timestep"].Float32()[0])
	n := f * 4 * h * w
	v := make([]float32, 2*n)
	for i := range n {
		v[i], v[n+i] = u.vu, u.vc
		if len(u.steps)-1 == u.nan {
			v[i] = float32(math.NaN())
		}
	}
	t, err := engine.FromFloat32(engine.Shape{2, int64(f), 4, int64(h), int64(w)}, v)
	return map[string]*engine.Tensor{"noise_pred": t}, err
}

func (u *fakeUNet) Close() error { return nil }

func filled(f, h, w int, v float32) Latents {
	l := newLatents(f, h, w)
	for i := range l.Data {
		l.Data[i] = v
	}
	return l
}

// TestSamplerArithmetic follows one latent value through the loop in
// float64 with a constant v and checks every step and the UNet inputs.
func TestSamplerArithmetic(t *testing.T) {
	const f, h, w = 2, 2, 3
	u := &fakeUNet{vu: 0.3, vc: -0.2, nan: -1}
	s := defaultSampler()
	var got []float32
	s.OnStep = func(_ int, x Latents) { got = append(got, x.Data[0]) }
	ehs, _ := interleaveEmbeddings(make([]float32, f*EmbedDim))
	out, err := s.Sample(context.Background(), u, filled(f, h, w, 0.5), filled(f, h, w, -0.5), ehs, filled(f, h, w, 1))
	if err != nil {
		t.Fatal(err)
	}
	sched, _ := karrasSchedule(25, 0.002, 700, 7)
	x := math.Sqrt(700*700 + 1)
	v := 0.3 + 1.5*(-0.2-0.3)
	for i := range 25 {
		sg, nx := sched.Sigmas[i], sched.Sigmas[i+1]
		if want := float32(x / math.Sqrt(sg*sg+1)); math.Abs(float64(u.samples[i][0]-want)) > 1e-6*math.Abs(float64(want)) {
			t.Errorf("step %d: UNet sample %g, want %g", i, u.samples[i][0], want)
		}
		if float64(u.steps[i]) != float64(float32(sched.Timesteps[i])) {
			t.Errorf("step %d: timestep %g", i, u.steps[i])
		}
		x0 := v*(-sg/math.Sqrt(sg*sg+1)) + x/(sg*sg+1)
		x = float64(float32(x + (x-x0)/sg*(nx-sg)))
		if math.Abs(float64(got[i])-x) > 1e-5*math.Max(1, math.Abs(x)) {
			t.Errorf("step %d: latent %g, want %g", i, got[i], x)
		}
	}
	if out.Data[len(out.Data)-1] != got[24] {
		t.Errorf("last element %g, first %g: latents not uniform", out.Data[len(out.Data)-1], got[24])
	}
	// Unconditional half: zero conditions; conditional: condA then condB.
	fl := 4 * h * w
	smp := u.samples[0]
	for _, c := range []struct {
		name string
		at   int
		want float32
	}{
		{"uncond cond A", fl, 0}, {"uncond cond B", 2 * fl, 0},
		{"cond cond A", f*3*fl + fl, 0.5}, {"cond cond B", f*3*fl + 2*fl, -0.5},
	} {
		if smp[c.at] != c.want {
			t.Errorf("%s = %g, want %g", c.name, smp[c.at], c.want)
		}
	}
}

func TestSamplerBadInput(t *testing.T) {
	ehs, _ := interleaveEmbeddings(make([]float32, 2*EmbedDim))
	ehs3, _ := interleaveEmbeddings(make([]float32, 3*EmbedDim))
	good := filled(2, 2, 3, 0)
	short := good
	short.Data = short.Data[:5]
	for _, c := range []struct {
		name        string
		a, b, noise Latents
		ehs         *engine.Tensor
		nanStep     int
		want        string
	}{
		{"short cond A", short, good, good, ehs, -1, "condition A"},
		{"cond B other size", good, filled(2, 2, 4, 0), good, ehs, -1, "condition B"},
		{"empty noise", good, good, Latents{}, ehs, -1, "noise"},
		{"ehs frames", good, good, good, ehs3, -1, "encoder_hidden_states"},
		{"nil ehs", good, good, good, nil, -1, "encoder_hidden_states"},
		{"NaN at step 3", good, good, good, ehs, 3, "step 3"},
	} {
		u := &fakeUNet{nan: c.nanStep}
		_, err := defaultSampler().Sample(context.Background(), u, c.a, c.b, c.ehs, c.noise)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %q", c.name, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := defaultSampler().Sample(ctx, &fakeUNet{nan: -1}, good, good, ehs, good); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestGaussianNoiseSeeded(t *testing.T) {
	a, b := gaussianNoise(23, 10000), gaussianNoise(23, 10000)
	var sum, sq float64
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("value %d differs between equal seeds", i)
		}
		sum += float64(a[i])
		sq += float64(a[i]) * float64(a[i])
	}
	mean, vr := sum/1e4, sq/1e4-(sum/1e4)*(sum/1e4)
	if math.Abs(mean) > 0.05 || math.Abs(vr-1) > 0.05 {
		t.Errorf("mean %g variance %g, want about 0 and 1", mean, vr)
	}
}

// tinyUNet loads sample/models/tiny's UNet; without the ONNX Runtime
// library the test fails unless BODY4D_SKIP_ORT=1.
func tinyUNet(t testing.TB) engine.Engine {
	t.Helper()
	rt := orttest.Runtime(t, ort.Options{})
	dir := orttest.Tiny(t)
	p, err := dir.EnginePath("amodal", "unet")
	if err != nil {
		t.Fatal(err)
	}
	e, err := rt.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
