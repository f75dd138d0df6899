//go:build cgo

// The CUDA kernels compiled as C++ (see cpu_grid.h), launched with the
// same grid shapes as the CUDA loader (cuda.go), so their indexing and
// bounds checks run as on a GPU.
#include "cpu_grid.h"

#include "preprocess.cu"
#include "raster.cu"
#include "skin.cu"

#include "cpugrid.h"

static unsigned blocks(int n, int per) { return (unsigned)((n + per - 1) / per); }

extern "C" {

int b4k_tri_size(void) { return (int)sizeof(b4_tri); }

void b4k_raster_samples(const void *tris, int nt, unsigned long long *keys, int w, int h) {
	memset(keys, 0, sizeof(unsigned long long) * (size_t)w * h * 4);
	cpugrid::launch(raster_samples, dim3(blocks(nt, 64), 1, 1), dim3(64, 1, 1), (const b4_tri *)tris, nt, keys, w, h);
}

void b4k_lbs_skin(const float *rest, int batch, int nv, const float *xform, int nj, const int *start,
                  const int *joint, const float *weight, float *out) {
	cpugrid::launch(lbs_skin, dim3(blocks(nv, 128), (unsigned)batch, 1), dim3(128, 1, 1), rest, nv, xform, nj, start,
	                joint, weight, out);
}

void b4k_warp_crop(const unsigned char *src, int stride, int nch, int W, int H, const float *coef, int n, int size,
                   unsigned char *dst) {
	cpugrid::launch(warp_crop, dim3(blocks(size, 16), blocks(size, 16), (unsigned)n), dim3(16, 16, 1), src, stride,
	                nch, W, H, coef, size, dst);
}

void b4k_normalize_crop(const unsigned char *crop, int n, int size, float *dst, const float *mean, const float *std) {
	cpugrid::launch(normalize_crop, dim3(blocks(size * size, 256), (unsigned)n, 1), dim3(256, 1, 1), crop, size, dst,
	                mean[0], mean[1], mean[2], std[0], std[1], std[2]);
}

} // extern "C"
