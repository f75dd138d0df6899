// Crop preprocessing of the mesh stage (package mesh): the person crop as
// cv2.warpAffine cuts it (bilinear, float32 positions and weights, constant
// black border, rounded half to even) and the ImageNet normalisation. They
// are mesh's Crop.warp and Normalize written for a GPU, operation for
// operation, so that with FMA contraction off (-fmad=false) the crops are
// bit for bit those of the Go path.

// b4_floor_ok splits a source position s into its integer part and
// fraction, as mesh's tapAt; it returns 0 where s is not a number or out
// of int range.
__device__ int b4_tap(float s, int *i, float *f) {
	float fl = floorf(s);
	if (!(fl >= -1073741824.0f && fl <= 1073741824.0f)) {
		return 0;
	}
	*i = (int)fl;
	*f = s - fl;
	return 1;
}

// warp_crop cuts n crops of size×size pixels with nch channels (1 or 3)
// from one image (src, H rows of stride bytes, W pixels of nch bytes).
// Crop c maps output (x, y) to source ((a11·x + a12·y) + b1,
// (a21·x + a22·y) + b2), coef[6c..6c+5] = a11 a12 b1 a21 a22 b2, the
// inverse of the crop's affine map as mesh computes it. dst is
// n×size×size×nch bytes. Grid: x and y over output pixels, z over crops.
extern "C" __global__ void warp_crop(const unsigned char *__restrict__ src, int stride, int nch, int W, int H,
                                     const float *__restrict__ coef, int size, unsigned char *__restrict__ dst) {
	int x = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	int c = blockIdx.z;
	if (x >= size || y >= size) {
		return;
	}
	const float *a = coef + 6 * c;
	float fx = (float)x, fy = (float)y;
	float sx = (a[0] * fx + a[1] * fy) + a[2];
	float sy = (a[3] * fx + a[4] * fy) + a[5];
	unsigned char *out = dst + (((size_t)c * size + y) * size + x) * nch;
	int ix, iy;
	float u, v;
	int okx = b4_tap(sx, &ix, &u), oky = b4_tap(sy, &iy, &v);
	if (!(okx && oky) || ix < -1 || iy < -1 || ix >= W || iy >= H) {
		for (int ch = 0; ch < nch; ch++) {
			out[ch] = 0;
		}
		return;
	}
	float w00 = (1 - u) * (1 - v), w10 = u * (1 - v);
	float w01 = (1 - u) * v, w11 = u * v;
	int in0 = iy >= 0, in1 = iy + 1 < H;
	int l = ix >= 0, r = ix + 1 < W;
	long long o = (long long)iy * stride + (long long)ix * nch;
	for (int ch = 0; ch < nch; ch++) {
		float p00 = 0, p10 = 0, p01 = 0, p11 = 0;
		if (in0 && l) {
			p00 = (float)src[o + ch];
		}
		if (in0 && r) {
			p10 = (float)src[o + nch + ch];
		}
		if (in1 && l) {
			p01 = (float)src[o + stride + ch];
		}
		if (in1 && r) {
			p11 = (float)src[o + stride + nch + ch];
		}
		float sum = ((p00 * w00 + p10 * w10) + p01 * w01) + p11 * w11;
		// Round half to even: 0 ≤ sum < 2²³, so adding and taking away
		// 2²³ rounds to an integer in float32.
		int q = (int)((sum + 8388608.0f) - 8388608.0f);
		out[ch] = (unsigned char)(q > 255 ? 255 : q);
	}
}

// normalize_crop maps n RGB crops (n×size×size×3 bytes) to float CHW
// planes (n×3×size×size): (v/255 − mean)/std per channel, as mesh's
// Normalize. Grid: x over pixels, y over crops.
extern "C" __global__ void normalize_crop(const unsigned char *__restrict__ crop, int size,
                                          float *__restrict__ dst, float mean0, float mean1, float mean2,
                                          float std0, float std1, float std2) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	int c = blockIdx.y;
	int n = size * size;
	if (i >= n) {
		return;
	}
	const unsigned char *p = crop + ((size_t)c * n + i) * 3;
	float *o = dst + (size_t)c * 3 * n + i;
	o[0] = ((float)p[0] / 255 - mean0) / std0;
	o[n] = ((float)p[1] / 255 - mean1) / std1;
	o[2 * n] = ((float)p[2] / 255 - mean2) / std2;
}
