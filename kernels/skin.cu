// Linear blend skinning of MHR meshes for a batch of bodies.

// lbs_skin adds, for every (vertex, joint, weight) triplet k and body b,
// w·(t_j + q_j·(s_j·rest_v)) to out[b, v]. out (batch×nv×3) must be zeroed
// first. rest is batch×nv×3 (rest shapes differ per body: identity and pose
// correctives); xform is batch×nj×8 per joint: translation xyz, unit
// quaternion xyzw, uniform scale, already composed with the inverse bind
// pose (MHR's skel_state layout). Grid: x over triplets, y over bodies.
extern "C" __global__ void lbs_skin(const float *__restrict__ rest, int nv, const float *__restrict__ xform, int nj,
                                    const int *__restrict__ vert, const int *__restrict__ joint,
                                    const float *__restrict__ weight, int nk, float *__restrict__ out) {
	int k = blockIdx.x * blockDim.x + threadIdx.x;
	int b = blockIdx.y;
	if (k >= nk) {
		return;
	}
	int v = vert[k];
	const float *x = xform + ((size_t)b * nj + joint[k]) * 8;
	const float *r = rest + ((size_t)b * nv + v) * 3;
	float s = x[7];
	float px = s * r[0], py = s * r[1], pz = s * r[2];
	// Rotate p by q = (u, w): p + 2w(u×p) + 2u×(u×p), for unit q.
	float ux = x[3], uy = x[4], uz = x[5], qw = x[6];
	float cx = uy * pz - uz * py, cy = uz * px - ux * pz, cz = ux * py - uy * px;
	float dx = uy * cz - uz * cy, dy = uz * cx - ux * cz, dz = ux * cy - uy * cx;
	float wk = weight[k];
	float *o = out + ((size_t)b * nv + v) * 3;
	atomicAdd(o + 0, wk * (x[0] + px + 2.0f * (qw * cx + dx)));
	atomicAdd(o + 1, wk * (x[1] + py + 2.0f * (qw * cy + dy)));
	atomicAdd(o + 2, wk * (x[2] + pz + 2.0f * (qw * cz + dz)));
}
