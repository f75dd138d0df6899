package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
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
	// Heading is the body root's yaw about world Y in radians, (−π, π]:
	// 0 when the body faces world +Z, π/2 when it faces +X
	// (atan2(forward_x, forward_z) of its forward direction). Absent
	// without a body model.
	Heading *float64 `json:"heading_rad,omitempty"`
}

// rootForward gives the camera-frame forward direction of a body's root:
// the root joint's rotation relative to its rest rotation applied to MHR's
// forward (+Z, the rest body faces the viewer), then MHR's axes turned into
// the camera's (y and z negated).
type rootForward struct {
	model *mhr.Model
	root  int
	rest  mhr.Quat // conjugate of the root's rest rotation
}

func newRootForward(model *mhr.Model) (*rootForward, error) {
	root := slices.IndexFunc(model.Parents(), func(p int) bool { return p < 0 })
	if root < 0 {
		return nil, errors.New("heading: the body model has no root joint")
	}
	rest, err := model.LocalStates(make([]float32, len(scene.Params{}.Model)))
	if err != nil {
		return nil, fmt.Errorf("heading: %w", err)
	}
	return &rootForward{model: model, root: root, rest: rest[root].Q.Conj()}, nil
}

func (r *rootForward) forward(p scene.Params) ([3]float64, error) {
	local, err := r.model.LocalStates(p.Model[:])
	if err != nil {
		return [3]float64{}, err
	}
	f := local[r.root].Q.Mul(r.rest).Rotate([3]float64{0, 0, 1})
	return [3]float64{f[0], -f[1], -f[2]}, nil
}

// heading is the yaw about world Y of a camera-frame direction (see
// trajectoryRow.Heading).
func heading(toWorld [3][4]float64, d [3]float64) float64 {
	x := toWorld[0][0]*d[0] + toWorld[0][1]*d[1] + toWorld[0][2]*d[2]
	z := toWorld[2][0]*d[0] + toWorld[2][1]*d[1] + toWorld[2][2]*d[2]
	return math.Atan2(x, z)
}

// writeWorld writes world.json and each person's trajectory; body (may be
// nil: no heading) gives the root's orientation.
func writeWorld(out string, res *body4d.Result, g world.Ground, people []PersonOutput, body *mesh.Body) (notes []string, err error) {
	var fwd *rootForward
	if body != nil && body.Model != nil {
		var err error
		if fwd, err = newRootForward(body.Model); err != nil {
			return nil, err
		}
	}
	w := res.World
	wf := worldFile{Ground: g, Gravity: g.Gravity(), ToWorld: w.ToWorld,
		Convention: "world = camera_to_world · [camera; 1]; Y up, ground y = 0, origin on the ground under the first person's first root, X the camera's x axis projected onto the ground, Z = X × Y"}
	if err := writeJSON(filepath.Join(out, "world.json"), wf); err != nil {
		return nil, err
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
			if fwd != nil && r.Present {
				f, err := fwd.forward(p)
				if err != nil {
					return notes, fmt.Errorf("heading of person %d, frame %d: %w", tr.ID, r.Frame, err)
				}
				h := heading(w.ToWorld, f)
				r.Heading = &h
			}
		}
		if err := writeJSON(filepath.Join(people[i].Dir, "trajectory.json"), rows); err != nil {
			return notes, err
		}
		if err := writeTrajectoryNPZ(filepath.Join(people[i].Dir, "trajectory.npz"), rows); err != nil {
			return notes, err
		}
		if body == nil || body.Model == nil {
			continue
		}
		wt, err := worldTrack(body.Model, tr, w, i)
		if err != nil {
			notes = append(notes, fmt.Sprintf("world: no world-frame parameters for person %d: %v", tr.ID, err))
			continue
		}
		if _, err := writeParams(filepath.Join(people[i].Dir, "world"), wt, false); err != nil {
			return notes, err
		}
	}
	return notes, nil
}

// worldTrack re-expresses track ti's parameters in the world frame: the
// root translation and rotation (model parameters 0–5) are rewritten so
// that MHR's own forward pass, in centimetres divided by 100, is the
// world-frame mesh in metres, foot lift included; cam_t is zero. (The
// camera-frame mesh is D·MHR/100 + cam_t, D = diag(1, −1, −1); the world
// one is M·that + m + lift·Y, so MHR's output moves by M·D and
// 100·(M·cam_t + m + lift·Y).)
func worldTrack(model *mhr.Model, tr body4d.Track, w *body4d.World, ti int) (body4d.Track, error) {
	m := w.ToWorld
	var md [3][3]float64
	for i := range 3 {
		md[i] = [3]float64{m[i][0], -m[i][1], -m[i][2]}
	}
	q := quatFromMatrix(md)
	out := tr
	out.Params = slices.Clone(tr.Params)
	for t, p := range tr.Params {
		var lift float64
		if ti < len(w.FootLift) && t < len(w.FootLift[ti]) {
			lift = w.FootLift[ti][t]
		}
		var shift [3]float64
		for k := range 3 {
			shift[k] = 100 * (m[k][0]*p.CamT[0] + m[k][1]*p.CamT[1] + m[k][2]*p.CamT[2] + m[k][3])
		}
		shift[1] += 100 * lift
		model6, err := model.Reroot(p.Model[:], q, shift)
		if err != nil {
			return out, err
		}
		copy(out.Params[t].Model[:], model6)
		out.Params[t].CamT = [3]float64{}
	}
	return out, nil
}

// writeTrajectoryNPZ writes frame [T], present [T], root [T,3] (world
// metres), foot_lift [T] and, when every present frame has one, heading
// [T] (radians; NaN where absent).
func writeTrajectoryNPZ(path string, rows []trajectoryRow) error {
	frame := make([]int64, len(rows))
	present := make([]bool, len(rows))
	root := make([][3]float64, len(rows))
	lift := make([]float64, len(rows))
	head := make([]float64, len(rows))
	hasHeading := false
	for i, r := range rows {
		frame[i], present[i], root[i], lift[i] = int64(r.Frame), r.Present, r.Root, r.FootLift
		head[i] = math.NaN()
		if r.Heading != nil {
			head[i], hasHeading = *r.Heading, true
		}
	}
	arrays := map[string]any{"frame.npy": frame, "present.npy": present, "root.npy": root, "foot_lift.npy": lift}
	if hasHeading {
		arrays["heading.npy"] = head
	}
	tmp := path + ".tmp"
	if err := npz.Write(tmp, arrays); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// worldSpace places the exports in a static camera's world frame: each
// track's frames map by camera_to_world, then up by its foot lift.
type worldSpace struct {
	w      *body4d.World
	q      mhr.Quat // the rotation of ToWorld
	starts []int    // each track's first video frame
}

func newWorldSpace(w *body4d.World, tracks []body4d.Track) *worldSpace {
	var r [3][3]float64
	for i := range 3 {
		r[i] = [3]float64(w.ToWorld[i][:3])
	}
	s := &worldSpace{w: w, q: quatFromMatrix(r)}
	for _, tr := range tracks {
		s.starts = append(s.starts, tr.Start)
	}
	return s
}

// lift is track ti's foot lift on its frame t (0 without foot contact).
func (s *worldSpace) lift(ti, t int) float64 {
	if ti < 0 || ti >= len(s.w.FootLift) || t < 0 || t >= len(s.w.FootLift[ti]) {
		return 0
	}
	return s.w.FootLift[ti][t]
}

// frame is the rig frame of track ti (video frames f; the track starts at
// start); ti < 0 is the camera's own, without lift.
func (s *worldSpace) frame(ti int) rig.Frame {
	start := 0
	if ti >= 0 && ti < len(s.starts) {
		start = s.starts[ti]
	}
	return func(f int) mhr.State {
		t := s.w.ToWorld
		return mhr.State{Q: s.q, S: 1, T: [3]float64{t[0][3], t[1][3] + s.lift(ti, f-start), t[2][3]}}
	}
}

// points maps track ti's frame t (index into the track) camera-frame xyz
// points into the world frame in place.
func (s *worldSpace) points(ti, t int, p []float32) {
	m := s.w.ToWorld
	up := s.lift(ti, t)
	for i := 0; i+2 < len(p); i += 3 {
		c := [3]float64{float64(p[i]), float64(p[i+1]), float64(p[i+2])}
		for k := range 3 {
			v := m[k][0]*c[0] + m[k][1]*c[1] + m[k][2]*c[2] + m[k][3]
			if k == 1 {
				v += up
			}
			p[i+k] = float32(v)
		}
	}
}

// quatFromMatrix is the unit quaternion (x, y, z, w) of a rotation matrix
// (Shepperd's method: the largest of the four candidates for stability).
func quatFromMatrix(r [3][3]float64) mhr.Quat {
	tr := r[0][0] + r[1][1] + r[2][2]
	var q mhr.Quat
	switch {
	case tr > 0:
		s := 2 * math.Sqrt(1+tr)
		q = mhr.Quat{(r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s, s / 4}
	case r[0][0] > r[1][1] && r[0][0] > r[2][2]:
		s := 2 * math.Sqrt(1+r[0][0]-r[1][1]-r[2][2])
		q = mhr.Quat{s / 4, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s, (r[2][1] - r[1][2]) / s}
	case r[1][1] > r[2][2]:
		s := 2 * math.Sqrt(1+r[1][1]-r[0][0]-r[2][2])
		q = mhr.Quat{(r[0][1] + r[1][0]) / s, s / 4, (r[1][2] + r[2][1]) / s, (r[0][2] - r[2][0]) / s}
	default:
		s := 2 * math.Sqrt(1+r[2][2]-r[0][0]-r[1][1])
		q = mhr.Quat{(r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, s / 4, (r[1][0] - r[0][1]) / s}
	}
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	return mhr.Quat{q[0] / n, q[1] / n, q[2] / n, q[3] / n}
}

// worldFormats are the export formats written again in the world frame.
func worldFormats(formats []string) []string {
	return slices.DeleteFunc(slices.Clone(formats), func(f string) bool { return f == "npz" })
}

// readWorldSpace reads a finished run's world frame back (world.json and
// each person's trajectory.json foot lift); nil when the run has none.
func readWorldSpace(dir string, tracks []body4d.Track) (*worldSpace, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "world.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var wf worldFile
	if err := json.Unmarshal(raw, &wf); err != nil {
		return nil, fmt.Errorf("export: %s: %w", filepath.Join(dir, "world.json"), err)
	}
	w := &body4d.World{ToWorld: wf.ToWorld}
	for _, tr := range tracks {
		path := filepath.Join(dir, "people", strconv.Itoa(int(tr.ID)), "trajectory.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("export: the run has world.json but person %d has no trajectory: %w", tr.ID, err)
		}
		var rows []trajectoryRow
		if err := json.Unmarshal(raw, &rows); err != nil {
			return nil, fmt.Errorf("export: %s: %w", path, err)
		}
		if len(rows) != len(tr.Params) {
			return nil, fmt.Errorf("export: %s has %d frames, params.json %d", path, len(rows), len(tr.Params))
		}
		lift := make([]float64, len(rows))
		for i, r := range rows {
			lift[i] = r.FootLift
		}
		w.FootLift = append(w.FootLift, lift)
	}
	return newWorldSpace(w, tracks), nil
}

// TopView is a finished world-frame run seen from above: the camera and
// each person's root path on the ground, in world metres (x, z).
type TopView struct {
	Camera       [2]float64      `json:"camera"`          // the camera's position
	CameraFacing [2]float64      `json:"camera_facing"`   // its optical axis on the ground (unit; zero when it looks straight down)
	Height       float64         `json:"camera_height_m"` // above the ground
	People       []TopViewPerson `json:"people"`
}

// TopViewPerson is one person's root path: one polyline per run of
// frames they are present on.
type TopViewPerson struct {
	ID    scene.PersonID `json:"id"`
	Paths [][][2]float64 `json:"paths"`
}

// ReadTopView reads a finished run's world frame (world.json and each
// person's trajectory.json) as a TopView, keeping about maxPoints points
// per person (every k-th frame; each path's last point is kept). It
// returns nil, nil when the run has no world frame.
func ReadTopView(out string, people []PersonOutput, maxPoints int) (*TopView, error) {
	raw, err := os.ReadFile(filepath.Join(out, "world.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var wf worldFile
	if err := json.Unmarshal(raw, &wf); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(out, "world.json"), err)
	}
	m := wf.ToWorld
	v := &TopView{Camera: [2]float64{m[0][3], m[2][3]}, Height: wf.Ground.Height, People: []TopViewPerson{}}
	if n := math.Hypot(m[0][2], m[2][2]); n > 1e-9 {
		v.CameraFacing = [2]float64{m[0][2] / n, m[2][2] / n}
	}
	for _, p := range people {
		path := filepath.Join(p.Dir, "trajectory.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var rows []trajectoryRow
		if err := json.Unmarshal(raw, &rows); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		step := max(1, (len(rows)+maxPoints-1)/max(1, maxPoints))
		tp := TopViewPerson{ID: p.ID, Paths: [][][2]float64{}}
		var cur [][2]float64
		for i, r := range rows {
			if !r.Present {
				if len(cur) > 0 {
					tp.Paths = append(tp.Paths, cur)
				}
				cur = nil
				continue
			}
			last := i+1 == len(rows) || !rows[i+1].Present
			if len(cur) == 0 || i%step == 0 || last {
				cur = append(cur, [2]float64{r.Root[0], r.Root[2]})
			}
		}
		if len(cur) > 0 {
			tp.Paths = append(tp.Paths, cur)
		}
		v.People = append(v.People, tp)
	}
	return v, nil
}
