package job

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/internal/rigtest"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/world"
)

func TestWriteWorld(t *testing.T) {
	dir := t.TempDir()
	tr := body4d.Track{ID: 1, Start: 3, Present: []bool{true, false}, Params: make([]scene.Params, 2)}
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
	if err := writeWorld(dir, res, world.Ground{Normal: [3]float64{0, -1, 0}, D: 1.5, Height: 1.5}, []PersonOutput{{ID: 1, Dir: pdir}}, body); err != nil {
		t.Fatal(err)
	}
	var rows []trajectoryRow
	data, err := os.ReadFile(filepath.Join(pdir, "trajectory.json"))
	if err == nil {
		err = json.Unmarshal(data, &rows)
	}
	if err != nil {
		t.Fatal(err)
	}
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
