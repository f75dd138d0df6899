// Package kernels holds body4d's CUDA kernels: the overlay rasterizer's
// visibility pass (package render), MHR skinning (mesh/mhr) and the mesh
// stage's crop preprocessing (mesh).
//
// Each kernel is the stage's own Go function written for a GPU, operation
// for operation, so that its results are bit for bit the Go path's (the
// PTX is compiled with FMA contraction off). The stages keep their Go
// code as the CPU path and call a Kernels only when one is given to them.
//
// There are two implementations of Kernels:
//   - Open (build tag "cuda"): the kernels on a GPU, from PTX that go
//     generate compiles from the .cu sources (nvcc; the PTX is committed)
//     and the CUDA driver loads at run time.
//   - CPUGrid: the same .cu sources compiled as C++ with every launch's
//     blocks and threads run as loops on the CPU. It is a twin of the GPU
//     path for checking the kernels' arithmetic and indexing against the
//     stages' Go functions where there is no GPU, and far too slow to be a
//     fallback.
//
// Default chooses for a program: CUDA when built with the tag and a GPU is
// present, otherwise none (the stages' Go paths) and the reason, for the
// caller to say once.
package kernels

//go:generate nvcc --ptx -arch=compute_70 -fmad=false -o preprocess.ptx preprocess.cu
//go:generate nvcc --ptx -arch=compute_70 -fmad=false -o skin.ptx skin.cu
//go:generate nvcc --ptx -arch=compute_70 -fmad=false -o raster.ptx raster.cu

import (
	"errors"
	"fmt"

	"github.com/body4d/body4d/gpu"
)

// Kernels runs body4d's kernels on host data: each call copies its inputs
// to the device, runs and copies the outputs back. Implementations are
// safe for concurrent use.
type Kernels interface {
	// Name says where the kernels run, e.g. "CUDA on NVIDIA H100 (GPU 0)".
	Name() string
	// RasterSamples clears keys (h rows of w pixels × 4 samples) and
	// writes into each sample the largest key of the triangles covering
	// it (see Tri and render's raster).
	RasterSamples(keys []uint64, w, h int, tris []Tri) error
	// Skin poses batch bodies: out and rest are batch×nv×3, xform
	// batch×nj×12 (per joint the row-major 3×4 matrix s·R | t).
	Skin(out, rest []float32, batch, nv int, xform []float32, nj int, s *Skinning) error
	// WarpCrops cuts len(coef)/6 crops of size×size pixels with nch
	// channels (1 or 3) from one image of W×H pixels (rows of stride
	// bytes) into dst (crops × size × size × nch bytes); see Crop.
	WarpCrops(dst []uint8, size, nch int, src []uint8, stride, W, H int, coef []float32) error
	// NormalizeCrops maps RGB crops (n×size×size×3 bytes) to float CHW
	// planes (n×3×size×size): (v/255 − mean)/std.
	NormalizeCrops(dst []float32, crops []uint8, size int, mean, std [3]float32) error
}

// ErrNotBuilt is returned by Open in a build without the tag "cuda".
var ErrNotBuilt = errors.New("body4d was built without CUDA kernels (build tag cuda)")

// Tri is one screen-space triangle for RasterSamples, laid out as
// raster.cu's b4_tri (96 bytes). Coordinates are fixed point with 8
// fraction bits, wound so that the area is positive.
type Tri struct {
	X, Y           [3]int64
	WA, WB, WC     float64 // 1/z = WA·u + WB·v + WC at pixel (u, v)
	X0, Y0, X1, Y1 int32   // the pixels it may touch, inside the panel
	Face           uint32  // face number + 1; 0 marks an empty sample
	_              uint32
}

// Skinning is a body model's skinning weights grouped by vertex: vertex
// v's (joint, weight) pairs are Joint and Weight [Start[v], Start[v+1]),
// in the order the model sums them.
type Skinning struct {
	Start  []int32 // nv+1 offsets
	Joint  []int32
	Weight []float32
}

// Check validates the skinning for nv vertices and nj joints.
func (s *Skinning) Check(nv, nj int) error {
	if s == nil || len(s.Start) != nv+1 {
		return fmt.Errorf("kernels: skinning has no offsets for %d vertices", nv)
	}
	if len(s.Joint) != len(s.Weight) {
		return fmt.Errorf("kernels: skinning has %d joints and %d weights", len(s.Joint), len(s.Weight))
	}
	if s.Start[0] != 0 || int(s.Start[nv]) != len(s.Joint) {
		return fmt.Errorf("kernels: skinning offsets run from %d to %d over %d pairs", s.Start[0], s.Start[nv], len(s.Joint))
	}
	for v := 0; v < nv; v++ {
		if s.Start[v] > s.Start[v+1] {
			return fmt.Errorf("kernels: skinning offsets decrease at vertex %d", v)
		}
	}
	for k, j := range s.Joint {
		if j < 0 || int(j) >= nj {
			return fmt.Errorf("kernels: skinning pair %d: joint %d outside [0,%d)", k, j, nj)
		}
	}
	return nil
}

// checkRaster validates RasterSamples' arguments.
func checkRaster(keys []uint64, w, h int, tris []Tri) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("kernels: raster size %d×%d must be positive", w, h)
	}
	if len(keys) != 4*w*h {
		return fmt.Errorf("kernels: raster keys hold %d samples, %d×%d×4 needs %d", len(keys), w, h, 4*w*h)
	}
	for i := range tris {
		t := &tris[i]
		if t.X0 < 0 || t.Y0 < 0 || t.X1 >= int32(w) || t.Y1 >= int32(h) {
			return fmt.Errorf("kernels: triangle %d touches pixels [%d,%d]×[%d,%d] outside the %d×%d panel", i, t.X0, t.X1, t.Y0, t.Y1, w, h)
		}
	}
	return nil
}

func checkSkin(out, rest []float32, batch, nv int, xform []float32, nj int, s *Skinning) error {
	if batch <= 0 || nv <= 0 || nj <= 0 {
		return fmt.Errorf("kernels: skin of %d bodies, %d vertices, %d joints: sizes must be positive", batch, nv, nj)
	}
	if len(rest) != batch*nv*3 || len(out) != len(rest) {
		return fmt.Errorf("kernels: skin: rest holds %d and out %d values, %d×%d×3 needs %d", len(rest), len(out), batch, nv, batch*nv*3)
	}
	if len(xform) != batch*nj*12 {
		return fmt.Errorf("kernels: skin: xform holds %d values, %d×%d×12 needs %d", len(xform), batch, nj, batch*nj*12)
	}
	return s.Check(nv, nj)
}

func checkWarp(dst []uint8, size, nch int, src []uint8, stride, W, H int, coef []float32) error {
	n := len(coef) / 6
	switch {
	case n == 0 || len(coef) != 6*n:
		return fmt.Errorf("kernels: crop coefficients hold %d values, want 6 per crop", len(coef))
	case nch != 1 && nch != 3:
		return fmt.Errorf("kernels: crops of %d channels, want 1 or 3", nch)
	case size <= 0 || W <= 0 || H <= 0 || stride < W*nch:
		return fmt.Errorf("kernels: crop of %d² from %d×%d (stride %d): bad sizes", size, W, H, stride)
	case len(src) < (H-1)*stride+W*nch:
		return fmt.Errorf("kernels: source holds %d bytes, %d rows of stride %d need %d", len(src), H, stride, (H-1)*stride+W*nch)
	case len(dst) != n*size*size*nch:
		return fmt.Errorf("kernels: crops hold %d bytes, %d×%d²×%d needs %d", len(dst), n, size, nch, n*size*size*nch)
	}
	return nil
}

func checkNormalize(dst []float32, crops []uint8, size int, std [3]float32) error {
	px := size * size
	if size <= 0 || len(crops) == 0 || len(crops)%(3*px) != 0 || len(dst) != len(crops) {
		return fmt.Errorf("kernels: normalise %d crop bytes into %d floats at %d²: bad sizes", len(crops), len(dst), size)
	}
	for c, s := range std {
		if s == 0 {
			return fmt.Errorf("kernels: normalisation std of channel %d is 0", c)
		}
	}
	return nil
}

// Default returns the kernels this program should use: the CUDA kernels
// when it was built with the tag "cuda" and a GPU is present, with their
// buffers from pool (nil: a pool of their own). Otherwise it returns nil,
// and why, which the caller says once: the stages then run their Go paths.
func Default(pool *gpu.Pool) (Kernels, string) {
	return choose(func() (Kernels, error) { return Open(pool) })
}

// choose is Default with the opener explicit.
func choose(open func() (Kernels, error)) (Kernels, string) {
	k, err := open()
	if err != nil {
		return nil, "GPU kernels not used, the Go paths run instead: " + err.Error()
	}
	return k, ""
}
