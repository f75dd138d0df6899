// Pre- and post-processing kernels for the segmentation and mesh stages.
// Each kernel body is also compiled as C++ with cpu_grid.h for a CPU check
// against the Go reference (preprocess.go), so it uses only plain C math.

// Bilinear sample of channel c of an interleaved 8-bit RGB image at source
// coordinates (x, y), with pixel centres at integer coordinates. Taps
// outside the image are clamped to the edge (border < 0, as torch
// interpolate with align_corners=False) or take the constant border value
// (as cv2.warpAffine with BORDER_CONSTANT).
__device__ float b4_sample_rgb(const unsigned char *__restrict__ img, int w, int h, float x, float y, int c,
                               float border) {
	float fx = floorf(x), fy = floorf(y);
	int x0 = (int)fx, y0 = (int)fy;
	float ax = x - fx, ay = y - fy;
	float v[4];
	for (int i = 0; i < 4; i++) {
		int xi = x0 + (i & 1), yi = y0 + (i >> 1);
		if (border < 0.0f) {
			xi = xi < 0 ? 0 : (xi > w - 1 ? w - 1 : xi);
			yi = yi < 0 ? 0 : (yi > h - 1 ? h - 1 : yi);
			v[i] = (float)img[(yi * w + xi) * 3 + c];
		} else if (xi < 0 || xi >= w || yi < 0 || yi >= h) {
			v[i] = border;
		} else {
			v[i] = (float)img[(yi * w + xi) * 3 + c];
		}
	}
	float top = v[0] + ax * (v[1] - v[0]);
	float bot = v[2] + ax * (v[3] - v[2]);
	return top + ay * (bot - top);
}

// warp_normalize maps n interleaved RGB images (src, n×sh×sw×3 bytes) to
// float NCHW planes (dst, n×3×dh×dw): output pixel (x, y) of image i
// samples the source at (a0·x + a1·y + a2, a3·x + a4·y + a5) with
// a = warp[6i:6i+6], then each channel becomes (v/255 − mean)·inv_std.
// A resize with align_corners=False is the warp (sw/dw, 0, sw/(2dw) − ½,
// 0, sh/dh, sh/(2dh) − ½) with clamped borders. Grid: x and y over output
// pixels, z over images.
extern "C" __global__ void warp_normalize(const unsigned char *__restrict__ src, int sw, int sh,
                                          float *__restrict__ dst, int dw, int dh,
                                          const float *__restrict__ warp, float border,
                                          float mean0, float mean1, float mean2,
                                          float inv_std0, float inv_std1, float inv_std2) {
	int x = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	int i = blockIdx.z;
	if (x >= dw || y >= dh) {
		return;
	}
	const float *a = warp + 6 * i;
	float sx = a[0] * (float)x + a[1] * (float)y + a[2];
	float sy = a[3] * (float)x + a[4] * (float)y + a[5];
	const unsigned char *img = src + (size_t)i * sw * sh * 3;
	float *out = dst + (size_t)i * 3 * dw * dh + (size_t)y * dw + x;
	size_t plane = (size_t)dw * dh;
	out[0] = (b4_sample_rgb(img, sw, sh, sx, sy, 0, border) * (1.0f / 255.0f) - mean0) * inv_std0;
	out[plane] = (b4_sample_rgb(img, sw, sh, sx, sy, 1, border) * (1.0f / 255.0f) - mean1) * inv_std1;
	out[2 * plane] = (b4_sample_rgb(img, sw, sh, sx, sy, 2, border) * (1.0f / 255.0f) - mean2) * inv_std2;
}

// upsample_mask resizes n logit maps (n×h×w floats) to n×H×W bytes with
// bilinear interpolation, align_corners=False (source coordinate
// (x+½)·w/W − ½, clamped at 0, taps clamped to the edge) and writes 1 where
// the interpolated logit is > 0, as SAM-3's output masks. Grid: x and y
// over output pixels, z over maps.
extern "C" __global__ void upsample_mask(const float *__restrict__ logits, int w, int h,
                                         unsigned char *__restrict__ mask, int W, int H) {
	int x = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	int i = blockIdx.z;
	if (x >= W || y >= H) {
		return;
	}
	float sx = ((float)x + 0.5f) * ((float)w / (float)W) - 0.5f;
	float sy = ((float)y + 0.5f) * ((float)h / (float)H) - 0.5f;
	sx = sx < 0.0f ? 0.0f : sx;
	sy = sy < 0.0f ? 0.0f : sy;
	int x0 = (int)sx, y0 = (int)sy; // sx, sy >= 0: truncation is floor
	int x1 = x0 + 1 < w ? x0 + 1 : w - 1;
	int y1 = y0 + 1 < h ? y0 + 1 : h - 1;
	x0 = x0 < w - 1 ? x0 : w - 1;
	y0 = y0 < h - 1 ? y0 : h - 1;
	float ax = sx - (float)(int)sx, ay = sy - (float)(int)sy;
	const float *l = logits + (size_t)i * w * h;
	float top = l[y0 * w + x0] + ax * (l[y0 * w + x1] - l[y0 * w + x0]);
	float bot = l[y1 * w + x0] + ax * (l[y1 * w + x1] - l[y1 * w + x0]);
	float v = top + ay * (bot - top);
	mask[(size_t)i * W * H + (size_t)y * W + x] = v > 0.0f ? 1 : 0;
}
