package rig

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/body4d/body4d/internal/rigtest"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

func maxDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// The rig skinned as a glTF viewer skins it, and its joints, are MHR's
// own posing without correctives, placed in the output frame, on every
// present frame; absent frames hold the last present pose.
func TestRigMatchesMHR(t *testing.T) {
	model := rigtest.Model(t)
	tr := rigtest.Track(2, 3, 12, 1, 4, 5, 11)
	world := func(f int) mhr.State { // a tilted, shifted frame: not only the camera's
		s := CameraFrame(f)
		s.Q = mhr.Quat{0.1, 0.2, 0.3, 0.9}.Mul(s.Q)
		n := math.Sqrt(0.01 + 0.04 + 0.09 + 0.81)
		for k := range s.Q {
			s.Q[k] /= n
		}
		s.T = [3]float64{1, float64(f) * 0.1, -2}
		return s
	}
	for _, fr := range []struct {
		name  string
		frame Frame
	}{{"camera", nil}, {"world", world}} {
		r, err := New(model, tr, Options{Frames: 20, Frame: fr.frame})
		if err != nil {
			t.Fatal(err)
		}
		out := fr.frame
		if out == nil {
			out = CameraFrame
		}
		if len(r.Poses) != 20 || len(r.Present) != 20 {
			t.Fatalf("%d poses, %d flags for 20 frames", len(r.Poses), len(r.Present))
		}
		var worstV, worstJ float64
		for f := range 20 {
			k := f - tr.Start
			want := k >= 0 && k < len(tr.Params) && tr.Present[k]
			if r.Present[f] != want {
				t.Fatalf("%s: frame %d present %v, want %v", fr.name, f, r.Present[f], want)
			}
			if !want {
				continue
			}
			v, j, err := Posed(model, tr.Params[k], out(f), false)
			if err != nil {
				t.Fatal(err)
			}
			worstV = max(worstV, maxDiff(r.Skinned(f), v))
			var gj []float64
			for _, g := range r.Global(f) {
				gj = append(gj, g.T[:]...)
			}
			worstJ = max(worstJ, maxDiff(gj, j))
		}
		t.Logf("%s frame: max vertex error %.2g m, joint %.2g m", fr.name, worstV, worstJ)
		if worstV > 1e-6 || worstJ > 1e-7 {
			t.Errorf("%s frame: rig vs MHR: vertices %.2g m, joints %.2g m", fr.name, worstV, worstJ)
		}
		// Absent: frames 7, 8 (track 4, 5) hold frame 6; 0..2 hold frame 3;
		// 14 (track 11) and 15.. hold 13.
		for f, src := range map[int]int{0: 3, 2: 3, 7: 6, 8: 6, 14: 13, 19: 13} {
			if !slices.Equal(r.Poses[f], r.Poses[src]) {
				t.Errorf("%s: absent frame %d does not hold frame %d's pose", fr.name, f, src)
			}
		}
	}
}

func TestRigErrors(t *testing.T) {
	model := rigtest.Model(t)
	none := rigtest.Track(3, 0, 4, 1, 0, 1, 2, 3)
	for _, c := range []struct {
		model *mhr.Model
		tr    scene.Track
		opts  Options
		want  string
	}{
		{nil, rigtest.Track(1, 0, 4, 1), Options{}, "no body model"},
		{model, none, Options{}, "person 3 is present on no frame"},
		{model, rigtest.Track(4, 5, 10, 1), Options{Frames: 12}, "person 4: track covers frames 5..14, outside the video's 12 frames"},
	} {
		_, err := New(c.model, c.tr, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", err, c.want)
		}
	}
	bad := rigtest.Track(5, 0, 4, 1)
	bad.Params[2].Model[7] = float32(math.NaN())
	if _, err := New(model, bad, Options{}); err == nil || !strings.Contains(err.Error(), "person 5, frame 2") {
		t.Errorf("NaN parameter: %v", err)
	}
}

// A character whose vertices have up to 11 influences keeps the 8
// heaviest, renormalised; the dropped weight's effect is what the rig
// then differs from MHR by.
func TestSkinLimit(t *testing.T) {
	a := rigtest.Assets(t)
	V, J := a.NumVertices, a.NumJoints
	a.SkinVertex, a.SkinJoint, a.SkinWeight = nil, nil, nil
	for v := range V {
		n := 1 + v%11
		var sum float32
		for k := range n {
			sum += float32(k + 1)
		}
		for k := range n {
			a.SkinVertex = append(a.SkinVertex, int32(v))
			a.SkinJoint = append(a.SkinJoint, int32((v+3*k)%J))
			a.SkinWeight = append(a.SkinWeight, float32(k+1)/sum)
		}
	}
	model, err := mhr.New(a)
	if err != nil {
		t.Fatal(err)
	}
	s, err := limitSkin(model)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for v := range V {
		dropped += max(0, 1+v%11-MaxInfluences)
	}
	if s.Used != MaxInfluences || s.Dropped != dropped {
		t.Errorf("used %d, dropped %d; want 8, %d", s.Used, s.Dropped, dropped)
	}
	for v := range V {
		w := s.Weights[v*MaxInfluences : (v+1)*MaxInfluences]
		var sum float64
		for k, x := range w {
			sum += float64(x)
			if k > 0 && x > w[k-1] {
				t.Fatalf("vertex %d: weights %v not heaviest first", v, w)
			}
		}
		if math.Abs(sum-1) > 1e-7 {
			t.Fatalf("vertex %d: weights sum to %v", v, sum)
		}
		if n := 1 + v%11; n > MaxInfluences {
			// The heaviest has weight n/Σ; the lightest kept is n-7.
			j := s.Joints[v*MaxInfluences : (v+1)*MaxInfluences]
			if int(j[0]) != (v+3*(n-1))%J || w[MaxInfluences-1] == 0 {
				t.Fatalf("vertex %d (%d influences): kept joints %v weights %v", v, n, j, w)
			}
		}
	}
	tr := rigtest.Track(1, 0, 3, 2)
	r, err := New(model, tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := Posed(model, tr.Params[1], CameraFrame(1), false)
	if err != nil {
		t.Fatal(err)
	}
	d := maxDiff(r.Skinned(1), v)
	t.Logf("8-influence limit on an 11-influence skin: max vertex error %.3g m", d)
	if d < 1e-4 {
		t.Errorf("dropping 3 of 11 influences moved no vertex (%.2g m): the test is not testing", d)
	}
}

// With an identity that varies over the frames (smoothing off), the bind
// shape is the per-coefficient median of the present frames.
func TestBindShapeMedian(t *testing.T) {
	model := rigtest.Model(t)
	tr := rigtest.Track(1, 0, 4, 3, 1)
	for k, v := range []float32{5, 100, 1, 2} { // frame 1 is absent
		tr.Params[k].Shape[0] = v
	}
	r, err := New(model, tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.BindShape[0] != 2 || r.BindShape[1] != tr.Params[0].Shape[1] {
		t.Errorf("bind shape %v..., want 2 (median of 5, 1, 2) then the locked value", r.BindShape[:2])
	}
}
