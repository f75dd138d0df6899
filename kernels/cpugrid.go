//go:build cgo

package kernels

/*
#cgo CXXFLAGS: -std=c++17 -O2
#include "cpugrid.h"
*/
import "C"

import (
	"embed"
	"unsafe"
)

// cpugrid.cpp #includes the .cu sources, which the go command does not
// track as inputs; embedding them here makes them part of this package's
// build inputs, so the twin is rebuilt when a kernel changes.
//
//go:embed preprocess.cu skin.cu raster.cu cpu_grid.h
var kernelSources embed.FS

// CPUGrid returns the CPU-grid twin of the CUDA kernels: the .cu sources
// compiled as C++, every launch's threads run one after another on the
// CPU with the grid shapes of the CUDA path. It checks the kernels'
// arithmetic and indexing, not their execution on a GPU (no concurrency,
// atomics as plain read-modify-writes), and is slow: a twin for tests,
// never a fallback.
func CPUGrid() Kernels { return cpuGrid{} }

type cpuGrid struct{}

func (cpuGrid) Name() string { return "CPU grid (the CUDA sources run as loops)" }

func (cpuGrid) RasterSamples(keys []uint64, w, h int, tris []Tri) error {
	if err := checkRaster(keys, w, h, tris); err != nil {
		return err
	}
	var tp unsafe.Pointer
	if len(tris) > 0 {
		tp = unsafe.Pointer(&tris[0])
	}
	C.b4k_raster_samples(tp, C.int(len(tris)), (*C.ulonglong)(unsafe.Pointer(&keys[0])), C.int(w), C.int(h))
	return nil
}

func (cpuGrid) Skin(out, rest []float32, batch, nv int, xform []float32, nj int, s *Skinning) error {
	if err := checkSkin(out, rest, batch, nv, xform, nj, s); err != nil {
		return err
	}
	joint, weight := s.Joint, s.Weight
	if len(joint) == 0 { // no pairs: keep the pointers valid
		joint, weight = []int32{0}, []float32{0}
	}
	C.b4k_lbs_skin((*C.float)(&rest[0]), C.int(batch), C.int(nv), (*C.float)(&xform[0]), C.int(nj),
		(*C.int)(unsafe.Pointer(&s.Start[0])), (*C.int)(unsafe.Pointer(&joint[0])), (*C.float)(&weight[0]),
		(*C.float)(&out[0]))
	return nil
}

func (cpuGrid) WarpCrops(dst []uint8, size, nch int, src []uint8, stride, W, H int, coef []float32) error {
	if err := checkWarp(dst, size, nch, src, stride, W, H, coef); err != nil {
		return err
	}
	C.b4k_warp_crop((*C.uchar)(&src[0]), C.int(stride), C.int(nch), C.int(W), C.int(H), (*C.float)(&coef[0]),
		C.int(len(coef)/6), C.int(size), (*C.uchar)(&dst[0]))
	return nil
}

func (cpuGrid) NormalizeCrops(dst []float32, crops []uint8, size int, mean, std [3]float32) error {
	if err := checkNormalize(dst, crops, size, std); err != nil {
		return err
	}
	C.b4k_normalize_crop((*C.uchar)(&crops[0]), C.int(len(crops)/(3*size*size)), C.int(size), (*C.float)(&dst[0]),
		(*C.float)(&mean[0]), (*C.float)(&std[0]))
	return nil
}

// triSize is sizeof(b4_tri) as the C++ compiler lays it out.
func triSize() int { return int(C.b4k_tri_size()) }
