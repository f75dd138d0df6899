package mhr

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// LocalStates composed along the hierarchy are Forward's skeleton, and
// skinning Rest with them and the inverse bind states gives Forward's
// vertices without correctives: the rig accessors describe the same body.
func TestRigAccessorsMatchForward(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	in := randomBatch(rng, 1)[0]
	out, err := m.ForwardNoCorrectives([]Input{in})
	if err != nil {
		t.Fatal(err)
	}
	local, err := m.LocalStates(in.Model)
	if err != nil {
		t.Fatal(err)
	}
	global := make([]State, len(local))
	for j, p := range m.Parents() {
		global[j] = local[j]
		if p >= 0 {
			global[j] = global[p].Compose(local[j])
		}
		sk := out[0].Skeleton[8*j : 8*j+8]
		for k := range 3 {
			if d := math.Abs(global[j].T[k] - sk[k]); d > 1e-9 {
				t.Fatalf("joint %d translation %d: %v vs Forward %v", j, k, global[j].T[k], sk[k])
			}
		}
	}
	rest, err := m.Rest(in.Identity, in.Expr)
	if err != nil {
		t.Fatal(err)
	}
	ib := m.InverseBind()
	vs, js, ws := m.SkinWeights()
	got := make([]float64, len(rest))
	for i, v := range vs {
		x := global[js[i]].Compose(ib[js[i]]).Apply([3]float64{float64(rest[3*v]), float64(rest[3*v+1]), float64(rest[3*v+2])})
		for k := range 3 {
			got[3*v+int32(k)] += float64(ws[i]) * x[k]
		}
	}
	var worst float64
	for i, g := range got {
		worst = max(worst, math.Abs(g-float64(out[0].Verts[i])))
	}
	if worst > 1e-3 { // centimetres: float32 skinning in Forward
		t.Errorf("skinning the rig gives vertices %.2g cm from Forward's", worst)
	}
	t.Logf("rig skinning vs Forward: max %.2g cm", worst)
}

func TestStateInverse(t *testing.T) {
	a := State{T: [3]float64{1, -2, 3}, Q: Quat{0.1, 0.7, -0.3, 0.5}, S: 1.7}
	n := math.Sqrt(0.01 + 0.49 + 0.09 + 0.25)
	for k := range a.Q {
		a.Q[k] /= n
	}
	p := [3]float64{0.3, 4, -5}
	q := a.Inverse().Apply(a.Apply(p))
	for k := range 3 {
		if math.Abs(q[k]-p[k]) > 1e-12 {
			t.Fatalf("inverse(a(p)) = %v, want %v", q, p)
		}
	}
}

func TestJointNames(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if n := m.JointNames(); len(n) != m.NumJoints() || n[0] != "joint_000" || n[15] != "joint_015" {
		t.Errorf("names without joint_names: %v", n)
	}
	dir := copyTiny(t)
	names := make([]string, 16)
	for j := range names {
		names[j] = `"j` + string(rune('a'+j)) + `"`
	}
	editHeader(t, dir, `"correctives"`, `"joint_names": [`+strings.Join(names, ",")+`], "correctives"`)
	if m, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if n := m.JointNames(); n[0] != "ja" || n[15] != "jp" {
		t.Errorf("names from header: %v", n)
	}
	dir = copyTiny(t)
	editHeader(t, dir, `"correctives"`, `"joint_names": ["a", "b"], "correctives"`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "joint_names has 2 names, want 16") {
		t.Errorf("two names for 16 joints: %v", err)
	}
}
