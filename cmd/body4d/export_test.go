package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

func TestExportFlags(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "want one OUT_DIR"},
		{[]string{"x"}, "--format is required"},
		{[]string{"x", "--format", "fbx"}, `unknown export format "fbx"`},
		{[]string{"x", "--format", "glb", "--person", "0"}, "--person"},
	} {
		err := cmdExport(ctx, c.args, io.Discard, io.Discard)
		if !errorsAsUsage(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("export %v: %v, want a usage error with %q", c.args, err, c.want)
		}
	}
	if err := cmdRun(ctx, []string{"--export", "ply"}, io.Discard, io.Discard); !errorsAsUsage(err) || !strings.Contains(err.Error(), `unknown export format "ply"`) {
		t.Errorf("run --export ply: %v", err)
	}
	if err := cmdExport(ctx, []string{t.TempDir(), "--format", "glb"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "is not a finished run") {
		t.Errorf("export of an empty folder: %v", err)
	}
}

func errorsAsUsage(err error) bool {
	_, ok := err.(usageError)
	return ok
}

// The sample run with --export glb,bvh (every stage after the tracker,
// quick occlusion recovery), then what real applications say of its
// files: the Khronos glTF Validator (0 errors, 0 warnings on every
// motion.glb and scene.glb) and Blender 3.4 (imports motion.glb and
// motion.bvh; skinned vertices and joint heads on frames 0, middle and
// last within 1e-4 m of body4d's own MHR posing without correctives).
// body4d export then rewrites every file byte for byte. Needs
// scripts/setup-export.sh (Blender, numpy, gltf-validator in .deps/node).
func TestExportApps(t *testing.T) {
	if os.Getenv("BODY4D_EXPORT_APPS") != "1" {
		t.Skip("export apps test: set BODY4D_EXPORT_APPS=1 after scripts/setup-export.sh (Blender, gltf-validator)")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := t.TempDir()
	ctx := context.Background()
	var stdout bytes.Buffer
	if err := cmdRun(ctx, []string{"--masks", filepath.Join(root, "sample", "clip", "masks"), "--quick", "--quiet",
		"--export", "glb,bvh", "--out", out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var sum job.Summary
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	var glbs []string
	for _, e := range sum.Exports {
		if strings.HasSuffix(e, ".glb") {
			glbs = append(glbs, filepath.Join(out, e))
		}
	}
	if len(glbs) != len(sum.People)+1 {
		t.Fatalf("exports %v for %d people", sum.Exports, len(sum.People))
	}

	validate := exec.Command("node", append([]string{filepath.Join(root, "tools", "gltfcheck", "validate.mjs")}, glbs...)...)
	validate.Env = append(os.Environ(), "BODY4D_NODE_MODULES="+filepath.Join(root, ".deps", "node", "node_modules"))
	vout, err := validate.CombinedOutput()
	t.Logf("glTF Validator:\n%s", vout)
	if err != nil {
		t.Fatalf("glTF Validator: %v", err)
	}

	// body4d export rewrites every file byte for byte.
	before := map[string][]byte{}
	for _, e := range append(slices.Clone(sum.Exports), "people/1/params.npz", "people/3/mesh_000040.ply") {
		if before[e], err = os.ReadFile(filepath.Join(out, e)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(out, e))
	}
	if err := cmdExport(ctx, []string{out, "--format", "glb,bvh,npz,ply"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for e, b := range before {
		if a, err := os.ReadFile(filepath.Join(out, e)); err != nil || !bytes.Equal(a, b) {
			t.Errorf("body4d export: %s differs from the run's (%v)", e, err)
		}
	}

	md, err := models.Open(sum.Models)
	if err != nil {
		t.Fatal(err)
	}
	body, err := mesh.OpenBody(md)
	if err != nil {
		t.Fatal(err)
	}
	frames := []int{0, sum.Frames / 2, sum.Frames - 1}
	for _, p := range sum.People {
		checkBlender(t, root, out, body, p.ID, sum, frames)
	}
}

// blenderEval is what tools/blendercheck/import_eval.py writes.
type blenderEval struct {
	Blender string
	GLTF    struct {
		Vertices    [][][3]float64         `json:"vertices"`
		Joints      []map[string][]float64 `json:"joints"`
		VertexCount int                    `json:"vertex_count"`
	} `json:"gltf"`
	BVH struct {
		Joints []map[string][]float64 `json:"joints"`
	} `json:"bvh"`
}

func checkBlender(t *testing.T, root, out string, body *mesh.Body, id scene.PersonID, sum job.Summary, frames []int) {
	pdir := filepath.Join(out, "people", strconv.Itoa(int(id)))
	var rows []struct {
		Frame   int          `json:"frame"`
		Present bool         `json:"present"`
		Model   [204]float32 `json:"model"`
		Shape   [45]float32  `json:"shape"`
		CamT    [3]float64   `json:"cam_t"`
	}
	raw, err := os.ReadFile(filepath.Join(pdir, "params.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	evalPath := filepath.Join(t.TempDir(), "eval.json")
	fl := make([]string, len(frames))
	for i, f := range frames {
		fl[i] = strconv.Itoa(f)
	}
	cmd := exec.Command("blender", "-b", "--factory-startup", "--python", filepath.Join(root, "tools", "blendercheck", "import_eval.py"), "--",
		"--glb", filepath.Join(pdir, "motion.glb"), "--bvh", filepath.Join(pdir, "motion.bvh"),
		"--fps", sum.Rate.String(), "--frames", strings.Join(fl, ","), "--out", evalPath)
	bout, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("person %d: blender: %v\n%s", id, err, bout)
	}
	var ev blenderEval
	raw, err = os.ReadFile(evalPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	// Blender's importer keeps only vertices that faces use, in order.
	var used []int
	seen := map[int32]bool{}
	for _, f := range body.Model.Faces() {
		seen[f] = true
	}
	for v := range body.Model.NumVertices() {
		if seen[int32(v)] {
			used = append(used, v)
		}
	}
	if ev.GLTF.VertexCount != len(used) {
		t.Fatalf("person %d: Blender has %d vertices, the mesh uses %d", id, ev.GLTF.VertexCount, len(used))
	}
	names := body.Model.JointNames()
	var worstV, worstJ, worstB float64
	lastPresent := -1
	for i, f := range frames {
		k := f - rows[0].Frame
		present := k >= 0 && k < len(rows) && rows[k].Present
		src := k
		if !present { // BVH holds the last present pose; glTF collapses the mesh
			for src = min(k, len(rows)-1); src >= 0 && !rows[src].Present; src-- {
			}
			// Collapsed to one point, up to Blender's float32 arithmetic
			// (a few ulps at several metres from the origin: 1.4e-6 m
			// measured); a body's vertices spread over about a metre.
			verts := ev.GLTF.Vertices[i]
			for _, v := range verts {
				for c := range 3 {
					if math.Abs(v[c]-verts[0][c]) > 1e-5 {
						t.Fatalf("person %d absent on frame %d: Blender's mesh is not collapsed (%v vs %v)", id, f, v, verts[0])
					}
				}
			}
		} else {
			lastPresent = f
		}
		p := scene.Params{Model: rows[src].Model, Shape: rows[src].Shape, CamT: rows[src].CamT}
		wantV, wantJ, err := rig.Posed(body.Model, p, rig.CameraFrame(f), false)
		if err != nil {
			t.Fatal(err)
		}
		for j, name := range names {
			b := ev.BVH.Joints[i][name]
			for c := range 3 {
				worstB = max(worstB, math.Abs(b[c]-wantJ[3*j+c]))
				if present {
					worstJ = max(worstJ, math.Abs(ev.GLTF.Joints[i][name][c]-wantJ[3*j+c]))
				}
			}
		}
		if present {
			for bi, v := range used {
				for c := range 3 {
					worstV = max(worstV, math.Abs(ev.GLTF.Vertices[i][bi][c]-wantV[3*v+c]))
				}
			}
		}
	}
	t.Logf("person %d (Blender %s, frames %v, last present %d): glTF vertices max %.2g m, glTF joints %.2g m, BVH joints %.2g m",
		id, ev.Blender, frames, lastPresent, worstV, worstJ, worstB)
	if worstV > 1e-4 || worstB > 1e-4 || worstJ > 1e-4 {
		t.Errorf("person %d: Blender vs body4d's MHR posing: glTF vertices %.2g m, glTF joints %.2g m, BVH joints %.2g m; want ≤ 1e-4",
			id, worstV, worstJ, worstB)
	}
}
