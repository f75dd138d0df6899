// Entry points of the CPU build of the kernels (cpugrid.cpp), for tests.
#ifndef BODY4D_CPUGRID_H
#define BODY4D_CPUGRID_H
#ifdef __cplusplus
extern "C" {
#endif
void b4k_warp_normalize(const unsigned char *src, int n, int sw, int sh, float *dst, int dw, int dh,
                        const float *warp, float border, const float *mean, const float *inv_std);
void b4k_upsample_mask(const float *logits, int n, int w, int h, unsigned char *mask, int W, int H);
void b4k_lbs_skin(const float *rest, int batch, int nv, const float *xform, int nj, const int *vert,
                  const int *joint, const float *weight, int nk, float *out);
void b4k_raster(const float *verts, const int *faces, int nf, float *depth, int *face, int W, int H);
#ifdef __cplusplus
}
#endif
#endif
