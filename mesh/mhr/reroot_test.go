package mhr

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReroot: a random character (random root offset and pre-rotation,
// correctives on) re-rooted by a random rigid motion poses exactly that
// motion of the original mesh, including poses at the Euler angles'
// gimbal lock; a rig whose global parameters also drive another joint is
// refused.
func TestReroot(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	z := randomSizes{verts: 300, joints: 20, faces: 500, skin: 900, hidden: 16, corrNNZ: 200, keypoints: 5}
	a := randomAssets(rng, z)
	const P = 204
	// randomAssets couples any parameter into non-root joints; MHR's
	// global parameters drive only the root.
	for r := 7; r < 7*z.joints; r++ {
		for c := range 6 {
			a.ParameterTransform[r*P+c] = 0
		}
	}
	// Skinning weights that sum to 1, as MHR's do.
	sum := make([]float32, z.verts)
	for i, v := range a.SkinVertex {
		sum[v] += a.SkinWeight[i]
	}
	for i, v := range a.SkinVertex {
		a.SkinWeight[i] /= sum[v]
	}
	m, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range randomBatch(rng, 6) {
		if i == 4 {
			in.Model[4] = math.Pi / 2 // the root's y angle at the lock
		}
		axis := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		n := math.Sqrt(axis[0]*axis[0] + axis[1]*axis[1] + axis[2]*axis[2])
		s, c := math.Sincos(rng.Float64() * math.Pi)
		q := Quat{s * axis[0] / n, s * axis[1] / n, s * axis[2] / n, c}
		tr := [3]float64{rng.NormFloat64() * 100, rng.NormFloat64() * 100, rng.NormFloat64() * 100}
		if i == 5 {
			// A half turn about y from a pose at the lock: x and z trade.
			in.Model[4] = -math.Pi / 2
			q = Quat{0, 1, 0, 0}
		}
		moved, err := m.Reroot(in.Model, q, tr)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Forward([]Input{in, {Identity: in.Identity, Model: moved, Expr: in.Expr}})
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for v := 0; v < m.NumVertices(); v++ {
			p := out[0].Verts[3*v : 3*v+3]
			want := q.Rotate([3]float64{float64(p[0]), float64(p[1]), float64(p[2])})
			for k := range 3 {
				worst = max(worst, math.Abs(want[k]+tr[k]-float64(out[1].Verts[3*v+k])))
			}
		}
		// Centimetres, on float32 vertices a few hundred cm from the origin.
		t.Logf("body %d: worst vertex %.2g cm", i, worst)
		if worst > 1e-3 {
			t.Errorf("body %d: re-rooted mesh is %.3g cm from the moved one", i, worst)
		}
	}

	a.SkinWeight[0] *= 2
	if m, err = New(a); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reroot(make([]float32, P), Quat{0, 0, 0, 1}, [3]float64{}); err == nil || !strings.Contains(err.Error(), "skinning weights") {
		t.Errorf("err %v; want a refusal naming the skinning weights", err)
	}
	a.SkinWeight[0] /= 2
	a.ParameterTransform[7*3*P+2] = 0.5 // joint 3's x now reads the global z translation
	if m, err = New(a); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reroot(make([]float32, P), Quat{0, 0, 0, 1}, [3]float64{}); err == nil || !strings.Contains(err.Error(), "joint 3") {
		t.Errorf("err %v; want a refusal naming joint 3", err)
	}
}
