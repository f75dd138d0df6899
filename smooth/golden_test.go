package smooth

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/body4d/body4d/internal/npytest"
)

// Goldens come from tools/golden/smooth/make_golden.py.
const goldenDir = "../testdata/smooth"

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func readNpy32(t *testing.T, name string) []float32 {
	return npytest.Read[float32](t, filepath.Join(goldenDir, name))
}

func clone(y [][]float64) [][]float64 {
	out := make([][]float64, len(y))
	for i, r := range y {
		out[i] = append([]float64(nil), r...)
	}
	return out
}

func maxAbsDiff(t *testing.T, got, want [][]float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	var m float64
	for i := range got {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("frame %d: %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for d := range got[i] {
			m = math.Max(m, math.Abs(got[i][d]-want[i][d]))
		}
	}
	return m
}

func TestKalmanGolden(t *testing.T) {
	var cases []struct {
		Name                  string
		QPos                  float64 `json:"q_pos"`
		QVel                  float64 `json:"q_vel"`
		R, P0                 float64
		Y, Filterpy, Pykalman [][]float64
		Observed              []bool
	}
	readJSON(t, "kalman.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		y := clone(c.Y)
		if err := KalmanRTS(y, c.Observed, KalmanParams{QPos: c.QPos, QVel: c.QVel, R: c.R, P0: c.P0}); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		ef, ep := maxAbsDiff(t, y, c.Filterpy), maxAbsDiff(t, y, c.Pykalman)
		t.Logf("%s: max |Go−filterpy| %.3g, |Go−pykalman| %.3g", c.Name, ef, ep)
		if ef > 1e-12 || ep > 1e-12 {
			t.Errorf("%s: max abs error %.3g (filterpy), %.3g (pykalman) > 1e-12", c.Name, ef, ep)
		}
	}
}

func TestOneEuroGolden(t *testing.T) {
	var cases []struct {
		Name      string
		MinCutoff float64 `json:"min_cutoff"`
		Beta      float64
		DCutoff   float64 `json:"d_cutoff"`
		Rate      float64
		Y, Want   [][]float64
		Observed  []bool
	}
	readJSON(t, "oneeuro.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		y := clone(c.Y)
		p := OneEuroParams{MinCutoff: c.MinCutoff, Beta: c.Beta, DCutoff: c.DCutoff, Rate: c.Rate}
		if err := OneEuroFilter(y, c.Observed, p); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		e := maxAbsDiff(t, y, c.Want)
		t.Logf("%s: max |Go−Python| %.3g", c.Name, e)
		if e > 1e-12 {
			t.Errorf("%s: max abs error %.3g > 1e-12", c.Name, e)
		}
	}
}

// TestReferenceGolden runs the reference tool's smoother as meta.py calls
// it (body_pose and hand twice, then global_rot) and compares.
func TestReferenceGolden(t *testing.T) {
	var meta struct {
		Frames, People int
		Widths         map[string]int
		Present        map[string][]bool
		Visible        map[string][]bool
		Spike          struct{ Input, Output []float64 }
	}
	readJSON(t, "reference.json", &meta)
	T, N := meta.Frames, meta.People
	// The reference works in float32; Go in float64 from the same inputs.
	const tol = 1e-6
	person := func(flat []float32, D, o int) [][]float64 {
		y := make([][]float64, T)
		for f := range T {
			y[f] = make([]float64, D)
			for d := range D {
				y[f][d] = float64(flat[(f*N+o)*D+d])
			}
		}
		return y
	}
	for _, key := range []string{"body_pose", "hand", "global_rot"} {
		D := meta.Widths[key]
		in := readNpy32(t, "reference_in_"+key+".npy")
		out := readNpy32(t, "reference_out_"+key+".npy")
		var pass1 []float32
		if key != "global_rot" {
			pass1 = readNpy32(t, "reference_pass1_"+key+".npy")
		}
		if len(in) != T*N*D || len(out) != T*N*D {
			t.Fatalf("%s: %d/%d values, want %d", key, len(in), len(out), T*N*D)
		}
		var worst float64
		for o := range N {
			id := strconv.Itoa(o + 1)
			present, visible := meta.Present[id], meta.Visible[id]
			y := person(in, D, o)
			if key == "global_rot" {
				if err := ReferenceSegments(y, present, visible, ReferenceRot()); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := ReferenceSegments(y, present, nil, ReferencePose()); err != nil {
					t.Fatal(err)
				}
				e := maxAbsDiff(t, y, person(pass1, D, o))
				worst = math.Max(worst, e)
				if e > tol {
					t.Errorf("%s person %s pass 1: max abs error %.3g > %g", key, id, e, tol)
				}
				if err := ReferenceSegments(y, present, visible, ReferencePose()); err != nil {
					t.Fatal(err)
				}
			}
			e := maxAbsDiff(t, y, person(out, D, o))
			worst = math.Max(worst, e)
			if e > tol {
				t.Errorf("%s person %s: max abs error %.3g > %g", key, id, e, tol)
			}
		}
		t.Logf("%s: max |Go−reference| %.3g", key, worst)
	}

	sp := meta.Spike
	if len(sp.Input) < 3 || len(sp.Output) != len(sp.Input) {
		t.Fatalf("spike case: %d inputs, %d outputs", len(sp.Input), len(sp.Output))
	}
	y := make([][]float64, len(sp.Input))
	want := make([][]float64, len(sp.Input))
	present := make([]bool, len(sp.Input))
	for i, v := range sp.Input {
		y[i], want[i], present[i] = []float64{v}, []float64{sp.Output[i]}, true
	}
	if err := ReferenceSegments(y, present, nil, ReferencePose()); err != nil {
		t.Fatal(err)
	}
	e := maxAbsDiff(t, y, want)
	t.Logf("spike: max |Go−reference| %.3g", e)
	if e > tol {
		t.Errorf("spike case: max abs error %.3g > %g", e, tol)
	}
}
