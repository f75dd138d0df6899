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

void b4k_warp_normalize(const unsigned char *src, int n, int sw, int sh, float *dst, int dw, int dh,
                        const float *warp, float border, const float *mean, const float *inv_std) {
	cpugrid::launch(warp_normalize, dim3(blocks(dw, 16), blocks(dh, 16), (unsigned)n), dim3(16, 16, 1), src, sw, sh,
	                dst, dw, dh, warp, border, mean[0], mean[1], mean[2], inv_std[0], inv_std[1], inv_std[2]);
}

void b4k_upsample_mask(const float *logits, int n, int w, int h, unsigned char *mask, int W, int H) {
	cpugrid::launch(upsample_mask, dim3(blocks(W, 16), blocks(H, 16), (unsigned)n), dim3(16, 16, 1), logits, w, h,
	                mask, W, H);
}

void b4k_lbs_skin(const float *rest, int batch, int nv, const float *xform, int nj, const int *vert,
                  const int *joint, const float *weight, int nk, float *out) {
	memset(out, 0, sizeof(float) * (size_t)batch * nv * 3);
	cpugrid::launch(lbs_skin, dim3(blocks(nk, 256), (unsigned)batch, 1), dim3(256, 1, 1), rest, nv, xform, nj, vert,
	                joint, weight, nk, out);
}

void b4k_raster(const float *verts, const int *faces, int nf, float *depth, int *face, int W, int H) {
	unsigned *bits = (unsigned *)depth;
	const float inf = INFINITY;
	for (int i = 0; i < W * H; i++) {
		memcpy(bits + i, &inf, sizeof inf);
		face[i] = -1;
	}
	cpugrid::launch(raster_depth, dim3(blocks(nf, 128), 1, 1), dim3(128, 1, 1), verts, faces, nf, bits, W, H);
	cpugrid::launch(raster_face, dim3(blocks(nf, 128), 1, 1), dim3(128, 1, 1), verts, faces, nf,
	                (const unsigned *)bits, face, W, H);
}

} // extern "C"
