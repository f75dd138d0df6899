package mhr

import "fmt"

// The accessors below expose the character as a rig (joint hierarchy,
// bind pose, skin, per-frame joint states) for writers of animation files;
// Forward remains the one place that poses meshes.

// LocalStates returns each joint's state relative to its parent (a
// root's is its global state) for one body's model parameters: what
// Forward's kinematics compose, in centimetres. Composing them along the
// hierarchy gives Output.Skeleton.
func (m *Model) LocalStates(params []float32) ([]State, error) {
	if err := m.checkInput(&Input{Identity: make([]float32, m.nid), Model: params}); err != nil {
		return nil, fmt.Errorf("mhr: %w", err)
	}
	jp := make([]float64, 7*m.nj)
	m.jointParameters(jp, params)
	return m.localStates(jp), nil
}

// InverseBind returns a copy of each joint's inverse bind state (B⁻¹ in
// skinning's v = Σ w·(G_j ∘ B_j⁻¹)(rest)), centimetres.
func (m *Model) InverseBind() []State {
	return append([]State(nil), m.invBind...)
}

// Rest returns the rest mesh of one body before posing and without pose
// correctives: base + identity·β + expression·ψ (V×3, centimetres, MHR
// frame). A nil expr means a neutral face.
func (m *Model) Rest(identity, expr []float32) ([]float32, error) {
	in := Input{Identity: identity, Model: make([]float32, m.nparam), Expr: expr}
	if err := m.checkInput(&in); err != nil {
		return nil, fmt.Errorf("mhr: %w", err)
	}
	coeffs := make([]float32, m.nblend)
	copy(coeffs, identity)
	copy(coeffs[m.nid:], expr)
	rest := append([]float32(nil), m.base...)
	if m.nblend > 0 {
		denseAccumulate(rest, nonZeroRows(coeffs, 1, m.nblend), m.blend, m.fma)
	}
	return rest, nil
}

// SkinWeights returns the skinning triplets: vertex, joint and weight of
// each influence. The slices are shared: callers must not modify them.
func (m *Model) SkinWeights() (vertex, joint []int32, weight []float32) {
	return m.skinVertex, m.skinJoint, m.skinWeight
}
