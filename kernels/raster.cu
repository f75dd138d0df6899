// A z-buffer triangle rasterizer in two passes, one thread per triangle:
// raster_depth keeps each pixel's nearest depth with an atomic minimum,
// then raster_face writes the index of a triangle that reached it. Ties
// between triangles at equal depth go to either of them.

// b4_tri_pixel runs fn(pixel index, depth) for every pixel centre
// (px+½, py+½) inside screen-space triangle f (either winding; degenerate
// triangles cover nothing). verts holds x, y in pixels and depth z ≥ 0.
template <typename Fn>
__device__ void b4_tri_pixels(const float *__restrict__ verts, const int *__restrict__ faces, int f, int W, int H, Fn fn) {
	const float *a = verts + 3 * faces[3 * f];
	const float *b = verts + 3 * faces[3 * f + 1];
	const float *c = verts + 3 * faces[3 * f + 2];
	float area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
	if (area == 0.0f) {
		return;
	}
	float minx = fminf(a[0], fminf(b[0], c[0])), maxx = fmaxf(a[0], fmaxf(b[0], c[0]));
	float miny = fminf(a[1], fminf(b[1], c[1])), maxy = fmaxf(a[1], fmaxf(b[1], c[1]));
	int x0 = (int)fmaxf(0.0f, ceilf(minx - 0.5f)), x1 = (int)fminf((float)(W - 1), floorf(maxx - 0.5f));
	int y0 = (int)fmaxf(0.0f, ceilf(miny - 0.5f)), y1 = (int)fminf((float)(H - 1), floorf(maxy - 0.5f));
	float inv = 1.0f / area;
	for (int py = y0; py <= y1; py++) {
		for (int px = x0; px <= x1; px++) {
			float x = (float)px + 0.5f, y = (float)py + 0.5f;
			float w0 = ((b[0] - x) * (c[1] - y) - (b[1] - y) * (c[0] - x)) * inv;
			float w1 = ((c[0] - x) * (a[1] - y) - (c[1] - y) * (a[0] - x)) * inv;
			float w2 = ((a[0] - x) * (b[1] - y) - (a[1] - y) * (b[0] - x)) * inv;
			if (w0 < 0.0f || w1 < 0.0f || w2 < 0.0f) {
				continue;
			}
			fn(py * W + px, w0 * a[2] + w1 * b[2] + w2 * c[2]);
		}
	}
}

// raster_depth lowers depth (W×H, float bits as unsigned, set to +inf
// first) to the nearest triangle. Non-negative floats order like their
// bits, so an unsigned atomic minimum is a float minimum. Grid: x over
// triangles.
extern "C" __global__ void raster_depth(const float *__restrict__ verts, const int *__restrict__ faces, int nf,
                                        unsigned *__restrict__ depth, int W, int H) {
	int f = blockIdx.x * blockDim.x + threadIdx.x;
	if (f >= nf) {
		return;
	}
	b4_tri_pixels(verts, faces, f, W, H, [=](int p, float z) {
		if (z >= 0.0f) {
			atomicMin(depth + p, __float_as_uint(z));
		}
	});
}

// raster_face writes f to face (W×H, set to -1 first) where triangle f
// reached the depth raster_depth kept.
extern "C" __global__ void raster_face(const float *__restrict__ verts, const int *__restrict__ faces, int nf,
                                       const unsigned *__restrict__ depth, int *__restrict__ face, int W, int H) {
	int f = blockIdx.x * blockDim.x + threadIdx.x;
	if (f >= nf) {
		return;
	}
	b4_tri_pixels(verts, faces, f, W, H, [=](int p, float z) {
		if (z >= 0.0f && __float_as_uint(z) == depth[p]) {
			face[p] = f;
		}
	});
}
