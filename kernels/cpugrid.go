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

// The CPU build of the kernels, used by the tests to check the kernels'
// logic against the Go reference. cpugrid.cpp #includes the .cu sources,
// which the go command does not track as inputs; embedding them here makes
// them part of this package's build inputs, so the harness is rebuilt when
// a kernel changes instead of testing a stale copy.
//
//go:embed preprocess.cu skin.cu raster.cu cpu_grid.h
var kernelSources embed.FS

// The wrappers take slices whose sizes the caller has checked; they do no
// checking of their own.

// cpuWarpNormalize runs warp_normalize on n images: src n×sh×sw×3, dst
// n×3×dh×dw, warp n×6.
func cpuWarpNormalize(src []uint8, n, sw, sh int, dst []float32, dw, dh int, warp []float32, border float32, mean, invStd [3]float32) {
	C.b4k_warp_normalize((*C.uchar)(&src[0]), C.int(n), C.int(sw), C.int(sh), (*C.float)(&dst[0]), C.int(dw), C.int(dh),
		(*C.float)(&warp[0]), C.float(border), (*C.float)(&mean[0]), (*C.float)(&invStd[0]))
}

// cpuUpsampleMask runs upsample_mask on n maps: logits n×h×w, mask n×H×W.
func cpuUpsampleMask(logits []float32, n, w, h int, mask []uint8, W, H int) {
	C.b4k_upsample_mask((*C.float)(&logits[0]), C.int(n), C.int(w), C.int(h), (*C.uchar)(&mask[0]), C.int(W), C.int(H))
}

// cpuSkin zeroes out and runs lbs_skin.
func cpuSkin(rest []float32, batch, nv int, xform []float32, nj int, vert, joint []int32, weight []float32, out []float32) {
	C.b4k_lbs_skin((*C.float)(&rest[0]), C.int(batch), C.int(nv), (*C.float)(&xform[0]), C.int(nj),
		(*C.int)(unsafe.Pointer(&vert[0])), (*C.int)(unsafe.Pointer(&joint[0])), (*C.float)(&weight[0]), C.int(len(vert)),
		(*C.float)(&out[0]))
}

// cpuRaster clears the buffers and runs raster_depth then raster_face.
func cpuRaster(verts []float32, faces []int32, depth []float32, face []int32, W, H int) {
	C.b4k_raster((*C.float)(&verts[0]), (*C.int)(unsafe.Pointer(&faces[0])), C.int(len(faces)/3),
		(*C.float)(&depth[0]), (*C.int)(unsafe.Pointer(&face[0])), C.int(W), C.int(H))
}
