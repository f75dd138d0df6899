//go:build cuda

package kernels

import (
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// openCUDA opens the kernels on a GPU. Without one the test skips, unless
// BODY4D_REQUIRE_GPU=1 (the device check sets it), where it fails.
func openCUDA(t *testing.T) Kernels {
	t.Helper()
	k, err := Open(nil)
	if err != nil {
		if os.Getenv("BODY4D_REQUIRE_GPU") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(func() {
		if err := k.(*CUDA).Close(); err != nil {
			t.Error(err)
		}
	})
	return k
}

// TestCUDAMatchesTwin runs the skinning and crop kernels on the GPU and
// on their CPU-grid twin, which the stages' tests hold equal to the Go
// paths: the GPU must give the same bits (the PTX is built with
// -fmad=false; the skinning sums each vertex in order, no atomics).
func TestCUDAMatchesTwin(t *testing.T) {
	k, twin := openCUDA(t), CPUGrid()
	r := rand.New(rand.NewPCG(9, 10))
	const batch, nv, nj = 64, 2000, 127
	s := &Skinning{Start: make([]int32, nv+1)}
	for v := 0; v < nv; v++ {
		for range 1 + r.IntN(4) {
			s.Joint = append(s.Joint, int32(r.IntN(nj)))
			s.Weight = append(s.Weight, r.Float32())
		}
		s.Start[v+1] = int32(len(s.Joint))
	}
	rest, xform := make([]float32, batch*nv*3), make([]float32, batch*nj*12)
	for i := range rest {
		rest[i] = 2*r.Float32() - 1
	}
	for i := range xform {
		xform[i] = 2*r.Float32() - 1
	}
	got, want := make([]float32, len(rest)), make([]float32, len(rest))
	if err := k.Skin(got, rest, batch, nv, xform, nj, s); err != nil {
		t.Fatal(err)
	}
	if err := twin.Skin(want, rest, batch, nv, xform, nj, s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Error("lbs_skin: GPU and twin differ")
	}

	const W, H, size = 640, 360, 512
	img := make([]uint8, W*H*3)
	for i := range img {
		img[i] = uint8(r.IntN(256))
	}
	coef := []float32{0.3, 0, 100.25, 0, 0.3, 20.5, 1.7, 0, -200, 0, 1.7, -90.75}
	gc, wc := make([]uint8, 2*size*size*3), make([]uint8, 2*size*size*3)
	if err := k.WarpCrops(gc, size, 3, img, W*3, W, H, coef); err != nil {
		t.Fatal(err)
	}
	if err := twin.WarpCrops(wc, size, 3, img, W*3, W, H, coef); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gc, wc) {
		t.Error("warp_crop: GPU and twin differ")
	}
	mean, std := [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
	gn, wn := make([]float32, len(gc)), make([]float32, len(gc))
	if err := k.NormalizeCrops(gn, gc, size, mean, std); err != nil {
		t.Fatal(err)
	}
	if err := twin.NormalizeCrops(wn, wc, size, mean, std); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gn, wn) {
		t.Error("normalize_crop: GPU and twin differ")
	}
}
