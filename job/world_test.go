package job

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/internal/rigtest"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/world"
)

func TestWriteWorld(t *testing.T) {
	dir := t.TempDir()
	tr := body4d.Track{ID: 1, Start: 3, Present: []bool{true, false}, Visible: []bool{true, false}, Params: make([]scene.Params, 2)}
	tr.Params[0].CamT = [3]float64{1, 2, 3}
	tr.Params[0].Model[4] = 0.7
	// World: x → x, camera y down → world −y, z → −z, then up 1.5.
	w := &body4d.World{ToWorld: [3][4]float64{{1, 0, 0, 0}, {0, -1, 0, 1.5}, {0, 0, -1, 0}}, FootLift: [][]float64{{0.25, 0}}}
	res := &body4d.Result{Tracks: []body4d.Track{tr}, World: w}
	pdir := filepath.Join(dir, "1")
	body := &mesh.Body{Model: rigtest.Model(t)}
	fwd, err := newRootForward(body.Model)
	if err != nil {
		t.Fatal(err)
	}
	wantHeading := heading(w.ToWorld, mustForward(t, fwd, tr.Params[0]))
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if notes, err := writeWorld(dir, res, world.Ground{Normal: [3]float64{0, -1, 0}, D: 1.5, Height: 1.5}, []PersonOutput{{ID: 1, Dir: pdir}}, body); err != nil || len(notes) > 0 {
		t.Fatal(err, notes)
	}
	var rows []trajectoryRow
	readJSONFile(t, filepath.Join(pdir, "trajectory.json"), &rows)
	if len(rows) != 2 || rows[0].Frame != 3 || rows[0].Root != [3]float64{1, -0.5 + 0.25, -3} || rows[1].Present {
		t.Fatalf("trajectory %+v", rows)
	}
	if rows[0].Heading == nil || *rows[0].Heading != wantHeading || rows[1].Heading != nil {
		t.Errorf("heading %v, %v: want %v on the present frame only", rows[0].Heading, rows[1].Heading, wantHeading)
	}
	r, err := npz.Open(filepath.Join(pdir, "trajectory.npz"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var head []float64
	if err := r.Read("heading.npy", &head); err != nil {
		t.Fatal(err)
	}
	if len(head) != 2 || head[0] != wantHeading || !math.IsNaN(head[1]) {
		t.Errorf("heading.npy %v, want [%v NaN]", head, wantHeading)
	}
	for _, f := range []string{"world.json", "1/trajectory.npz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// knownWorld is a camera-to-world transform built from known rotations:
// the camera 1.6 m up, pitched down 0.3 rad, turned 0.6 rad about world Y.
func knownWorld() [3][4]float64 {
	rx := [3][3]float64{{1, 0, 0}, {0, math.Cos(0.3), -math.Sin(0.3)}, {0, math.Sin(0.3), math.Cos(0.3)}}
	d := [3][3]float64{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}}
	ry := [3][3]float64{{math.Cos(0.6), 0, math.Sin(0.6)}, {0, 1, 0}, {-math.Sin(0.6), 0, math.Cos(0.6)}}
	mul := func(a, b [3][3]float64) (c [3][3]float64) {
		for i := range 3 {
			for j := range 3 {
				for k := range 3 {
					c[i][j] += a[i][k] * b[k][j]
				}
			}
		}
		return c
	}
	r := mul(ry, mul(rx, d))
	var m [3][4]float64
	for i := range 3 {
		m[i] = [4]float64{r[i][0], r[i][1], r[i][2], []float64{0.3, 1.6, -2}[i]}
	}
	return m
}

func TestQuatFromMatrix(t *testing.T) {
	mats := [][3][3]float64{
		{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}}, // half turns: every branch
		{{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}},
		{{-1, 0, 0}, {0, -1, 0}, {0, 0, 1}},
	}
	w := knownWorld()
	mats = append(mats, [3][3]float64{[3]float64(w[0][:3]), [3]float64(w[1][:3]), [3]float64(w[2][:3])})
	for _, r := range mats {
		q := quatFromMatrix(r)
		for _, v := range [][3]float64{{1, 0, 0}, {0, 1, 0}, {0.2, -0.5, 0.9}} {
			got := q.Rotate(v)
			for i := range 3 {
				want := r[i][0]*v[0] + r[i][1]*v[1] + r[i][2]*v[2]
				if math.Abs(got[i]-want) > 1e-12 {
					t.Fatalf("%v: rotates %v to %v, want row %d = %g", r, v, got, i, want)
				}
			}
		}
	}
}

func readPLYVertices(t *testing.T, path string) []float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(data, []byte("end_header\n"))
	var n int
	if i := bytes.Index(head, []byte("element vertex ")); ok && i >= 0 {
		fmt.Sscanf(string(head[i:]), "element vertex %d", &n)
	}
	if n == 0 || len(body) < 12*n {
		t.Fatalf("%s: header %q", path, head)
	}
	v := make([]float32, 3*n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return v
}

// knownScene is a synthetic track of the test rig under knownWorld, with
// a foot lift on each frame.
func knownScene(t *testing.T) (*mhr.Model, *mesh.Body, body4d.Track, []float64, *body4d.World) {
	model := rigtest.Model(t)
	lift := []float64{0, 0.02, 0.05, 0.03, 0.01}
	return model, &mesh.Body{Model: model}, rigtest.Track(1, 2, 5, 3, 1), lift,
		&body4d.World{ToWorld: knownWorld(), FootLift: [][]float64{lift}}
}

// toWorld maps a camera-frame point by m, then up by lift.
func toWorld(m [3][4]float64, c [3]float64, lift float64) [3]float64 {
	var o [3]float64
	for k := range 3 {
		o[k] = m[k][0]*c[0] + m[k][1]*c[1] + m[k][2]*c[2] + m[k][3]
	}
	o[1] += lift
	return o
}

// TestWorldExports writes a synthetic track's exports in the camera and
// the world frame: the world PLYs and the world rig's joints are the
// camera ones under a known transform plus the foot lift.
func TestWorldExports(t *testing.T) {
	model, body, tr, lift, w := knownScene(t)
	tracks := []body4d.Track{tr}
	dir := t.TempDir()
	v := videoFacts{Rate: scene.Rational{Num: 25, Den: 1}, Frames: 8, Width: 64, Height: 48}
	formats := []string{"ply", "glb", "bvh"}
	if _, _, err := writeExports(context.Background(), dir, tracks, body, v, formats, nil, nil); err != nil {
		t.Fatal(err)
	}
	space := newWorldSpace(w, tracks)
	files, _, err := writeExports(context.Background(), dir, tracks, body, v, formats, nil, space)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"people/1/world/motion.glb", "people/1/world/motion.bvh", "scene_world.glb", "people/1/world/mesh_000002.ply"} {
		if !slices.Contains(files, f) {
			t.Errorf("world exports %v lack %s", files, f)
		}
	}
	m := w.ToWorld
	for i := range tr.Params {
		if !tr.Present[i] {
			continue
		}
		name := meshName(tr.Start + i)
		cam := readPLYVertices(t, filepath.Join(dir, "people", "1", name))
		wv := readPLYVertices(t, filepath.Join(dir, "people", "1", "world", name))
		for j := 0; j < len(cam); j += 3 {
			want := toWorld(m, [3]float64{float64(cam[j]), float64(cam[j+1]), float64(cam[j+2])}, lift[i])
			for k := range 3 {
				if math.Abs(float64(wv[j+k])-want[k]) > 1e-5 {
					t.Fatalf("frame %d vertex %d: world %v, want %v", tr.Start+i, j/3, wv[j:j+3], want)
				}
			}
		}
	}
	camRig, err := rig.New(model, tr, rig.Options{Frames: v.Frames})
	if err != nil {
		t.Fatal(err)
	}
	worldRig, err := rig.New(model, tr, rig.Options{Frames: v.Frames, Frame: space.frame(0)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Params {
		if !tr.Present[i] {
			continue
		}
		f := tr.Start + i
		cg, wg := camRig.Global(f), worldRig.Global(f)
		for j := range cg {
			// The camera rig's frame is the camera's turned Y up: y, z negated.
			want := toWorld(m, [3]float64{cg[j].T[0], -cg[j].T[1], -cg[j].T[2]}, lift[i])
			for k := range 3 {
				if math.Abs(wg[j].T[k]-want[k]) > 1e-6 { // rounding through the joint chain
					t.Fatalf("frame %d joint %d: world %v, want %v", f, j, wg[j].T, want)
				}
			}
		}
	}
}

// TestWorldParams: the world-frame parameters pose, through MHR's own
// forward pass (centimetres / 100, no axis flip, cam_t zero), the
// camera-frame mesh moved into the world frame with its foot lift.
func TestWorldParams(t *testing.T) {
	model, body, tr, lift, w := knownScene(t)
	dir := t.TempDir()
	pdir := filepath.Join(dir, "people", "1")
	notes, err := writeWorld(dir, &body4d.Result{Tracks: []body4d.Track{tr}, World: w}, world.Ground{}, []PersonOutput{{ID: 1, Dir: pdir}}, body)
	if err != nil || len(notes) > 0 {
		t.Fatal(err, notes)
	}
	var rows []frameParams
	readJSONFile(t, filepath.Join(pdir, "world", "params.json"), &rows)
	if len(rows) != len(tr.Params) {
		t.Fatalf("%d rows for %d frames", len(rows), len(tr.Params))
	}
	m := w.ToWorld
	worst := 0.0
	for i, row := range rows {
		if row.Frame != tr.Start+i || row.CamT != [3]float64{} || row.Shape != tr.Params[i].Shape || [198]float32(row.Model[6:]) != [198]float32(tr.Params[i].Model[6:]) {
			t.Fatalf("frame %d: want the same frame, shape and pose, cam_t zero: %+v", tr.Start+i, row)
		}
		if !row.Present {
			continue
		}
		cam, err := body.Mesh(tr.Params[i])
		if err != nil {
			t.Fatal(err)
		}
		out, err := model.Forward([]mhr.Input{{Identity: row.Shape[:], Model: row.Model[:]}})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < len(cam.Vertices); j += 3 {
			c := cam.Vertices[j : j+3]
			want := toWorld(m, [3]float64{float64(c[0]), float64(c[1]), float64(c[2])}, lift[i])
			for k := range 3 {
				worst = max(worst, math.Abs(float64(out[0].Verts[j+k])/100-want[k]))
			}
		}
	}
	t.Logf("world params vs the moved camera-frame mesh: worst vertex %.2g m", worst)
	if worst > 1e-5 {
		t.Errorf("world params pose the body %.3g m from the world-frame mesh (bound 1e-5 m)", worst)
	}
	if _, err := os.Stat(filepath.Join(pdir, "world", "params.npz")); err != nil {
		t.Error(err)
	}
}

// TestReadWorldSpace reads a run's world frame back for body4d export:
// the same transform and foot lifts the run wrote from.
func TestReadWorldSpace(t *testing.T) {
	dir := t.TempDir()
	tr := rigtest.Track(1, 2, 5, 3, 1)
	tracks := []body4d.Track{tr}
	if s, err := readWorldSpace(dir, tracks); s != nil || err != nil {
		t.Fatalf("no world.json: %v, %v", s, err)
	}
	w := &body4d.World{ToWorld: knownWorld(), FootLift: [][]float64{{0, 0.02, 0.05, 1.0 / 3, 0.01}}}
	pdir := filepath.Join(dir, "people", "1")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := &body4d.Result{Tracks: tracks, World: w}
	if _, err := writeWorld(dir, res, world.Ground{}, []PersonOutput{{ID: 1, Dir: pdir}}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := readWorldSpace(dir, tracks)
	if err != nil {
		t.Fatal(err)
	}
	if s.w.ToWorld != w.ToWorld || !slices.Equal(s.w.FootLift[0], w.FootLift[0]) || s.starts[0] != 2 {
		t.Errorf("read back %+v, want %+v", s.w, w)
	}
	if _, err := readWorldSpace(dir, append(tracks, rigtest.Track(2, 0, 3, 1))); err == nil || !strings.Contains(err.Error(), "person 2 has no trajectory") {
		t.Errorf("missing trajectory: %v", err)
	}
}

// TestReadTopView reads a written world frame back from above: the camera
// at camera_to_world's translation, facing along its optical axis, and
// each run of present frames one path of the written roots' (x, z), thinned
// to about the asked number of points with each path's ends kept.
func TestReadTopView(t *testing.T) {
	_, body, tr, _, w := knownScene(t) // frame 1 of the track is absent
	dir := t.TempDir()
	pdir := filepath.Join(dir, "people", "1")
	people := []PersonOutput{{ID: 1, Dir: pdir}}
	if _, err := writeWorld(dir, &body4d.Result{Tracks: []body4d.Track{tr}, World: w}, world.Ground{Height: 1.6}, people, body); err != nil {
		t.Fatal(err)
	}
	var rows []trajectoryRow
	readJSONFile(t, filepath.Join(pdir, "trajectory.json"), &rows)
	xz := func(i int) [2]float64 { return [2]float64{rows[i].Root[0], rows[i].Root[2]} }
	v, err := ReadTopView(dir, people, 100)
	if err != nil {
		t.Fatal(err)
	}
	m := w.ToWorld
	n := math.Hypot(m[0][2], m[2][2])
	if v.Camera != [2]float64{0.3, -2} || v.Height != 1.6 || v.CameraFacing != [2]float64{m[0][2] / n, m[2][2] / n} {
		t.Errorf("camera %v facing %v height %v; want (0.3, -2), its axis, 1.6", v.Camera, v.CameraFacing, v.Height)
	}
	want := [][][2]float64{{xz(0)}, {xz(2), xz(3), xz(4)}}
	if len(v.People) != 1 || !reflect.DeepEqual(v.People[0].Paths, want) {
		t.Errorf("paths %v, want %v", v.People, want)
	}
	// A 20-frame path thinned to about 5 points: every 4th frame and the last.
	long := rigtest.Track(1, 0, 20, 4)
	dir = t.TempDir()
	people[0].Dir = filepath.Join(dir, "people", "1")
	if _, err := writeWorld(dir, &body4d.Result{Tracks: []body4d.Track{long}, World: &body4d.World{ToWorld: knownWorld()}}, world.Ground{}, people, body); err != nil {
		t.Fatal(err)
	}
	if v, err = ReadTopView(dir, people, 5); err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, p := range v.People[0].Paths[0] {
		got = append(got, p[0])
	}
	full, err := ReadTopView(dir, people, 100)
	if err != nil {
		t.Fatal(err)
	}
	all := full.People[0].Paths
	if len(v.People[0].Paths) != 1 || len(all) != 1 || len(all[0]) != 20 {
		t.Fatalf("paths %v / %v: want one path of 20 points unthinned", v.People[0].Paths, all)
	}
	var thin []float64
	for _, i := range []int{0, 4, 8, 12, 16, 19} {
		thin = append(thin, all[0][i][0])
	}
	if !slices.Equal(got, thin) {
		t.Errorf("thinned x %v, want frames 0, 4, 8, 12, 16, 19: %v", got, thin)
	}
	if v, err := ReadTopView(t.TempDir(), nil, 100); v != nil || err != nil {
		t.Errorf("a run without world.json: %v, %v; want nil, nil", v, err)
	}
}

// readJSONFile decodes a JSON file a run wrote into v.
func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		t.Fatal(err)
	}
}
