// Package mhr is the MHR body model (Momentum Human Rig): identity and
// expression blendshapes, a parameter transform from 204 model parameters
// to per-joint parameters, forward kinematics, non-linear pose correctives
// and linear blend skinning, evaluated in pure Go for a batch of bodies.
//
// The math follows the reference notes (mesh-fov.md B) and the public MHR
// code (mhr/mhr.py, mhr/io.py, mhr/utils.py):
//
//   - joint_params[7J] = T[7J×P] · model_params. MHR's transform has
//     extra blendshape columns that always meet zero padding (identity
//     never moves the skeleton), so the asset keeps only the P
//     model-parameter columns.
//   - Per joint: t = jp[0:3] + translation_offset, q = prerotation ⊗
//     q_xyz(jp[3:6]) where q_xyz is R = Rz·Ry·Rx, s = 2^jp[6].
//   - Forward kinematics in float64: a child's global state is its
//     parent's composed with its local state: t = t₁ + s₁·q₁(t₂),
//     q = q₁q₂, s = s₁s₂.
//   - rest = base + identity·β + expression·ψ (+ pose correctives).
//   - Correctives: for joints 2..J-1, the first two columns of the Euler
//     rotation matrix with 1 subtracted from the diagonal (6 values per
//     joint), a sparse linear layer, ReLU, then a dense layer to V·3.
//   - Skinning: v = Σ w·(G_j ∘ B_j⁻¹)(rest), with G the global skeleton
//     state and B⁻¹ the inverse bind pose, both as (t, q, s) states.
//   - Keypoints: a sparse matrix over [vertices; joint positions].
//
// Forward runs the blendshape and corrective layers as batched products
// that skip zero coefficients (after ReLU about half the corrective units
// are off), with an AVX2/FMA kernel where the CPU has one and portable Go
// otherwise (build tag purego forces the latter). A Model keeps those two
// matrices re-laid out in 32-column slabs; at LOD1 the corrective one is
// 664 MB of float32.
//
// Keypoints evaluates only the vertices the keypoint mapping reads, for
// callers that need the keypoints and not the mesh.
//
// Outputs are in centimetres in the MHR frame (y up). CameraFrame turns
// them into SAM-3D-Body's camera convention (metres, y and z negated).
//
// # Asset format
//
// Load reads a directory written by tools/export/mhr/convert.py (real MHR
// assets) or tools/export/mhr/make_tiny.py (test characters): a JSON header
// and one .npy file per array, all little-endian, C order. LoadFS reads
// the same files from an fs.FS, such as the zip archive a model directory
// ships them in.
//
// header.json:
//
//	{"format": "body4d-mhr", "version": 1,
//	 "num_vertices": V, "num_joints": J, "num_faces": F,
//	 "num_model_params": 204, "num_identity": 45, "num_expression": 72,
//	 "num_skin": N, "num_keypoints": 70, "num_keypoint_entries": M,
//	 "correctives": true, "corrective_hidden": H, "corrective_nnz": K,
//	 "joint_names": ["root", ...]}
//
// joint_names is optional (convert.py writes MHR's; the tiny test
// character has none, and its joints are then named joint_000, ...).
//
// Arrays (file name without .npy, dtype, shape):
//
//	parents                 int32    [J]          parent index, -1 for a root; parent < child
//	translation_offsets     float64  [J,3]        cm
//	pre_rotations           float64  [J,4]        quaternion x,y,z,w
//	inverse_bind_pose       float64  [J,8]        t(3), q xyzw(4), s(1)
//	parameter_transform     float32  [7J,P]       P = num_model_params (204)
//	base_shape              float32  [V,3]        cm
//	identity_basis          float32  [45,V,3]
//	expression_basis        float32  [72,V,3]
//	faces                   int32    [F,3]
//	skin_vertex             int32    [N]          skinning triplets
//	skin_joint              int32    [N]
//	skin_weight             float32  [N]
//	keypoint_row            int32    [M]          keypoint mapping triplets over
//	keypoint_col            int32    [M]          [vertices; joints] (col < V+J)
//	keypoint_weight         float32  [M]
//	corrective_indices      int64    [2,K]        (hidden row, feature column) pairs
//	corrective_weights      float32  [K]
//	corrective_blendshapes  float32  [H,V,3]      dense layer, row h = Δrest per unit of hidden h
//
// The three corrective arrays are present exactly when "correctives" is
// true; the feature size is 6·(J−2).
package mhr
