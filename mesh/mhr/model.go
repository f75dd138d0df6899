package mhr

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/kernels"
)

// Assets holds the raw arrays of an MHR character, laid out as in the
// asset format (see the package documentation). Load fills it from disk;
// New checks it and builds a Model.
type Assets struct {
	NumVertices, NumJoints, NumModelParams int
	NumIdentity, NumExpression             int
	NumKeypoints                           int

	JointNames         []string  // J, or nil: joints are then named by index
	Parents            []int32   // J
	TranslationOffsets []float64 // J·3
	PreRotations       []float64 // J·4, x y z w
	InverseBindPose    []float64 // J·8, t q s
	ParameterTransform []float32 // 7J × model params

	BaseShape       []float32 // V·3
	IdentityBasis   []float32 // identity × V·3
	ExpressionBasis []float32 // expression × V·3
	Faces           []int32   // F·3

	SkinVertex []int32
	SkinJoint  []int32
	SkinWeight []float32

	KeypointRow    []int32
	KeypointCol    []int32
	KeypointWeight []float32

	// Correctives are optional: all three nil, or all three set.
	CorrectiveHidden      int
	CorrectiveIndices     []int64   // 2·K: hidden rows, then feature columns
	CorrectiveWeights     []float32 // K
	CorrectiveBlendshapes []float32 // H × V·3
}

// Model is a checked MHR character ready for Forward. It is read-only after
// New, so one Model may serve concurrent Forward calls.
type Model struct {
	nv, nj, nparam, nid, nexpr, nkp int

	names   []string
	parents []int
	offsets []float64
	prerot  []float64
	invBind []State

	// Parameter transform as CSR (its zeros dominate).
	ptRowStart []int
	ptCol      []int
	ptVal      []float64

	// blend is [identity; expression] × V·3; base is V·3.
	base   []float32
	blend  packedDense
	nblend int

	faces []int32

	skinVertex []int32
	skinJoint  []int32
	skinWeight []float32

	kpRow, kpCol []int32
	kpWeight     []float32

	// Correctives: sparse layer as COO (row, col, weight), dense H × V·3.
	hidden    int
	corrRow   []int32
	corrCol   []int32
	corrW     []float32
	corrDense packedDense

	// fma selects the AVX2/FMA kernel for the dense corrective layer.
	fma bool

	// kp is the same character cut down to the vertices the keypoint
	// mapping reads, for Keypoints; nil when there is no mapping.
	kp *Model

	// kern, if not nil, skins (WithKernels) with skinCSR, the skinning
	// grouped by vertex.
	kern    kernels.Kernels
	skinCSR *kernels.Skinning
}

// WithKernels returns a copy of m that skins on k (a GPU; see package
// kernels), with the same results bit for bit; the rest of Forward stays
// in Go. k == nil gives back the Go path.
func (m *Model) WithKernels(k kernels.Kernels) *Model {
	c := *m
	c.kern, c.skinCSR = k, nil
	if k != nil {
		c.skinCSR = skinningByVertex(m.nv, m.skinVertex, m.skinJoint, m.skinWeight)
	}
	if m.kp != nil {
		c.kp = m.kp.WithKernels(k)
	}
	return &c
}

// skinningByVertex groups (vertex, joint, weight) triplets by vertex,
// keeping each vertex's triplets in their order, which is the order skin
// sums them in.
func skinningByVertex(nv int, vert, joint []int32, weight []float32) *kernels.Skinning {
	s := &kernels.Skinning{Start: make([]int32, nv+1), Joint: make([]int32, len(vert)), Weight: make([]float32, len(vert))}
	for _, v := range vert {
		s.Start[v+1]++
	}
	for v := range nv {
		s.Start[v+1] += s.Start[v]
	}
	next := append([]int32(nil), s.Start[:nv]...)
	for k, v := range vert {
		s.Joint[next[v]], s.Weight[next[v]] = joint[k], weight[k]
		next[v]++
	}
	return s
}

// NumVertices returns V.
func (m *Model) NumVertices() int { return m.nv }

// NumJoints returns J.
func (m *Model) NumJoints() int { return m.nj }

// NumModelParams returns the model-parameter size (204 for MHR).
func (m *Model) NumModelParams() int { return m.nparam }

// NumKeypoints returns the number of keypoints Forward computes.
func (m *Model) NumKeypoints() int { return m.nkp }

// HasCorrectives reports whether the model carries pose correctives.
func (m *Model) HasCorrectives() bool { return m.hidden > 0 }

// Faces returns the triangle vertex indices, F·3. The slice is shared:
// callers must not modify it.
func (m *Model) Faces() []int32 { return m.faces }

// JointNames returns the joints' names: the asset's, or "joint_000",
// "joint_001", ... when it has none. The slice is shared: callers must not
// modify it.
func (m *Model) JointNames() []string { return m.names }

// Parents returns each joint's parent index (-1 for a root). The slice is
// shared: callers must not modify it.
func (m *Model) Parents() []int { return m.parents }

// New checks every array of a against the sizes it declares and builds a
// Model. Errors name the array and give got and want sizes.
func New(a *Assets) (*Model, error) {
	V, J, P := a.NumVertices, a.NumJoints, a.NumModelParams
	if V <= 0 || J <= 0 || P <= 0 || a.NumIdentity < 0 || a.NumExpression < 0 || a.NumKeypoints < 0 {
		return nil, fmt.Errorf("mhr: bad sizes: vertices %d, joints %d, model params %d, identity %d, expression %d, keypoints %d",
			V, J, P, a.NumIdentity, a.NumExpression, a.NumKeypoints)
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"parents", len(a.Parents), J},
		{"translation_offsets", len(a.TranslationOffsets), 3 * J},
		{"pre_rotations", len(a.PreRotations), 4 * J},
		{"inverse_bind_pose", len(a.InverseBindPose), 8 * J},
		{"parameter_transform", len(a.ParameterTransform), 7 * J * P},
		{"base_shape", len(a.BaseShape), 3 * V},
		{"identity_basis", len(a.IdentityBasis), a.NumIdentity * 3 * V},
		{"expression_basis", len(a.ExpressionBasis), a.NumExpression * 3 * V},
		{"faces", len(a.Faces) % 3, 0},
		{"skin_joint", len(a.SkinJoint), len(a.SkinVertex)},
		{"skin_weight", len(a.SkinWeight), len(a.SkinVertex)},
		{"keypoint_col", len(a.KeypointCol), len(a.KeypointRow)},
		{"keypoint_weight", len(a.KeypointWeight), len(a.KeypointRow)},
	}
	for _, c := range checks {
		if c.got != c.want {
			return nil, fmt.Errorf("mhr: array %s: got %d values, want %d", c.name, c.got, c.want)
		}
	}
	m := &Model{
		nv: V, nj: J, nparam: P, nid: a.NumIdentity, nexpr: a.NumExpression, nkp: a.NumKeypoints,
		parents: make([]int, J),
		offsets: a.TranslationOffsets,
		prerot:  a.PreRotations,
		invBind: make([]State, J),
		base:    a.BaseShape,
		nblend:  a.NumIdentity + a.NumExpression,
		faces:   a.Faces,
		fma:     haveFMA(),
	}
	if a.JointNames != nil && len(a.JointNames) != J {
		return nil, fmt.Errorf("mhr: joint names: got %d, want %d", len(a.JointNames), J)
	}
	m.names = a.JointNames
	if m.names == nil {
		m.names = make([]string, J)
		for j := range m.names {
			m.names[j] = fmt.Sprintf("joint_%03d", j)
		}
	}
	for j, p := range a.Parents {
		// FK runs in index order, so every parent must come first.
		if p < -1 || int(p) >= j {
			return nil, fmt.Errorf("mhr: array parents: joint %d has parent %d, want -1 or an index below %d", j, p, j)
		}
		m.parents[j] = int(p)
	}
	for j := range J {
		b := a.InverseBindPose[8*j : 8*j+8]
		m.invBind[j] = State{T: [3]float64{b[0], b[1], b[2]}, Q: Quat{b[3], b[4], b[5], b[6]}, S: b[7]}
		if !allFinite64(b) {
			return nil, fmt.Errorf("mhr: array inverse_bind_pose: joint %d is not finite", j)
		}
	}
	for _, f := range a.Faces {
		if f < 0 || int(f) >= V {
			return nil, fmt.Errorf("mhr: array faces: vertex index %d outside [0,%d)", f, V)
		}
	}

	m.ptRowStart = make([]int, 7*J+1)
	for r := range 7 * J {
		row := a.ParameterTransform[r*P : (r+1)*P]
		for c, v := range row {
			if v != 0 {
				m.ptCol = append(m.ptCol, c)
				m.ptVal = append(m.ptVal, float64(v))
			}
		}
		m.ptRowStart[r+1] = len(m.ptCol)
	}

	blend := make([]float32, 0, m.nblend*3*V)
	blend = append(blend, a.IdentityBasis...)
	blend = append(blend, a.ExpressionBasis...)
	m.blend = packDense(blend, m.nblend, 3*V)

	for i := range a.SkinVertex {
		v, j := a.SkinVertex[i], a.SkinJoint[i]
		if v < 0 || int(v) >= V {
			return nil, fmt.Errorf("mhr: array skin_vertex: entry %d is vertex %d, outside [0,%d)", i, v, V)
		}
		if j < 0 || int(j) >= J {
			return nil, fmt.Errorf("mhr: array skin_joint: entry %d is joint %d, outside [0,%d)", i, j, J)
		}
	}
	m.skinVertex, m.skinJoint, m.skinWeight = a.SkinVertex, a.SkinJoint, a.SkinWeight

	for i := range a.KeypointRow {
		r, c := a.KeypointRow[i], a.KeypointCol[i]
		if r < 0 || int(r) >= a.NumKeypoints {
			return nil, fmt.Errorf("mhr: array keypoint_row: entry %d is row %d, outside [0,%d)", i, r, a.NumKeypoints)
		}
		if c < 0 || int(c) >= V+J {
			return nil, fmt.Errorf("mhr: array keypoint_col: entry %d is column %d, outside [0,%d)", i, c, V+J)
		}
	}
	m.kpRow, m.kpCol, m.kpWeight = a.KeypointRow, a.KeypointCol, a.KeypointWeight

	if err := m.setCorrectives(a); err != nil {
		return nil, err
	}
	if len(a.KeypointRow) > 0 {
		sub := keypointAssets(a)
		if sub.NumVertices < V {
			kp, err := New(sub)
			if err != nil {
				return nil, fmt.Errorf("mhr: keypoint character: %w", err)
			}
			m.kp = kp
		}
	}
	return m, nil
}

// Keypoints poses a batch of bodies like Forward but returns only their
// keypoints (K×3 each, centimetres, MHR frame). It evaluates the vertices
// the keypoint mapping reads and no others, which is what SAM-3D-Body's
// decoder needs between its layers; a full LOD1 body is 18,439 vertices.
func (m *Model) Keypoints(batch []Input) ([][]float32, error) {
	src := m
	if m.kp != nil {
		src = m.kp
	}
	out, err := src.Forward(batch)
	if err != nil {
		return nil, err
	}
	kps := make([][]float32, len(out))
	for i := range out {
		kps[i] = out[i].Keypoints
	}
	return kps, nil
}

// keypointAssets is a with only the vertices that the keypoint mapping
// reads: the skeleton, parameter transform and corrective sparse layer
// are whole; blendshapes, corrective blendshapes and skinning keep those
// vertices' rows; the mapping's columns are renumbered. No faces.
func keypointAssets(a *Assets) *Assets {
	V := a.NumVertices
	local := make([]int32, V)
	for i := range local {
		local[i] = -1
	}
	var keep []int
	for _, c := range a.KeypointCol {
		if int(c) < V && local[c] < 0 {
			local[c] = int32(len(keep))
			keep = append(keep, int(c))
		}
	}
	Vk := len(keep)
	rows := func(src []float32, n int) []float32 {
		out := make([]float32, 0, n*3*Vk)
		for r := range n {
			row := src[r*3*V : (r+1)*3*V]
			for _, v := range keep {
				out = append(out, row[3*v:3*v+3]...)
			}
		}
		return out
	}
	sub := *a
	sub.NumVertices = Vk
	sub.BaseShape = rows(a.BaseShape, 1)
	sub.IdentityBasis = rows(a.IdentityBasis, a.NumIdentity)
	sub.ExpressionBasis = rows(a.ExpressionBasis, a.NumExpression)
	sub.Faces = nil
	if a.CorrectiveBlendshapes != nil {
		sub.CorrectiveBlendshapes = rows(a.CorrectiveBlendshapes, a.CorrectiveHidden)
	}
	sub.SkinVertex, sub.SkinJoint, sub.SkinWeight = nil, nil, nil
	for i, v := range a.SkinVertex {
		if v >= 0 && int(v) < V && local[v] >= 0 {
			sub.SkinVertex = append(sub.SkinVertex, local[v])
			sub.SkinJoint = append(sub.SkinJoint, a.SkinJoint[i])
			sub.SkinWeight = append(sub.SkinWeight, a.SkinWeight[i])
		}
	}
	sub.KeypointCol = make([]int32, len(a.KeypointCol))
	for i, c := range a.KeypointCol {
		if int(c) < V {
			sub.KeypointCol[i] = local[c]
		} else {
			sub.KeypointCol[i] = c - int32(V) + int32(Vk) // a joint
		}
	}
	return &sub
}

func (m *Model) setCorrectives(a *Assets) error {
	have := a.CorrectiveIndices != nil || a.CorrectiveWeights != nil || a.CorrectiveBlendshapes != nil
	if !have && a.CorrectiveHidden == 0 {
		return nil
	}
	H := a.CorrectiveHidden
	if H <= 0 {
		return fmt.Errorf("mhr: corrective_hidden is %d, want > 0 when corrective arrays are given", H)
	}
	if m.nj < 3 {
		return fmt.Errorf("mhr: correctives need at least 3 joints, have %d", m.nj)
	}
	K := len(a.CorrectiveWeights)
	checks := []struct {
		name      string
		got, want int
	}{
		{"corrective_indices", len(a.CorrectiveIndices), 2 * K},
		{"corrective_blendshapes", len(a.CorrectiveBlendshapes), H * 3 * m.nv},
	}
	for _, c := range checks {
		if c.got != c.want {
			return fmt.Errorf("mhr: array %s: got %d values, want %d", c.name, c.got, c.want)
		}
	}
	nfeat := 6 * (m.nj - 2)
	m.corrRow = make([]int32, K)
	m.corrCol = make([]int32, K)
	for k := range K {
		r, c := a.CorrectiveIndices[k], a.CorrectiveIndices[K+k]
		if r < 0 || r >= int64(H) || c < 0 || c >= int64(nfeat) {
			return fmt.Errorf("mhr: array corrective_indices: entry %d is (%d,%d), outside [0,%d)×[0,%d)", k, r, c, H, nfeat)
		}
		m.corrRow[k], m.corrCol[k] = int32(r), int32(c)
	}
	m.hidden = H
	m.corrW = a.CorrectiveWeights
	m.corrDense = packDense(a.CorrectiveBlendshapes, H, 3*m.nv)
	return nil
}

func allFinite64(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
