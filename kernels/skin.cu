// Linear blend skinning of MHR meshes (package mesh/mhr) for a batch of
// bodies, one thread per (vertex, body). It is mhr's skin written for a
// GPU: each vertex sums its (joint, weight) pairs in the model's order in
// float32, so with FMA contraction off (-fmad=false) the vertices are bit
// for bit those of the Go path. No atomics: the triplets are grouped by
// vertex (start, CSR) on the host.

// lbs_skin writes out[b, v] = Σ_k w_k·(X_j·[rest_v; 1]) over the pairs k
// in [start[v], start[v+1]) of vertex v, where X_j is joint j's 3×4
// row-major matrix s·R | t (global state composed with the inverse bind
// pose) of body b. rest and out are batch×nv×3, xform batch×nj×12.
// Grid: x over vertices, y over bodies.
extern "C" __global__ void lbs_skin(const float *__restrict__ rest, int nv, const float *__restrict__ xform, int nj,
                                    const int *__restrict__ start, const int *__restrict__ joint,
                                    const float *__restrict__ weight, float *__restrict__ out) {
	int v = blockIdx.x * blockDim.x + threadIdx.x;
	int b = blockIdx.y;
	if (v >= nv) {
		return;
	}
	const float *p = rest + ((size_t)b * nv + v) * 3;
	float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f;
	for (int k = start[v]; k < start[v + 1]; k++) {
		const float *x = xform + ((size_t)b * nj + joint[k]) * 12;
		float w = weight[k];
		d0 += w * (x[0] * p[0] + x[1] * p[1] + x[2] * p[2] + x[3]);
		d1 += w * (x[4] * p[0] + x[5] * p[1] + x[6] * p[2] + x[7]);
		d2 += w * (x[8] * p[0] + x[9] * p[1] + x[10] * p[2] + x[11]);
	}
	float *o = out + ((size_t)b * nv + v) * 3;
	o[0] = d0;
	o[1] = d1;
	o[2] = d2;
}
