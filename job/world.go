package job

import (
	"fmt"
	"os"
	"path/filepath"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/world"
)

// worldFile is world.json: the ground fit and the camera-to-world transform.
type worldFile struct {
	Ground     world.Ground  `json:"ground"`
	Gravity    [3]float64    `json:"gravity_camera"` // unit, camera coordinates (OpenCV axes)
	ToWorld    [3][4]float64 `json:"camera_to_world"`
	Convention string        `json:"convention"`
}

// trajectoryRow is one frame of a person's world root trajectory.
type trajectoryRow struct {
	Frame    int        `json:"frame"`
	Present  bool       `json:"present"`
	Root     [3]float64 `json:"root_m"`                // world metres (the mesh translation CamT, lifted by foot contact)
	FootLift float64    `json:"foot_lift_m,omitempty"` // foot contact's upward correction
}

func writeWorld(out string, res *body4d.Result, g world.Ground, people []PersonOutput) error {
	w := res.World
	wf := worldFile{Ground: g, Gravity: g.Gravity(), ToWorld: w.ToWorld,
		Convention: "world = camera_to_world · [camera; 1]; Y up, ground y = 0, origin on the ground under the first person's first root, X the camera's x axis projected onto the ground, Z = X × Y"}
	if err := writeJSON(filepath.Join(out, "world.json"), wf); err != nil {
		return err
	}
	for i, tr := range res.Tracks {
		rows := make([]trajectoryRow, len(tr.Params))
		for t, p := range tr.Params {
			r := &rows[t]
			*r = trajectoryRow{Frame: tr.Start + t, Present: tr.Present[t]}
			for k := range 3 {
				r.Root[k] = w.ToWorld[k][0]*p.CamT[0] + w.ToWorld[k][1]*p.CamT[1] + w.ToWorld[k][2]*p.CamT[2] + w.ToWorld[k][3]
			}
			if i < len(w.FootLift) {
				r.FootLift = w.FootLift[i][t]
				r.Root[1] += r.FootLift
			}
		}
		if err := writeJSON(filepath.Join(people[i].Dir, "trajectory.json"), rows); err != nil {
			return err
		}
		if err := writeTrajectoryNPZ(filepath.Join(people[i].Dir, "trajectory.npz"), rows); err != nil {
			return err
		}
	}
	return nil
}

// writeTrajectoryNPZ writes frame [T], present [T], root [T,3] (world
// metres) and foot_lift [T].
func writeTrajectoryNPZ(path string, rows []trajectoryRow) error {
	frame := make([]int64, len(rows))
	present := make([]bool, len(rows))
	root := make([][3]float64, len(rows))
	lift := make([]float64, len(rows))
	for i, r := range rows {
		frame[i], present[i], root[i], lift[i] = int64(r.Frame), r.Present, r.Root, r.FootLift
	}
	tmp := path + ".tmp"
	if err := npz.Write(tmp, map[string]any{"frame.npy": frame, "present.npy": present, "root.npy": root, "foot_lift.npy": lift}); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
