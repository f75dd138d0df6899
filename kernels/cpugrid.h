// Entry points of the CPU build of the kernels (cpugrid.cpp).
#ifndef BODY4D_CPUGRID_H
#define BODY4D_CPUGRID_H
#ifdef __cplusplus
extern "C" {
#endif
void b4k_raster_samples(const void *tris, int nt, unsigned long long *keys, int w, int h);
void b4k_lbs_skin(const float *rest, int batch, int nv, const float *xform, int nj, const int *start,
                  const int *joint, const float *weight, float *out);
void b4k_warp_crop(const unsigned char *src, int stride, int nch, int W, int H, const float *coef, int n, int size,
                   unsigned char *dst);
void b4k_normalize_crop(const unsigned char *crop, int n, int size, float *dst, const float *mean, const float *std);
int b4k_tri_size(void);
#ifdef __cplusplus
}
#endif
#endif
