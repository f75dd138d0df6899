package kernels

import (
	"math"
	"strings"
	"testing"
)

func TestResizeKnown(t *testing.T) {
	// A 2×1 image 0→255 resized to 4×1 with align_corners=False samples at
	// −¼ (clamped), ¼, ¾, 1¼ (clamped): 0, 63.75, 191.25, 255.
	src := []uint8{0, 0, 0, 255, 255, 255}
	dst := make([]float32, 3*4)
	if err := Resize(dst, 4, 1, src, 2, 1, Norm{Std: [3]float32{1, 1, 1}}); err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 63.75, 191.25, 255}
	for c := 0; c < 3; c++ {
		for x, w := range want {
			if got := float64(dst[c*4+x]) * 255; math.Abs(got-w) > 1e-3 {
				t.Errorf("channel %d x %d = %g, want %g", c, x, got, w)
			}
		}
	}
}

func TestResizeSameSizeNormalises(t *testing.T) {
	src := []uint8{10, 20, 30, 40, 50, 60}
	dst := make([]float32, 6)
	n := SAM3Norm()
	if err := Resize(dst, 2, 1, src, 2, 1, n); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 3; c++ {
		for x := 0; x < 2; x++ {
			want := (float64(src[x*3+c])/255 - 0.5) / 0.5
			if got := float64(dst[c*2+x]); math.Abs(got-want) > 1e-6 {
				t.Errorf("channel %d x %d = %g, want %g", c, x, got, want)
			}
		}
	}
}

func TestWarpConstantBorder(t *testing.T) {
	// A shift by half a pixel to the left of a 1×1 white image blends
	// with a black border: 127.5 at x=0.
	src := []uint8{255, 255, 255}
	dst := make([]float32, 3*2)
	if err := WarpAffine(dst, 2, 1, src, 1, 1, Warp{1, 0, -0.5, 0, 1, 0}, 0, Norm{Std: [3]float32{1, 1, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := dst[0] * 255; math.Abs(float64(got)-127.5) > 1e-3 {
		t.Errorf("x=0: %g, want 127.5", got)
	}
	if got := dst[1] * 255; math.Abs(float64(got)-127.5) > 1e-3 {
		t.Errorf("x=1: %g, want 127.5 (half border)", got)
	}
}

func TestUpsampleMaskKnown(t *testing.T) {
	// Logits −1, 1 resized 2→4 interpolate to −1, −½, ½, 1.
	mask := make([]uint8, 4)
	if err := UpsampleMask(mask, 4, 1, []float32{-1, 1}, 2, 1); err != nil {
		t.Fatal(err)
	}
	if want := []uint8{0, 0, 1, 1}; string(mask) != string(want) {
		t.Errorf("mask = %v, want %v", mask, want)
	}
}

func TestSkinKnown(t *testing.T) {
	s := float32(math.Sqrt(0.5))
	xform := []float32{
		0, 0, 0, 0, 0, 0, 1, 1, // identity
		1, 2, 3, 0, 0, s, s, 2, // translate (1,2,3), 90° about z, scale 2
	}
	rest := []float32{1, 0, 0}
	out := make([]float32, 3)
	// Half identity (1,0,0), half (1,2,3)+(0,2,0).
	if err := Skin(out, rest, xform, 1, 1, 2, Skinning{Vert: []int32{0, 0}, Joint: []int32{0, 1}, Weight: []float32{0.5, 0.5}}); err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 1.5}
	for i := range want {
		if math.Abs(float64(out[i]-want[i])) > 1e-6 {
			t.Fatalf("out = %v, want %v", out, want)
		}
	}
}

func TestRasterKnown(t *testing.T) {
	const W, H = 6, 6
	verts := []float32{0, 0, 2, 4, 0, 2, 0, 4, 2, 0, 0, 1, 2, 0, 1, 0, 2, 1}
	depth, face := make([]float32, W*H), make([]int32, W*H)
	// Triangle 0 covers the 10 pixel centres with x+y ≤ 4; triangle 1,
	// nearer, covers (0,0), (1,0), (0,1) (centre sums ≤ 2).
	if err := Raster(depth, face, W, H, verts, []int32{0, 1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	count := map[int32]int{}
	for _, f := range face {
		count[f]++
	}
	if count[0] != 7 || count[1] != 3 || count[-1] != W*H-10 {
		t.Errorf("face counts %v, want 0:7 1:3 -1:%d", count, W*H-10)
	}
	if depth[0] != 1 || depth[3] != 2 || !math.IsInf(float64(depth[W*H-1]), 1) {
		t.Errorf("depths %v %v %v, want 1 2 +Inf", depth[0], depth[3], depth[W*H-1])
	}
}

func TestBadInput(t *testing.T) {
	img := make([]uint8, 4*3*3)
	f := make([]float32, 3*2*2)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"zero size", Resize(f, 0, 2, img, 4, 3, SAM3Norm()), "sizes must be positive"},
		{"short source", Resize(f, 2, 2, img[:5], 4, 3, SAM3Norm()), "source holds 5 bytes"},
		{"short destination", Resize(f[:3], 2, 2, img, 4, 3, SAM3Norm()), "destination holds 3 floats"},
		{"zero std", Resize(f, 2, 2, img, 4, 3, Norm{}), "std of channel 0 is 0"},
		{"mask logits", UpsampleMask(make([]uint8, 4), 2, 2, make([]float32, 3), 2, 2), "logits hold 3 values"},
		{"mask size", UpsampleMask(make([]uint8, 3), 2, 2, make([]float32, 4), 2, 2), "mask holds 3 bytes"},
		{"skin rest", Skin(make([]float32, 3), make([]float32, 2), make([]float32, 8), 1, 1, 1, Skinning{}), "rest holds 2 values"},
		{"skin xform", Skin(make([]float32, 3), make([]float32, 3), make([]float32, 7), 1, 1, 1, Skinning{}), "xform holds 7 values"},
		{"skin lengths", Skin(make([]float32, 3), make([]float32, 3), make([]float32, 8), 1, 1, 1,
			Skinning{Vert: []int32{0}, Joint: []int32{0}}), "must match"},
		{"skin vertex", Skin(make([]float32, 3), make([]float32, 3), make([]float32, 8), 1, 1, 1,
			Skinning{Vert: []int32{1}, Joint: []int32{0}, Weight: []float32{1}}), "triplet 0: vertex 1 outside [0,1)"},
		{"skin joint", Skin(make([]float32, 3), make([]float32, 3), make([]float32, 8), 1, 1, 1,
			Skinning{Vert: []int32{0}, Joint: []int32{-1}, Weight: []float32{1}}), "joint -1 outside"},
		{"raster face", Raster(make([]float32, 4), make([]int32, 4), 2, 2, make([]float32, 9), []int32{0, 1, 3}), "face 0 uses vertex 3"},
		{"raster buffers", Raster(make([]float32, 3), make([]int32, 4), 2, 2, nil, nil), "raster buffers hold 3 depths"},
		{"raster verts", Raster(make([]float32, 4), make([]int32, 4), 2, 2, make([]float32, 4), nil), "not multiples of 3"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, tt.err, tt.want)
		}
	}
}
