package mhr

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
)

// testdata/mhr is made by tools/export/mhr/make_tiny.py: a tiny random
// character and the outputs of the mhr package's torch model on it.
const testdataDir = "../../testdata/mhr"

type golden struct {
	names                       []string
	identity, model, expr       []float32
	verts, vertsNoCorr, kpoints []float32
	skel                        []float64
}

func readGolden(t *testing.T) golden {
	t.Helper()
	var g golden
	raw, err := os.ReadFile(filepath.Join(testdataDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g.names); err != nil {
		t.Fatal(err)
	}
	f, err := npz.Open(filepath.Join(testdataDir, "golden.npz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, dst := range map[string]any{
		"identity": &g.identity, "model": &g.model, "expr": &g.expr,
		"verts": &g.verts, "verts_no_correctives": &g.vertsNoCorr,
		"keypoints": &g.kpoints, "skel_state": &g.skel,
	} {
		if err := f.Read(name+".npy", dst); err != nil {
			t.Fatalf("golden %s: %v", name, err)
		}
	}
	return g
}

// relErr returns max|got−want| / max|want|.
func relErr[T float32 | float64](got, want []T) float64 {
	var num, den float64
	for i := range want {
		num = max(num, math.Abs(float64(got[i])-float64(want[i])))
		den = max(den, math.Abs(float64(want[i])))
	}
	return num / den
}

func TestParityWithReference(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	g := readGolden(t)
	n := len(g.names)
	nid, np, ne := 45, 204, 72
	batch := make([]Input, n)
	for i := range batch {
		batch[i] = Input{
			Identity: g.identity[i*nid : (i+1)*nid],
			Model:    g.model[i*np : (i+1)*np],
			Expr:     g.expr[i*ne : (i+1)*ne],
		}
	}
	out, err := m.Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	outNC, err := m.ForwardNoCorrectives(batch)
	if err != nil {
		t.Fatal(err)
	}
	V3, J, K3 := 3*m.NumVertices(), m.NumJoints(), 3*m.NumKeypoints()
	const tol = 1e-5
	for i, name := range g.names {
		checks := []struct {
			what string
			err  float64
		}{
			{"verts", relErr(out[i].Verts, g.verts[i*V3:(i+1)*V3])},
			{"verts without correctives", relErr(outNC[i].Verts, g.vertsNoCorr[i*V3:(i+1)*V3])},
			{"keypoints", relErr(out[i].Keypoints, g.kpoints[i*K3:(i+1)*K3])},
			{"skeleton", skelErr(out[i].Skeleton, g.skel[i*8*J:(i+1)*8*J])},
		}
		for _, c := range checks {
			if c.err > tol || math.IsNaN(c.err) {
				t.Errorf("case %s: %s relative error %.3g, want ≤ %g", name, c.what, c.err, tol)
			} else {
				t.Logf("case %-16s %-26s rel err %.2e", name, c.what, c.err)
			}
		}
	}
}

// skelErr compares J×8 skeleton states: translations relative to the
// largest, quaternions up to sign (q and −q are one rotation), scales
// relative.
func skelErr(got, want []float64) float64 {
	var tmax, terr, qerr, serr float64
	for j := 0; j < len(want); j += 8 {
		for k := range 3 {
			tmax = max(tmax, math.Abs(want[j+k]))
			terr = max(terr, math.Abs(got[j+k]-want[j+k]))
		}
		var dp, dm float64
		for k := 3; k < 7; k++ {
			dp = max(dp, math.Abs(got[j+k]-want[j+k]))
			dm = max(dm, math.Abs(got[j+k]+want[j+k]))
		}
		qerr = max(qerr, min(dp, dm))
		serr = max(serr, math.Abs(got[j+7]-want[j+7])/math.Abs(want[j+7]))
	}
	return max(terr/tmax, qerr, serr)
}

func TestNilExpressionIsNeutral(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	g := readGolden(t)
	// Case 5 ("identity_only") has a zero expression in the golden.
	const i = 5
	if g.names[i] != "identity_only" {
		t.Fatalf("golden case %d is %q, want identity_only", i, g.names[i])
	}
	out, err := m.Forward([]Input{{Identity: g.identity[i*45 : (i+1)*45], Model: g.model[i*204 : (i+1)*204]}})
	if err != nil {
		t.Fatal(err)
	}
	V3 := 3 * m.NumVertices()
	if e := relErr(out[0].Verts, g.verts[i*V3:(i+1)*V3]); e > 1e-5 {
		t.Errorf("nil expression: verts relative error %.3g, want ≤ 1e-5", e)
	}
}
