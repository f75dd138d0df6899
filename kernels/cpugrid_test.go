//go:build cgo

package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// These tests run the CUDA kernel sources compiled as C++ (their grids as
// loops, see cpu_grid.h) and compare them with the Go reference. They
// check the kernels' arithmetic and indexing, not their GPU execution.

func randImage(r *rand.Rand, n int) []uint8 {
	b := make([]uint8, n)
	for i := range b {
		b[i] = uint8(r.IntN(256))
	}
	return b
}

func TestWarpNormalizeKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type tc struct {
		name           string
		sw, sh, dw, dh int
		warps          []Warp
		border         float32
		norm           Norm
	}
	// A 48×48 crop scaled by s about (cx, cy): the inverse of the
	// SAM-3D-Body affine M = [[s,0,24−s·cx],[0,s,24−s·cy]].
	crop := func(s, cx, cy float32) Warp { return Warp{1 / s, 0, cx - 24/s, 0, 1 / s, cy - 24/s} }
	tests := []tc{
		{"downscale SAM-3", 97, 61, 40, 32, []Warp{ResizeWarp(97, 61, 40, 32)}, ClampBorder, SAM3Norm()},
		{"upscale ImageNet", 31, 23, 64, 50, []Warp{ResizeWarp(31, 23, 64, 50)}, ClampBorder, ImageNetNorm()},
		{"two crops, black border", 80, 60, 48, 48, []Warp{crop(48.0/70, 30, 25), crop(48.0/30, 70, 55)}, 0, ImageNetNorm()},
	}
	for _, tt := range tests {
		n := len(tt.warps)
		src := randImage(r, n*tt.sw*tt.sh*3)
		got := make([]float32, n*3*tt.dw*tt.dh)
		warp := make([]float32, 0, 6*n)
		for _, w := range tt.warps {
			warp = append(warp, w[:]...)
		}
		var inv [3]float32
		for c := range inv {
			inv[c] = 1 / tt.norm.Std[c]
		}
		cpuWarpNormalize(src, n, tt.sw, tt.sh, got, tt.dw, tt.dh, warp, tt.border, tt.norm.Mean, inv)
		var worst float64
		varied := 0
		for i, w := range tt.warps {
			want := make([]float32, 3*tt.dw*tt.dh)
			if err := WarpAffine(want, tt.dw, tt.dh, src[i*tt.sw*tt.sh*3:][:tt.sw*tt.sh*3], tt.sw, tt.sh, w, tt.border, tt.norm); err != nil {
				t.Fatal(err)
			}
			for j, v := range want {
				c := j / (tt.dw * tt.dh)
				// Compare in pixel units: |Δ|·std is the difference in v/255.
				d := math.Abs(float64(got[i*len(want)+j]-v)) * float64(tt.norm.Std[c])
				worst = max(worst, d)
				if j > 0 && want[j] != want[j-1] {
					varied++
				}
			}
		}
		if varied < len(got)/2 {
			t.Errorf("%s: degenerate test: only %d of %d values differ from their neighbour", tt.name, varied, len(got))
		}
		if worst > 1.0/255 {
			t.Errorf("%s: max difference %.3g of full scale, want ≤ 1/255", tt.name, worst)
		}
		t.Logf("%s: max difference %.3g of full scale (%.4f levels)", tt.name, worst, worst*255)
	}
}

func TestUpsampleMaskKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, w, h, W, H = 2, 37, 29, 160, 120
	logits := make([]float32, n*w*h)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2)
	}
	got := make([]uint8, n*W*H)
	cpuUpsampleMask(logits, n, w, h, got, W, H)
	ones, near := 0, 0
	for i := 0; i < n; i++ {
		want := make([]uint8, W*H)
		l := logits[i*w*h:][:w*h]
		if err := UpsampleMask(want, W, H, l, w, h); err != nil {
			t.Fatal(err)
		}
		for p, m := range want {
			ones += int(m)
			if got[i*W*H+p] == m {
				continue
			}
			// float32 and float64 may disagree only at a logit within
			// rounding of the threshold.
			if v := maskLogit(l, w, h, W, H, p%W, p/W); math.Abs(v) > 1e-5 {
				t.Fatalf("map %d pixel (%d,%d): kernel %d, reference %d at logit %g", i, p%W, p/W, got[i*W*H+p], m, v)
			}
			near++
		}
	}
	if ones == 0 || ones == n*W*H {
		t.Fatalf("degenerate test: %d of %d pixels set", ones, n*W*H)
	}
	t.Logf("%d of %d pixels set; %d differ at the threshold", ones, n*W*H, near)
}

// randQuat returns a uniformly random unit quaternion (xyzw).
func randQuat(r *rand.Rand) [4]float32 {
	var q [4]float64
	var n float64
	for i := range q {
		q[i] = r.NormFloat64()
		n += q[i] * q[i]
	}
	n = math.Sqrt(n)
	return [4]float32{float32(q[0] / n), float32(q[1] / n), float32(q[2] / n), float32(q[3] / n)}
}

func TestSkinKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const batch, nv, nj = 3, 300, 17
	var s Skinning
	for v := 0; v < nv; v++ {
		k := 1 + r.IntN(4)
		var ws []float32
		var sum float32
		for i := 0; i < k; i++ {
			ws = append(ws, 0.05+r.Float32())
			sum += ws[i]
		}
		for i := 0; i < k; i++ {
			s.Vert = append(s.Vert, int32(v))
			s.Joint = append(s.Joint, int32(r.IntN(nj)))
			s.Weight = append(s.Weight, ws[i]/sum)
		}
	}
	rest := make([]float32, batch*nv*3)
	for i := range rest {
		rest[i] = 100 * (2*r.Float32() - 1) // centimetres, as MHR
	}
	xform := make([]float32, batch*nj*8)
	for j := 0; j < batch*nj; j++ {
		x := xform[j*8:][:8]
		for i := 0; i < 3; i++ {
			x[i] = 50 * (2*r.Float32() - 1)
		}
		q := randQuat(r)
		copy(x[3:7], q[:])
		x[7] = 0.5 + r.Float32()
	}
	want := make([]float32, len(rest))
	if err := Skin(want, rest, xform, batch, nv, nj, s); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(rest))
	cpuSkin(rest, batch, nv, xform, nj, s.Vert, s.Joint, s.Weight, got)
	var worst float64
	for i := range want {
		rel := math.Abs(float64(got[i]-want[i])) / max(math.Abs(float64(want[i])), 1)
		worst = max(worst, rel)
	}
	if worst > 1e-4 {
		t.Errorf("max relative difference %.3g, want ≤ 1e-4", worst)
	}
	t.Logf("%d triplets × %d bodies: max relative difference %.3g", len(s.Vert), batch, worst)
}

func TestRasterKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const W, H, nf = 64, 48, 60
	var verts []float32
	var faces []int32
	for f := 0; f < nf; f++ {
		cx, cy := r.Float32()*W, r.Float32()*H
		for i := 0; i < 3; i++ {
			verts = append(verts, cx+20*(r.Float32()-0.5), cy+20*(r.Float32()-0.5), 1+9*r.Float32())
			faces = append(faces, int32(3*f+i))
		}
	}
	want, wantFace := make([]float32, W*H), make([]int32, W*H)
	if err := Raster(want, wantFace, W, H, verts, faces); err != nil {
		t.Fatal(err)
	}
	got, gotFace := make([]float32, W*H), make([]int32, W*H)
	cpuRaster(verts, faces, got, gotFace, W, H)
	drawn := 0
	for p := range want {
		if math.IsInf(float64(want[p]), 1) {
			if !math.IsInf(float64(got[p]), 1) || gotFace[p] != -1 {
				t.Fatalf("pixel %d: kernel drew face %d at %g where the reference drew nothing", p, gotFace[p], got[p])
			}
			continue
		}
		drawn++
		if d := math.Abs(float64(got[p] - want[p])); d > 1e-5*float64(want[p]) {
			t.Fatalf("pixel %d: kernel depth %g, reference %g", p, got[p], want[p])
		}
		// The kernel's face must be one the reference finds at the
		// nearest depth there (ties may go either way).
		f, ok := gotFace[p], false
		if f >= 0 {
			triPixels(verts, faces, int(f), W, H, func(q int, z float64) {
				ok = ok || q == p && math.Abs(z-float64(want[p])) <= 1e-5*z
			})
		}
		if !ok {
			t.Fatalf("pixel %d: kernel face %d is not at the nearest depth %g (reference face %d)", p, f, want[p], wantFace[p])
		}
	}
	if drawn < W*H/4 {
		t.Fatalf("degenerate test: %d of %d pixels drawn", drawn, W*H)
	}
	t.Logf("%d triangles: %d of %d pixels drawn, all agree", nf, drawn, W*H)
}

// TestSourcesEmbedded checks that the embedded sources, which key the
// harness's rebuilds, hold every kernel the CUDA loader looks up.
func TestSourcesEmbedded(t *testing.T) {
	kernels := map[string][]string{
		"preprocess.cu": {"warp_normalize", "upsample_mask"},
		"skin.cu":       {"lbs_skin"},
		"raster.cu":     {"raster_depth", "raster_face"},
	}
	for file, names := range kernels {
		src, err := kernelSources.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if !strings.Contains(string(src), `extern "C" __global__ void `+name+"(") {
				t.Errorf("%s: no kernel %s", file, name)
			}
		}
	}
}
