package mhr

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Input is one body's parameters. Identity has the model's identity size
// (45 for MHR), Model its model-parameter size (204: global translation 3,
// global rotation 3, pose 130, skeleton scales 68) and Expr its expression
// size (72); a nil Expr means a neutral face.
type Input struct {
	Identity []float32
	Model    []float32
	Expr     []float32
}

// Output is one posed body, in centimetres in the MHR frame.
type Output struct {
	// Verts is V×3 skinned vertex positions.
	Verts []float32
	// Skeleton is J×8 global joint states: translation (3), rotation
	// quaternion x y z w (4), uniform scale (1); the layout of MHR's
	// skel_state.
	Skeleton []float64
	// Keypoints is K×3, the keypoint mapping applied to [Verts; joint
	// translations].
	Keypoints []float32
}

// JointPosition returns joint j's global position.
func (o *Output) JointPosition(j int) [3]float64 {
	s := o.Skeleton[8*j : 8*j+3]
	return [3]float64{s[0], s[1], s[2]}
}

// Forward poses a batch of bodies. It checks every input first and names
// the first bad one; the work then runs in parallel over the batch, with
// the blendshape and corrective layers as batched matrix products that
// skip zero coefficients.
func (m *Model) Forward(batch []Input) ([]Output, error) {
	return m.forward(batch, m.HasCorrectives())
}

// ForwardNoCorrectives is Forward without pose correctives, like MHR's
// forward(..., apply_correctives=False).
func (m *Model) ForwardNoCorrectives(batch []Input) ([]Output, error) {
	return m.forward(batch, false)
}

func (m *Model) forward(batch []Input, correctives bool) ([]Output, error) {
	for b := range batch {
		if err := m.checkInput(&batch[b]); err != nil {
			return nil, fmt.Errorf("mhr: batch item %d: %w", b, err)
		}
	}
	B := len(batch)
	if B == 0 {
		return nil, nil
	}
	V3 := 3 * m.nv
	out := make([]Output, B)
	jointParams := make([]float64, B*7*m.nj)
	coeffs := make([]float32, B*m.nblend)
	rest := make([]float32, B*V3)

	parallel(B, func(b int) {
		in := &batch[b]
		jp := jointParams[b*7*m.nj : (b+1)*7*m.nj]
		m.jointParameters(jp, in.Model)
		out[b].Skeleton = m.skeleton(jp)
		copy(coeffs[b*m.nblend:], in.Identity)
		copy(coeffs[b*m.nblend+m.nid:], in.Expr) // nil Expr leaves zeros
		copy(rest[b*V3:(b+1)*V3], m.base)
	})

	if m.nblend > 0 {
		denseAccumulate(rest, nonZeroRows(coeffs, B, m.nblend), m.blend, m.fma)
	}
	if correctives {
		h := m.hiddenActivations(jointParams, B)
		denseAccumulate(rest, nonZeroRows(h, B, m.hidden), m.corrDense, m.fma)
	}

	if m.kern != nil {
		if err := m.skinBatch(out, rest); err != nil {
			return nil, err
		}
		parallel(B, func(b int) { out[b].Keypoints = m.keypoints(out[b].Verts, out[b].Skeleton) })
		return out, nil
	}
	parallel(B, func(b int) {
		o := &out[b]
		o.Verts = m.skin(o.Skeleton, rest[b*V3:(b+1)*V3])
		o.Keypoints = m.keypoints(o.Verts, o.Skeleton)
	})
	return out, nil
}

// skinBatch skins the whole batch in one kernels call: the same per-joint
// matrices and, per vertex, the same sums in the same order as skin.
func (m *Model) skinBatch(out []Output, rest []float32) error {
	B := len(out)
	xform := make([]float32, B*m.nj*12)
	parallel(B, func(b int) {
		xf := m.skinMatrices(out[b].Skeleton)
		for j := range xf {
			copy(xform[(b*m.nj+j)*12:], xf[j][:])
		}
	})
	verts := make([]float32, len(rest))
	if err := m.kern.Skin(verts, rest, B, m.nv, xform, m.nj, m.skinCSR); err != nil {
		return fmt.Errorf("mhr: skinning on %s: %w", m.kern.Name(), err)
	}
	for b := range out {
		out[b].Verts = verts[b*3*m.nv : (b+1)*3*m.nv : (b+1)*3*m.nv]
	}
	return nil
}

func (m *Model) checkInput(in *Input) error {
	fields := []struct {
		name string
		v    []float32
		want int
		opt  bool
	}{
		{"identity", in.Identity, m.nid, false},
		{"model parameters", in.Model, m.nparam, false},
		{"expression", in.Expr, m.nexpr, true},
	}
	for _, f := range fields {
		if f.opt && f.v == nil {
			continue
		}
		if len(f.v) != f.want {
			return fmt.Errorf("%s: got %d values, want %d", f.name, len(f.v), f.want)
		}
		for i, x := range f.v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%s[%d] is %v", f.name, i, x)
			}
		}
	}
	return nil
}

// jointParameters writes T·[params ‖ 0] into jp (7 per joint).
func (m *Model) jointParameters(jp []float64, params []float32) {
	for r := range jp {
		var s float64
		for k := m.ptRowStart[r]; k < m.ptRowStart[r+1]; k++ {
			s += m.ptVal[k] * float64(params[m.ptCol[k]])
		}
		jp[r] = s
	}
}

// skeleton runs forward kinematics and returns J×8 global states.
func (m *Model) skeleton(jp []float64) []float64 {
	global := m.localStates(jp)
	sk := make([]float64, 8*m.nj)
	for j := range m.nj {
		if par := m.parents[j]; par >= 0 {
			global[j] = global[par].Compose(global[j])
		}
		g := sk[8*j : 8*j+8]
		copy(g[0:3], global[j].T[:])
		copy(g[3:7], global[j].Q[:])
		g[7] = global[j].S
	}
	return sk
}

// localStates returns each joint's state relative to its parent (its
// own for a root): t = jp[0:3] + offset, q = prerotation ⊗ Euler, s =
// 2^jp[6].
func (m *Model) localStates(jp []float64) []State {
	local := make([]State, m.nj)
	for j := range m.nj {
		p := jp[7*j : 7*j+7]
		o := m.offsets[3*j : 3*j+3]
		pre := Quat(m.prerot[4*j : 4*j+4])
		local[j] = State{
			T: [3]float64{p[0] + o[0], p[1] + o[1], p[2] + o[2]},
			Q: pre.Mul(eulerXYZ(p[3], p[4], p[5])),
			S: math.Exp2(p[6]),
		}
	}
	return local
}

// hiddenActivations returns ReLU(W·feature) for each body, B × hidden.
func (m *Model) hiddenActivations(jointParams []float64, B int) []float32 {
	nfeat := 6 * (m.nj - 2)
	h := make([]float32, B*m.hidden)
	parallel(B, func(b int) {
		jp := jointParams[b*7*m.nj : (b+1)*7*m.nj]
		feat := make([]float32, nfeat)
		for j := 2; j < m.nj; j++ {
			a := jp[7*j+3 : 7*j+6]
			euler6D(feat[6*(j-2):], a[0], a[1], a[2])
		}
		hb := h[b*m.hidden : (b+1)*m.hidden]
		for k, w := range m.corrW {
			hb[m.corrRow[k]] += w * feat[m.corrCol[k]]
		}
		for i, v := range hb {
			if v < 0 {
				hb[i] = 0
			}
		}
	})
	return h
}

// skin applies linear blend skinning to rest (V·3) with the global
// skeleton sk (J×8).
func (m *Model) skin(sk []float64, rest []float32) []float32 {
	xf := m.skinMatrices(sk)
	v := make([]float32, 3*m.nv)
	for i, vi := range m.skinVertex {
		x := &xf[m.skinJoint[i]]
		w := m.skinWeight[i]
		p := rest[3*vi : 3*vi+3 : 3*vi+3]
		d := v[3*vi : 3*vi+3 : 3*vi+3]
		d[0] += w * (x[0]*p[0] + x[1]*p[1] + x[2]*p[2] + x[3])
		d[1] += w * (x[4]*p[0] + x[5]*p[1] + x[6]*p[2] + x[7])
		d[2] += w * (x[8]*p[0] + x[9]*p[1] + x[10]*p[2] + x[11])
	}
	return v
}

// skinMatrices returns per joint (global ∘ inverse bind) as a row-major
// 3×4 float32 matrix s·R | t.
func (m *Model) skinMatrices(sk []float64) [][12]float32 {
	xf := make([][12]float32, m.nj)
	for j := range m.nj {
		g := sk[8*j : 8*j+8]
		gs := State{T: [3]float64{g[0], g[1], g[2]}, Q: Quat(g[3:7]), S: g[7]}
		c := gs.Compose(m.invBind[j])
		r := c.Q.Matrix()
		x := &xf[j]
		for row := range 3 {
			for col := range 3 {
				x[4*row+col] = float32(c.S * r[3*row+col])
			}
			x[4*row+3] = float32(c.T[row])
		}
	}
	return xf
}

// keypoints applies the keypoint mapping to [verts; joint positions].
func (m *Model) keypoints(verts []float32, sk []float64) []float32 {
	kp := make([]float32, 3*m.nkp)
	for i, r := range m.kpRow {
		c, w := int(m.kpCol[i]), m.kpWeight[i]
		d := kp[3*r : 3*r+3 : 3*r+3]
		if c < m.nv {
			d[0] += w * verts[3*c]
			d[1] += w * verts[3*c+1]
			d[2] += w * verts[3*c+2]
			continue
		}
		t := sk[8*(c-m.nv) : 8*(c-m.nv)+3]
		d[0] += w * float32(t[0])
		d[1] += w * float32(t[1])
		d[2] += w * float32(t[2])
	}
	return kp
}

// parallel calls f(i) for i in [0,n) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
