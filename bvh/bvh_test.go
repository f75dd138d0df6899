package bvh

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/body4d/body4d/internal/rigtest"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

type joint struct {
	name     string
	parent   int
	offset   [3]float64
	channels []string
}

// parse reads a BVH file back: joints in file order, frame time and the
// motion rows.
func parse(t *testing.T, text string) ([]joint, float64, [][]float64) {
	t.Helper()
	var joints []joint
	var stack []int
	lines := strings.Split(strings.TrimSpace(text), "\n")
	i := 0
	inEnd := false
	for ; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		switch f[0] {
		case "ROOT", "JOINT":
			p := -1
			if len(stack) > 0 {
				p = stack[len(stack)-1]
			}
			joints = append(joints, joint{name: f[1], parent: p})
			stack = append(stack, len(joints)-1)
		case "End":
			inEnd = true
		case "OFFSET":
			if !inEnd {
				for k := range 3 {
					joints[len(joints)-1].offset[k], _ = strconv.ParseFloat(f[1+k], 64)
				}
			}
		case "CHANNELS":
			joints[stack[len(stack)-1]].channels = f[2:]
		case "}":
			if inEnd {
				inEnd = false
			} else {
				stack = stack[:len(stack)-1]
			}
		}
		if f[0] == "MOTION" {
			break
		}
	}
	frameTime, _ := strconv.ParseFloat(strings.TrimPrefix(lines[i+2], "Frame Time: "), 64)
	var rows [][]float64
	for _, l := range lines[i+3:] {
		var row []float64
		for _, s := range strings.Fields(l) {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return joints, frameTime, rows
}

func axis(c byte, deg float64) mhr.Quat {
	s, co := math.Sincos(deg * math.Pi / 360)
	q := mhr.Quat{0, 0, 0, co}
	q[c-'X'] = s
	return q
}

// positions poses a parsed file's frame as Blender reads BVH: world-
// aligned rest axes, rotations in channel order, position channels
// replacing the offset.
func positions(joints []joint, row []float64) map[string][3]float64 {
	out := map[string][3]float64{}
	glob := make([]mhr.State, len(joints))
	k := 0
	for j, jt := range joints {
		local := mhr.State{T: jt.offset, Q: mhr.Quat{0, 0, 0, 1}, S: 1}
		for _, ch := range jt.channels {
			v := row[k]
			k++
			switch ch[1:] {
			case "position":
				local.T[ch[0]-'X'] = v
			case "rotation":
				local.Q = local.Q.Mul(axis(ch[0], v))
			}
		}
		glob[j] = local
		if jt.parent >= 0 {
			glob[j] = glob[jt.parent].Compose(local)
		}
		out[jt.name] = glob[j].T
	}
	return out
}

// The file read back and posed gives MHR's joint positions on present
// frames; absent frames repeat the last present one; Frame Time is
// 1001/30000; angles never jump by more than 180° between frames.
func TestWrittenFilePosesLikeMHR(t *testing.T) {
	model := rigtest.Model(t)
	tr := rigtest.Track(2, 2, 15, 9, 6, 7)
	r, err := rig.New(model, tr, rig.Options{Frames: 20})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, r, scene.Rational{Num: 30000, Den: 1001}); err != nil {
		t.Fatal(err)
	}
	joints, ft, rows := parse(t, buf.String())
	if ft != 1001.0/30000 || len(rows) != 20 || len(joints) != model.NumJoints() {
		t.Fatalf("frame time %v, %d rows, %d joints", ft, len(rows), len(joints))
	}
	if c := joints[0].channels; len(c) != 6 || c[3] != "Zrotation" || c[5] != "Xrotation" {
		t.Errorf("root channels %v", c)
	}
	var worst float64
	for f, row := range rows {
		k := f - tr.Start
		src := f
		if k < 0 || k >= len(tr.Params) || !tr.Present[k] {
			src = map[int]int{0: 2, 1: 2, 8: 7, 9: 7, 17: 16, 18: 16, 19: 16}[f]
			if got, want := positions(joints, row), positions(joints, rows[src]); got["joint_005"] != want["joint_005"] {
				t.Errorf("absent frame %d does not repeat frame %d", f, src)
			}
			continue
		}
		_, want, err := rig.Posed(model, tr.Params[k], rig.CameraFrame(f), false)
		if err != nil {
			t.Fatal(err)
		}
		got := positions(joints, row)
		for j, name := range r.Names {
			for c := range 3 {
				worst = max(worst, math.Abs(got[name][c]-want[3*j+c]))
			}
		}
		if f > 0 {
			for c, v := range row {
				if math.Abs(v-rows[f-1][c]) > 180 {
					t.Errorf("frame %d: channel %d jumps from %v to %v", f, c, rows[f-1][c], v)
				}
			}
		}
	}
	t.Logf("file posed vs MHR joints: max %.2g m", worst)
	if worst > 1e-5 {
		t.Errorf("file posed vs MHR joints: %.2g m, want ≤ 1e-5", worst)
	}
}

func TestEulerZYX(t *testing.T) {
	for _, e := range [][3]float64{{0.3, -0.2, 1.1}, {-2.5, 1.2, 0.4}, {3, -1.4, -3}, {0.1, math.Pi / 2, 0.2}} {
		q := axis('Z', e[0]*180/math.Pi).Mul(axis('Y', e[1]*180/math.Pi)).Mul(axis('X', e[2]*180/math.Pi))
		got := eulerZYX(q, [3]float64{}, false)
		back := axis('Z', got[0]*180/math.Pi).Mul(axis('Y', got[1]*180/math.Pi)).Mul(axis('X', got[2]*180/math.Pi))
		m1, m2 := q.Matrix(), back.Matrix()
		for i := range m1 {
			if math.Abs(m1[i]-m2[i]) > 1e-9 {
				t.Fatalf("angles %v: decomposed %v gives another rotation", e, got)
			}
		}
	}
	if got := uniqueNames([]string{"a b", "a_b", "", "x"}); strings.Join(got, ",") != "a_b,a_b_2,joint_002,x" {
		t.Errorf("names %v", got)
	}
}
