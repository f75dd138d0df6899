// The overlay rasterizer's visibility pass (package render), one thread
// per screen-space triangle. It is render's raster() written for a GPU,
// operation for operation, so that with FMA contraction off (-fmad=false)
// the keys are bit for bit those of the Go path: vertices in fixed point
// with 8 fraction bits, integer edge functions with the top-left rule, the
// four standard 4× MSAA sample positions, and per sample the nearest
// triangle as a 64-bit key (float32 bits of 1/z above the face number)
// kept with an atomic maximum, which is order-independent.

// b4_tri mirrors kernels.Tri (Go): 96 bytes.
struct b4_tri {
	long long x[3], y[3]; // fixed point, 8 fraction bits; wound so the area is positive
	double wa, wb, wc;    // 1/z = wa·u + wb·v + wc
	int x0, y0, x1, y1;   // pixels it may touch, inside the panel
	unsigned face;        // face number + 1 (0 marks an empty sample)
	unsigned pad;
};

// Sample s's offset from the pixel centre in 1/256 pixel (render's
// sampleOffsets).
__device__ long long b4_sample_dx(int s) { return s == 0 ? -32 : (s == 1 ? 96 : (s == 2 ? -96 : 32)); }
__device__ long long b4_sample_dy(int s) { return s == 0 ? 96 : (s == 1 ? 32 : (s == 2 ? -32 : -96)); }

// raster_samples writes each triangle's samples into keys (h rows of w
// pixels × 4 samples, zeroed first), keeping the largest key per sample.
// Grid: x over triangles.
extern "C" __global__ void raster_samples(const b4_tri *__restrict__ tris, int nt, unsigned long long *__restrict__ keys,
                                          int w, int h) {
	int ti = blockIdx.x * blockDim.x + threadIdx.x;
	if (ti >= nt) {
		return;
	}
	const b4_tri *t = tris + ti;
	const long long sub = 256, half = 128;
	int ya = t->y0, yb = t->y1 < h - 1 ? t->y1 : h - 1;
	int xa = t->x0, xb = t->x1 < w - 1 ? t->x1 : w - 1;
	long long A[3], B[3], E0[3], thr[3][4], lo[3];
	for (int i = 0; i < 3; i++) {
		int j = (i + 1) % 3, k = (i + 2) % 3; // edge j→k, opposite vertex i
		long long dx = t->x[k] - t->x[j], dy = t->y[k] - t->y[j];
		A[i] = -dy;
		B[i] = dx;
		long long bias = 1;
		if (dy < 0 || (dy == 0 && dx > 0)) { // top-left edge
			bias = 0;
		}
		for (int s = 0; s < 4; s++) {
			thr[i][s] = bias - A[i] * b4_sample_dx(s) - B[i] * b4_sample_dy(s);
		}
		long long px = (long long)xa * sub + half;
		long long py = (long long)ya * sub + half;
		E0[i] = A[i] * (px - t->x[j]) + B[i] * (py - t->y[j]);
		long long m = thr[i][0];
		for (int s = 1; s < 4; s++) {
			m = thr[i][s] < m ? thr[i][s] : m;
		}
		lo[i] = m;
	}
	double dw[4];
	for (int s = 0; s < 4; s++) {
		dw[s] = (t->wa * (double)b4_sample_dx(s) + t->wb * (double)b4_sample_dy(s)) / 256.0;
	}
	unsigned long long face = t->face;
	for (int y = ya; y <= yb; y++) {
		long long e0 = E0[0], e1 = E0[1], e2 = E0[2];
		double wrow = t->wa * ((double)xa + 0.5) + t->wb * ((double)y + 0.5) + t->wc;
		unsigned long long *row = keys + (size_t)y * w * 4;
		for (int x = xa; x <= xb; x++) {
			if (e0 >= lo[0] && e1 >= lo[1] && e2 >= lo[2]) {
				for (int s = 0; s < 4; s++) {
					if (e0 >= thr[0][s] && e1 >= thr[1][s] && e2 >= thr[2][s]) {
						float iz = (float)(wrow + dw[s]);
						unsigned long long key = ((unsigned long long)__float_as_uint(iz) << 32) | face;
						atomicMax(row + 4 * x + s, key);
					}
				}
			}
			e0 += A[0] * sub;
			e1 += A[1] * sub;
			e2 += A[2] * sub;
			wrow += t->wa;
		}
		E0[0] += B[0] * sub;
		E0[1] += B[1] * sub;
		E0[2] += B[2] * sub;
	}
}
