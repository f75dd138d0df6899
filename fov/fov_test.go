package fov

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

func TestViewPlaneUV(t *testing.T) {
	const w, h = 4, 3 // D = 5
	uv := ViewPlaneUV(w, h)
	want := map[[2]int][2]float64{
		{0, 0}: {-1.5 / 2.5, -1 / 2.5},
		{3, 2}: {1.5 / 2.5, 1 / 2.5},
		{1, 1}: {-0.5 / 2.5, 0},
	}
	for p, uvw := range want {
		i := 2 * (p[1]*w + p[0])
		if math.Abs(float64(uv[i])-uvw[0]) > 1e-7 || math.Abs(float64(uv[i+1])-uvw[1]) > 1e-7 {
			t.Errorf("uv at %v = (%v,%v), want %v", p, uv[i], uv[i+1], uvw)
		}
	}
}

func TestNearestIndex(t *testing.T) {
	// ATen: floor(dst·(in/out)) in float32, clamped to in−1.
	for _, c := range []struct{ dst, in, out, want int }{
		{0, 96, 64, 0}, {1, 96, 64, 1}, {2, 96, 64, 3}, {63, 96, 64, 94},
		{63, 72, 64, 70}, {5, 40, 64, 3}, {63, 40, 64, 39}, {7, 64, 64, 7},
		{63, 1080, 64, 1063}, {63, 1920, 64, 1890},
	} {
		if got := nearestIndex(c.dst, c.in, c.out); got != c.want {
			t.Errorf("nearestIndex(%d, %d→%d) = %d, want %d", c.dst, c.in, c.out, got, c.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	good := make([]float32, 3*4*4)
	for i := range good {
		good[i] = 1
	}
	nan := append([]float32(nil), good...)
	nan[3*5+1] = float32(math.NaN())
	maskOff := make([]bool, 16)
	for i := range maskOff {
		maskOff[i] = i != 5
	}
	for _, c := range []struct {
		name   string
		points []float32
		mask   []bool
		w, h   int
		want   string // "" means no error
	}{
		{"zero size", nil, nil, 0, 4, "at least one pixel"},
		{"negative size", nil, nil, 4, -1, "at least one pixel"},
		{"short map", good[:10], nil, 4, 4, "needs 48 values"},
		{"mask size", good, make([]bool, 15), 4, 4, "mask has 15 pixels"},
		{"NaN point", nan, nil, 4, 4, "pixel (1,1) has y = NaN"},
		{"NaN masked out", nan, maskOff, 4, 4, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Recover(c.points, c.mask, c.w, c.h, 0)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// A point on z = 0 makes the residual infinite at the start, which
	// scipy refuses; so do we.
	zero := []float32{0.1, 0.1, 0, 0.2, 0.1, 1}
	if _, err := SolveFocalShift(Samples{XYZ: zero, UV: []float32{0.1, 0.1, 0.2, 0.1}}); !errors.Is(err, errNotFinite) {
		t.Errorf("z = 0: error %v, want %v", err, errNotFinite)
	}
	if _, err := SolveFocalShift(Samples{XYZ: good[:7], UV: make([]float32, 4)}); err == nil {
		t.Error("ragged samples: no error")
	}
	if _, err := SolveShift(Samples{}, -1); err == nil {
		t.Error("negative known focal: no error")
	}
}

func TestIntrinsics(t *testing.T) {
	const w, h = 1920, 1080
	f := 1.2
	d := math.Hypot(w, h)
	k := PixelIntrinsics(f, w, h, false)
	for _, v := range []float64{k.Fx, k.Fy} {
		if math.Abs(v-f*d/2) > 1e-9*d {
			t.Errorf("focal %v px, want f·D/2 = %v", v, f*d/2)
		}
	}
	if k.Cx != w/2 || k.Cy != h/2 {
		t.Errorf("principal point (%v,%v), want image centre", k.Cx, k.Cy)
	}
	if sq := PixelIntrinsics(f, w, h, true); sq.Fx != sq.Fy || sq.Fy != k.Fy {
		t.Errorf("square pixels: fx %v fy %v, want fx := fy = %v", sq.Fx, sq.Fy, k.Fy)
	}
	// FOV round trip through the known-FOV focal.
	if got := FOVX(FocalFromFOVX(60, w, h), w, h); math.Abs(got-60) > 1e-9 {
		t.Errorf("FOVX(FocalFromFOVX(60)) = %v", got)
	}
	n := NormalizedIntrinsics(f, w, h)
	if n.Cx != 0.5 || n.Cy != 0.5 || math.Abs(n.Fx*w-n.Fy*h) > 1e-9 {
		t.Errorf("normalised %+v: want cx=cy=0.5 and fx·W = fy·H", n)
	}
}

func TestDepth(t *testing.T) {
	points := []float32{0, 0, 1, 0, 0, -0.5, 0, 0, 0.2}
	depth, mask, err := Depth(points, []bool{true, true, false}, 3, 1, 0.3, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{2.6, -0.4, 1}
	wantMask := []bool{true, false, false}
	for i := range depth {
		if math.Abs(float64(depth[i]-want[i])) > 1e-6 || mask[i] != wantMask[i] {
			t.Errorf("pixel %d: depth %v mask %v, want %v %v", i, depth[i], mask[i], want[i], wantMask[i])
		}
	}
	if _, _, err := Depth(points, nil, 3, 1, 0, 0); err == nil {
		t.Error("zero metric scale: no error")
	}
}

func TestInputSize(t *testing.T) {
	for _, c := range []struct{ w, h, level, wantH, wantW int }{
		{1920, 1080, 9, 14 * 45, 14 * 80},
		{640, 480, 9, 14 * 52, 14 * 69},
		{512, 512, 9, 14 * 60, 14 * 60},
		{512, 512, 0, 14 * 35, 14 * 35},
		{1080, 1920, 9, 14 * 80, 14 * 45},
	} {
		n, err := NumTokens(c.level)
		if err != nil {
			t.Fatal(err)
		}
		h, w, err := InputSize(c.w, c.h, n)
		if err != nil || h != c.wantH || w != c.wantW {
			t.Errorf("InputSize(%d×%d, level %d) = %d×%d, %v; want %d×%d", c.w, c.h, c.level, w, h, err, c.wantW, c.wantH)
		}
	}
	if _, err := NumTokens(10); err == nil {
		t.Error("level 10: no error")
	}
	if _, _, err := InputSize(0, 10, 3600); err == nil {
		t.Error("zero width: no error")
	}
}

func TestResizeInput(t *testing.T) {
	// A horizontal ramp 0..7 resized to 4 columns: torch's antialiased
	// triangle has support 2 here; interior outputs average symmetric taps
	// (value c−0.5), border ones renormalise the taps that exist.
	img := scene.NewRGB(image.Rect(0, 0, 8, 2))
	for x := range 8 {
		for y := range 2 {
			img.SetRGB(x, y, uint8(x), uint8(10*x), 255)
		}
	}
	out, err := ResizeInput(img, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{5.0 / 7, 2.5, 4.5, 44.0 / 7}
	for i, v := range want {
		if math.Abs(float64(out[i])*255-v) > 1e-4 || math.Abs(float64(out[4+i])*255-10*v) > 1e-3 {
			t.Errorf("column %d: R %v G %v, want %v %v", i, out[i]*255, out[4+i]*255, v, 10*v)
		}
		if math.Abs(float64(out[8+i])-1) > 1e-6 {
			t.Errorf("column %d: B %v, want 1", i, out[8+i])
		}
	}
	// Same size: identity.
	same, err := ResizeInput(img, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	for x := range 8 {
		if math.Abs(float64(same[x])*255-float64(x)) > 1e-4 {
			t.Errorf("identity resize: pixel %d is %v", x, same[x]*255)
		}
	}
	if _, err := ResizeInput(scene.NewRGB(image.Rect(0, 0, 0, 5)), 14, 14); err == nil {
		t.Error("empty frame: no error")
	}
	if _, err := ResizeInput(img, 0, 14); err == nil {
		t.Error("zero target: no error")
	}
}

// fakeMoGe returns the affine point map of a tilted ground plane seen by a
// camera of known focal (half-diagonal units), shifted by a known amount.
type fakeMoGe struct {
	focal, shift float64
	tokens       bool
	flat         bool // a wall facing the camera: constant depth
	calls        int
}

func (f *fakeMoGe) Info() engine.Info {
	in := []engine.TensorInfo{{Name: tensorImage, DType: engine.Float32, Shape: engine.Shape{1, 3, -1, -1}}}
	if f.tokens {
		in = append(in, engine.TensorInfo{Name: tensorNumTokens, DType: engine.Int64, Shape: engine.Shape{}})
	}
	return engine.Info{Inputs: in}
}

func (f *fakeMoGe) Close() error { return nil }

func (f *fakeMoGe) Run(_ context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	f.calls++
	s := in[tensorImage].Shape()
	if f.tokens && in[tensorNumTokens] == nil {
		return nil, errors.New("num_tokens not fed")
	}
	h, w := int(s[2]), int(s[3])
	uv := ViewPlaneUV(w, h)
	pts := make([]float32, 3*h*w)
	mask := make([]float32, h*w)
	for i := range h * w {
		y := i / w
		z := 3 + 2*float64(y)/float64(h)
		if f.flat {
			z = 3
		}
		pts[3*i] = float32(float64(uv[2*i]) * z / f.focal)
		pts[3*i+1] = float32(float64(uv[2*i+1]) * z / f.focal)
		pts[3*i+2] = float32(z - f.shift)
		if y > h/10 {
			mask[i] = 0.9
		}
	}
	p := engine.Must(engine.FromFloat32(engine.Shape{1, int64(h), int64(w), 3}, pts))
	m := engine.Must(engine.FromFloat32(engine.Shape{1, int64(h), int64(w)}, mask))
	sc := engine.Must(engine.FromFloat32(engine.Shape{1}, []float32{2}))
	return map[string]*engine.Tensor{tensorPoints: p, tensorMask: m, tensorMetricScale: sc}, nil
}

type fakeVideo struct {
	info scene.VideoInfo
}

func (v fakeVideo) Info() scene.VideoInfo { return v.info }
func (v fakeVideo) Frame(i int) (*scene.RGB, error) {
	return scene.NewRGB(image.Rect(0, 0, v.info.Width, v.info.Height)), nil
}

func TestEstimator(t *testing.T) {
	ctx := context.Background()
	eng := &fakeMoGe{focal: 1.1, shift: 0.7, tokens: true}
	est, err := New(eng, Options{Tokens: 1200})
	if err != nil {
		t.Fatal(err)
	}
	const W, H = 320, 240
	r, err := est.Frame(ctx, scene.NewRGB(image.Rect(0, 0, W, H)))
	if err != nil {
		t.Fatal(err)
	}
	// The engine map (14·40 × 14·30) is resampled to the frame's grid;
	// the plane's y is quadratic in the row, so bilinear resampling is
	// not exact: allow 1e-3.
	if math.Abs(r.Focal-1.1) > 1e-3 || math.Abs(r.Shift-0.7) > 1e-3 || r.MetricScale != 2 {
		t.Errorf("focal %v shift %v scale %v, want 1.1, 0.7, 2", r.Focal, r.Shift, r.MetricScale)
	}
	if want := 1.1 * math.Hypot(W, H) / 2; math.Abs(r.Intrinsics.Fy-want) > 1e-3*want || r.Intrinsics.Fx != r.Intrinsics.Fy {
		t.Errorf("intrinsics %+v, want fx = fy = %v", r.Intrinsics, want)
	}

	if r.IllConditioned() || !(r.Sensitivity > 0) {
		t.Errorf("tilted ground plane: sensitivity %v, want well-conditioned (and above 0)", r.Sensitivity)
	}

	video := fakeVideo{scene.VideoInfo{Width: W, Height: H, Frames: 20}}
	eng.calls = 0
	var reported []int
	est.opts.OnFrame = func(i int, r FrameResult) {
		if r.IllConditioned() {
			t.Errorf("frame %d: ill-conditioned on the ground plane", i)
		}
		reported = append(reported, i)
	}
	cams, err := est.Intrinsics(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	if len(cams) != 20 || eng.calls != 8 || cams[0] != cams[19] {
		t.Errorf("per video: %d cameras from %d engine runs; want 20 equal ones from 8", len(cams), eng.calls)
	}
	if fmt.Sprint(reported) != "[1 3 6 8 11 13 16 18]" {
		t.Errorf("OnFrame reported frames %v, want the 8 sampled ones [1 3 6 8 11 13 16 18]", reported)
	}

	// A wall facing the camera: every frame's solve is ill-conditioned.
	var ill []int
	wall, err := New(&fakeMoGe{focal: 1.1, shift: 0.7, flat: true}, Options{Tokens: 1200, PerFrame: true,
		OnFrame: func(i int, r FrameResult) {
			if r.IllConditioned() {
				ill = append(ill, i)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wall.Intrinsics(ctx, fakeVideo{scene.VideoInfo{Width: W, Height: H, Frames: 3}}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ill) != "[0 1 2]" {
		t.Errorf("flat map: ill-conditioned frames %v, want [0 1 2]", ill)
	}
	per, err := New(eng, Options{Tokens: 1200, PerFrame: true})
	if err != nil {
		t.Fatal(err)
	}
	eng.calls = 0
	if cams, err = per.Intrinsics(ctx, video); err != nil || len(cams) != 20 || eng.calls != 20 {
		t.Errorf("per frame: %d cameras from %d runs, %v; want 20 from 20", len(cams), eng.calls, err)
	}
	known, err := New(nil, Options{FOVX: 60})
	if err != nil {
		t.Fatal(err)
	}
	cams, err = known.Intrinsics(ctx, video)
	if err != nil || math.Abs(FOVX(2*cams[0].Fx/math.Hypot(W, H), W, H)-60) > 1e-9 {
		t.Errorf("known FOV: %+v, %v", cams, err)
	}
}

func TestEstimatorBadInput(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opts Options
		eng  engine.Engine
	}{
		{"negative tokens", Options{Tokens: -1}, &fakeMoGe{focal: 1}},
		{"fov too wide", Options{FOVX: 190}, &fakeMoGe{focal: 1}},
		{"no engine", Options{}, nil},
	} {
		if _, err := New(c.eng, c.opts); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	est, _ := New(&fakeMoGe{focal: 1}, Options{})
	if _, err := est.Intrinsics(ctx, fakeVideo{scene.VideoInfo{Width: 4, Height: 4}}); err == nil {
		t.Error("zero-frame video: no error")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := est.Intrinsics(cancelled, fakeVideo{scene.VideoInfo{Width: 4, Height: 4, Frames: 3}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v", err)
	}
	if _, err := est.Frame(ctx, scene.NewRGB(image.Rect(0, 0, 0, 0))); err == nil {
		t.Error("empty frame: no error")
	}
	bad := map[string]*engine.Tensor{}
	if _, err := readOutputs(bad); err == nil || !strings.Contains(err.Error(), `"points"`) {
		t.Errorf("missing points: %v", err)
	}
	p := engine.Must(engine.FromFloat32(engine.Shape{1, 2, 2, 3}, make([]float32, 12)))
	m := engine.Must(engine.FromFloat32(engine.Shape{1, 2, 3}, make([]float32, 6)))
	s := engine.Must(engine.FromFloat32(engine.Shape{1}, []float32{1}))
	if _, err := readOutputs(map[string]*engine.Tensor{tensorPoints: p, tensorMask: m, tensorMetricScale: s}); err == nil {
		t.Error("mask/points size mismatch: no error")
	}
	n := engine.Must(engine.FromFloat32(engine.Shape{1}, []float32{float32(math.NaN())}))
	m2 := engine.Must(engine.FromFloat32(engine.Shape{1, 2, 2}, make([]float32, 4)))
	if _, err := readOutputs(map[string]*engine.Tensor{tensorPoints: p, tensorMask: m2, tensorMetricScale: n}); err == nil {
		t.Error("NaN metric scale: no error")
	}
}

func goldenByName(b *testing.B, name string) goldenCase {
	for _, c := range loadGolden(b) {
		if c.Name == name {
			return c
		}
	}
	b.Fatalf("no golden case %q", name)
	return goldenCase{}
}

// BenchmarkSolve solves a full 64×64 grid (4096 samples, no mask).
func BenchmarkSolve(b *testing.B) {
	c := goldenByName(b, "wide_nomask")
	points, mask := c.load(b)
	s, err := Downsample(points, mask, c.Width, c.Height)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SolveFocalShift(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecover adds the downsample of a 72×96 masked map.
func BenchmarkRecover(b *testing.B) {
	c := goldenByName(b, "realistic")
	points, mask := c.load(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Recover(points, mask, c.Width, c.Height, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSamplesMatchUpsampleThenDownsample checks the shortcut in
// mogeMap.samples: reading the 64×64 nearest samples bilinearly from the
// engine-sized map equals upsampling the whole map to the frame first (as
// the reference's model does) and then downsampling it.
func TestSamplesMatchUpsampleThenDownsample(t *testing.T) {
	const mw, mh, W, H = 42, 28, 150, 100
	m := mogeMap{w: mw, h: mh, points: make([]float32, 3*mw*mh), mask: make([]float32, mw*mh), scale: 1}
	for i := range mw * mh {
		x, y := float64(i%mw), float64(i/mw)
		m.points[3*i] = float32(math.Sin(x/7) + y/10)
		m.points[3*i+1] = float32(math.Cos(y/5) * x / 20)
		m.points[3*i+2] = float32(2 + x*y/400)
		m.mask[i] = float32(0.5 + 0.5*math.Sin((x+y)/6))
	}
	got := m.samples(W, H)

	full := make([]float32, 3*W*H)
	mask := make([]bool, W*H)
	for Y := range H {
		ly := resample.InterpolateTap(Y, mh, H)
		for X := range W {
			lx := resample.InterpolateTap(X, mw, W)
			at := func(v []float32, c, n int) float32 {
				p := func(i, j int) float32 { return v[(i*mw+j)*n+c] }
				return ly.W0*(lx.W0*p(ly.I0, lx.I0)+lx.W1*p(ly.I0, lx.I1)) + ly.W1*(lx.W0*p(ly.I1, lx.I0)+lx.W1*p(ly.I1, lx.I1))
			}
			k := Y*W + X
			for c := range 3 {
				full[3*k+c] = at(m.points, c, 3)
			}
			mask[k] = at(m.mask, 0, 1) > 0.5
		}
	}
	want, err := Downsample(full, mask, W, H)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != want.Len() || got.Len() == 0 {
		t.Fatalf("%d samples, want %d", got.Len(), want.Len())
	}
	for i := range got.XYZ {
		if got.XYZ[i] != want.XYZ[i] {
			t.Fatalf("xyz value %d: %v, want %v", i, got.XYZ[i], want.XYZ[i])
		}
	}
	for i := range got.UV {
		if got.UV[i] != want.UV[i] {
			t.Fatalf("uv value %d: %v, want %v", i, got.UV[i], want.UV[i])
		}
	}
}
