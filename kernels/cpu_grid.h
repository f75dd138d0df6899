// cpu_grid.h lets the bodies of body4d's CUDA kernels compile as plain C++
// and run on the CPU, to check their arithmetic and indexing against the
// Go functions of the stages they serve (render, mesh, mesh/mhr). It is not a CUDA emulator: a launch runs
// every thread of every block one after another, and atomics are plain
// read-modify-writes. That is faithful only for kernels without
// __syncthreads or shared memory, which is all body4d's kernels use. It
// checks the kernels' logic, not their execution on a GPU.
#ifndef BODY4D_CPU_GRID_H
#define BODY4D_CPU_GRID_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// No fused multiply-adds, as the PTX is compiled (-fmad=false): the twin
// must round every operation as the Go code and the GPU do.
#pragma GCC optimize("fp-contract=off")

struct dim3 {
	unsigned x, y, z;
	dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace cpugrid {
inline thread_local dim3 blockIdx, threadIdx, blockDim, gridDim;

// launch runs kernel k over grid×block, in order.
template <typename K, typename... A>
void launch(K k, dim3 grid, dim3 block, A... args) {
	gridDim = grid;
	blockDim = block;
	for (unsigned bz = 0; bz < grid.z; bz++)
		for (unsigned by = 0; by < grid.y; by++)
			for (unsigned bx = 0; bx < grid.x; bx++)
				for (unsigned tz = 0; tz < block.z; tz++)
					for (unsigned ty = 0; ty < block.y; ty++)
						for (unsigned tx = 0; tx < block.x; tx++) {
							blockIdx = dim3(bx, by, bz);
							threadIdx = dim3(tx, ty, tz);
							k(args...);
						}
}
} // namespace cpugrid

using cpugrid::blockDim;
using cpugrid::blockIdx;
using cpugrid::gridDim;
using cpugrid::threadIdx;

#define __global__
#define __device__ static inline
#define __forceinline__
#define __restrict__ __restrict

static inline unsigned long long atomicMax(unsigned long long *p, unsigned long long v) {
	unsigned long long old = *p;
	if (v > old) {
		*p = v;
	}
	return old;
}

static inline unsigned __float_as_uint(float f) {
	unsigned u;
	memcpy(&u, &f, sizeof u);
	return u;
}

#endif
