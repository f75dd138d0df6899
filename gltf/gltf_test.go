package gltf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/body4d/body4d/internal/rigtest"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

// glb is a written file read back with a reader of its own: the JSON
// document and accessors as float64.
type glb struct {
	doc document
	bin []byte
}

func readGLB(t *testing.T, data []byte) *glb {
	t.Helper()
	le := binary.LittleEndian
	if len(data) < 20 || le.Uint32(data) != 0x46546C67 || le.Uint32(data[4:]) != 2 || int(le.Uint32(data[8:])) != len(data) {
		t.Fatalf("bad GLB header % x", data[:min(12, len(data))])
	}
	jl := int(le.Uint32(data[12:]))
	if le.Uint32(data[16:]) != 0x4E4F534A || jl%4 != 0 {
		t.Fatal("first chunk is not a padded JSON chunk")
	}
	g := &glb{}
	if err := json.Unmarshal(data[20:20+jl], &g.doc); err != nil {
		t.Fatal(err)
	}
	rest := data[20+jl:]
	if le.Uint32(rest[4:]) != 0x004E4942 {
		t.Fatal("second chunk is not BIN")
	}
	g.bin = rest[8 : 8+le.Uint32(rest)]
	if len(g.doc.Buffers) != 1 || g.doc.Buffers[0].ByteLength != len(g.bin) {
		t.Fatalf("buffers %+v for a %d-byte BIN chunk", g.doc.Buffers, len(g.bin))
	}
	return g
}

var components = map[string]int{"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}

// values returns accessor a's elements, each component as float64.
func (g *glb) values(a int) [][]float64 {
	acc := g.doc.Accessors[a]
	v := g.doc.BufferViews[acc.BufferView]
	n := components[acc.Type]
	size := map[int]int{componentUByte: 1, componentUShort: 2, componentUInt: 4, componentFloat: 4}[acc.ComponentType]
	data := g.bin[v.ByteOffset : v.ByteOffset+v.ByteLength]
	out := make([][]float64, acc.Count)
	for i := range out {
		out[i] = make([]float64, n)
		for c := range n {
			p := data[(i*n+c)*size:]
			switch acc.ComponentType {
			case componentUByte:
				out[i][c] = float64(p[0])
			case componentUShort:
				out[i][c] = float64(binary.LittleEndian.Uint16(p))
			case componentUInt:
				out[i][c] = float64(binary.LittleEndian.Uint32(p))
			case componentFloat:
				out[i][c] = float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			}
		}
	}
	return out
}

// pose returns node TRS on key k from the file's channels (the node's
// own TRS where no channel drives a path).
func (g *glb) pose(k int) []mhr.State {
	st := make([]mhr.State, len(g.doc.Nodes))
	for i, n := range g.doc.Nodes {
		st[i] = mhr.Identity()
		if n.Translation != nil {
			st[i].T = *n.Translation
		}
		if n.Rotation != nil {
			st[i].Q = mhr.Quat(*n.Rotation)
		}
		if n.Scale != nil {
			st[i].S = n.Scale[0]
		}
	}
	for _, a := range g.doc.Animations {
		for _, c := range a.Channels {
			v := g.values(a.Samplers[c.Sampler].Output)[k]
			s := &st[c.Target.Node]
			switch c.Target.Path {
			case "translation":
				s.T = [3]float64(v)
			case "rotation":
				s.Q = mhr.Quat(v)
			case "scale":
				s.S = v[0]
			}
		}
	}
	return st
}

// skinned skins the file's mesh m on key k as a glTF viewer does.
func (g *glb) skinned(t *testing.T, m int, k int) []float64 {
	local := g.pose(k)
	parent := make([]int, len(g.doc.Nodes))
	for i := range parent {
		parent[i] = -1
	}
	for i, n := range g.doc.Nodes {
		for _, c := range n.Children {
			parent[c] = i
		}
	}
	var global func(i int) mhr.State
	global = func(i int) mhr.State {
		if parent[i] < 0 {
			return local[i]
		}
		return global(parent[i]).Compose(local[i])
	}
	var meshNode = -1
	for i, n := range g.doc.Nodes {
		if n.Mesh != nil && *n.Mesh == m {
			meshNode = i
		}
	}
	sk := g.doc.Skins[*g.doc.Nodes[meshNode].Skin]
	ibm := g.values(sk.InverseBindMatrices)
	prim := g.doc.Meshes[m].Primitives[0]
	pos := g.values(prim.Attributes["POSITION"])
	out := make([]float64, 3*len(pos))
	for set := 0; ; set++ {
		ja, ok := prim.Attributes["JOINTS_"+string(rune('0'+set))]
		if !ok {
			break
		}
		js, ws := g.values(ja), g.values(prim.Attributes["WEIGHTS_"+string(rune('0'+set))])
		for v, p := range pos {
			for c := range 4 {
				w := ws[v][c]
				if w == 0 {
					continue
				}
				j := int(js[v][c])
				b := ibm[j] // column-major
				q := [3]float64{
					b[0]*p[0] + b[4]*p[1] + b[8]*p[2] + b[12],
					b[1]*p[0] + b[5]*p[1] + b[9]*p[2] + b[13],
					b[2]*p[0] + b[6]*p[1] + b[10]*p[2] + b[14],
				}
				x := global(sk.Joints[j]).Apply(q)
				for c := range 3 {
					out[3*v+c] += w * x[c]
				}
			}
		}
	}
	return out
}

// Skinning the written file (its own accessors, nodes and channels, read
// back) gives MHR's posing without correctives on every present frame;
// absent frames have a zero STEP scale at the root; key times are the
// float32 nearest f·1001/30000.
func TestWrittenFileSkinsLikeMHR(t *testing.T) {
	model := rigtest.Model(t)
	tracks := []scene.Track{rigtest.Track(1, 0, 14, 7, 5, 6), rigtest.Track(3, 4, 10, 8)}
	var people []Person
	for _, tr := range tracks {
		r, err := rig.New(model, tr, rig.Options{Frames: 16})
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, Person{Rig: r, Color: [3]float32{1, 0, 0}})
	}
	var buf bytes.Buffer
	fps := scene.Rational{Num: 30000, Den: 1001}
	K := scene.Intrinsics{Fx: 500, Fy: 520, Cx: 330, Cy: 170}
	err := Write(&buf, Scene{People: people, FPS: fps, Camera: &Camera{K: K, Width: 640, Height: 360, Poses: rig.CameraPoses(nil, 16)}})
	if err != nil {
		t.Fatal(err)
	}
	g := readGLB(t, buf.Bytes())
	a := g.doc.Animations[0]
	times := g.values(a.Samplers[0].Input)
	for f, tm := range times {
		if want := float32(float64(f) * 1001 / 30000); tm[0] != float64(want) || math.Round(tm[0]*30000/1001) != float64(f) {
			t.Fatalf("key %d at %v s, want float32(%d·1001/30000) = %v", f, tm[0], f, want)
		}
	}
	var worst float64
	for m, tr := range tracks {
		rootScale := -1
		for _, c := range a.Channels {
			if g.doc.Nodes[c.Target.Node].Name == "joint_000" && c.Target.Path == "scale" && rootScale < 0 && c.Target.Node >= m*(16+1) {
				rootScale = c.Sampler
			}
		}
		if a.Samplers[rootScale].Interpolation != "STEP" {
			t.Errorf("person %d: root scale interpolation %s, want STEP", tr.ID, a.Samplers[rootScale].Interpolation)
		}
		scales := g.values(a.Samplers[rootScale].Output)
		for f := range 16 {
			k := f - tr.Start
			present := k >= 0 && k < len(tr.Params) && tr.Present[k]
			if (scales[f][0] == 0) == present {
				t.Errorf("person %d frame %d: root scale %v, present %v", tr.ID, f, scales[f][0], present)
			}
			if !present {
				continue
			}
			want, _, err := rig.Posed(model, tr.Params[k], rig.CameraFrame(f), false)
			if err != nil {
				t.Fatal(err)
			}
			got := g.skinned(t, m, f)
			for i := range got {
				worst = max(worst, math.Abs(got[i]-want[i]))
			}
		}
	}
	t.Logf("file skinned vs MHR (no correctives): max %.2g m", worst)
	if worst > 1e-5 {
		t.Errorf("file skinned vs MHR: %.2g m, want ≤ 1e-5", worst)
	}
	cam := g.doc.Cameras[0]
	if math.Abs(cam.Perspective.YFov-2*math.Atan(180.0/520)) > 1e-12 || math.Abs(cam.Perspective.AspectRatio-(640.0/500)/(360.0/520)) > 1e-12 ||
		cam.Extras.PrincipalOffset != [2]float64{10, -10} {
		t.Errorf("camera %+v", cam)
	}
}

func TestWriteErrors(t *testing.T) {
	model := rigtest.Model(t)
	a, err := rig.New(model, rigtest.Track(1, 0, 5, 1), rig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rig.New(model, rigtest.Track(2, 0, 5, 1), rig.Options{Frames: 7})
	if err != nil {
		t.Fatal(err)
	}
	fps := scene.Rational{Num: 30, Den: 1}
	for _, c := range []struct {
		s    Scene
		want string
	}{
		{Scene{FPS: fps}, "no people"},
		{Scene{People: []Person{{Rig: a}}}, "frame rate"},
		{Scene{People: []Person{{Rig: a}, {Rig: b}}, FPS: fps}, "person 2 has 7 frames, person 1 has 5"},
		{Scene{People: []Person{{Rig: a}}, FPS: fps, Camera: &Camera{Poses: rig.CameraPoses(nil, 3)}}, "camera has 3 poses for 5 frames"},
	} {
		if err := Write(&bytes.Buffer{}, c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
