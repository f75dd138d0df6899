// Package smooth removes frame-to-frame jitter from per-person body
// parameter tracks.
//
// Three methods are offered: the reference tool's occlusion-aware segment
// smoother (Reference), a constant-velocity Kalman filter with a
// Rauch–Tung–Striebel backward pass (Kalman) and the One-Euro filter
// (OneEuro). The series functions (KalmanRTS, OneEuroFilter,
// ReferenceSegments) work on any T×D float64 series; Options.Smooth adapts
// them to a scene.Track.
//
// Beyond the reference, and each switchable in Options: a track is
// smoothed as a whole instead of restarting every 64 frames, the camera
// translation can be smoothed, shape and skeleton scales are locked to the
// per-person median over visible frames rather than to frame 0, the global
// rotation is filtered as sign-continuous quaternions (no jumps at ±π),
// and short absences can be bridged.
package smooth

import (
	"fmt"
	"math"
	"sync"

	"github.com/body4d/body4d/scene"
)

// Smoother smooths one person's track in place.
type Smoother interface {
	Smooth(tr *scene.Track) error
}

// Mode selects the smoothing method.
type Mode int

const (
	Reference Mode = iota // the reference tool's segment smoother (app-pipeline.md §3)
	Kalman                // constant-velocity Kalman filter + RTS smoother
	OneEuro               // One-Euro filter (causal)
)

func (m Mode) String() string {
	switch m {
	case Reference:
		return "reference"
	case Kalman:
		return "kalman"
	case OneEuro:
		return "one-euro"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ShapeLock says how identity shape and skeleton scales are held fixed
// over a person's track.
type ShapeLock int

const (
	ShapeMedian ShapeLock = iota // per-dimension median over visible frames (present frames if none is visible)
	ShapeFirst                   // the first present frame's values, as the reference does
	ShapeFree                    // leave them per frame
)

// Options configure a smoother; Options is itself a Smoother. The zero
// value runs the reference method with every improvement on (whole track,
// median shape, rotation-safe); ReferenceOptions gives the reference
// tool's behaviour.
type Options struct {
	Mode    Mode
	Kalman  KalmanParams  // zero value means DefaultKalman
	OneEuro OneEuroParams // zero value means DefaultOneEuro
	// Chunk > 0 restarts smoothing every Chunk frames, as the reference
	// does with its 64-frame batches; 0 smooths each track as a whole.
	Chunk int
	// CamT also smooths the camera translation, which the reference
	// leaves raw. Reference mode uses the global-rotation constants
	// (static when the median step < 2 cm and max step < 8 cm).
	CamT  bool
	Shape ShapeLock
	// EulerRaw smooths the three Euler angles of the global rotation as
	// plain numbers, as the reference does; otherwise rotations are
	// filtered in a representation without the ±π seam.
	EulerRaw bool
	// Bridge fills absent gaps of at most Bridge frames between two
	// present frames: they become present but occluded and the smoother
	// estimates them. Longer gaps stay absent.
	Bridge int
}

// ReferenceOptions returns the options that reproduce the reference tool:
// 64-frame chunks, shape and scales from the first frame, raw Euler
// angles, camera translation untouched, no bridging.
func ReferenceOptions() Options {
	return Options{Mode: Reference, Chunk: 64, Shape: ShapeFirst, EulerRaw: true}
}

// Parameter layout of scene.Params.Model (reference note mesh-fov.md):
// 3 translation, 3 rotation, 130 pose, 68 scales. Within the 130 pose
// values, 62..115 hold the two hands (mhr_param_hand_idxs).
const (
	rotOff    = 3
	poseOff   = 6
	poseLen   = 130
	scaleOff  = 136
	handStart = poseOff + 62
	handEnd   = poseOff + 116
	// Widths of the reference's body_pose and hand tensors, which its
	// per-dimension blend thresholds divide by.
	refBodyWidth = 133
	refHandWidth = 108
)

func (o Options) check() (Options, error) {
	if o.Kalman == (KalmanParams{}) {
		o.Kalman = DefaultKalman()
	}
	if o.OneEuro == (OneEuroParams{}) {
		o.OneEuro = DefaultOneEuro()
	}
	if o.Kalman.P0 == 0 {
		o.Kalman.P0 = 1
	}
	switch {
	case o.Mode < Reference || o.Mode > OneEuro:
		return o, fmt.Errorf("smooth: unknown mode %d", int(o.Mode))
	case o.Chunk < 0:
		return o, fmt.Errorf("smooth: Chunk %d must be ≥ 0", o.Chunk)
	case o.Bridge < 0:
		return o, fmt.Errorf("smooth: Bridge %d must be ≥ 0", o.Bridge)
	case o.Shape < ShapeMedian || o.Shape > ShapeFree:
		return o, fmt.Errorf("smooth: unknown shape lock %d", int(o.Shape))
	}
	if err := o.Kalman.check(); err != nil {
		return o, err
	}
	if err := o.OneEuro.check(); err != nil {
		return o, err
	}
	return o, nil
}

// Validate reports a track whose flag slices do not match its frames or
// whose present frames hold NaN or infinite parameters.
func Validate(tr *scene.Track) error {
	if tr == nil {
		return fmt.Errorf("smooth: nil track")
	}
	n := len(tr.Params)
	if len(tr.Present) != n || (tr.Visible != nil && len(tr.Visible) != n) {
		return fmt.Errorf("smooth: person %d: %d frames of params, %d present flags, %d visible flags",
			tr.ID, n, len(tr.Present), len(tr.Visible))
	}
	for t := range tr.Params {
		if !tr.Present[t] {
			continue
		}
		p := &tr.Params[t]
		bad := func(what string, i int) error {
			return fmt.Errorf("smooth: person %d, frame %d: %s[%d] is not finite", tr.ID, tr.Start+t, what, i)
		}
		for i, v := range p.Model {
			if !finite(float64(v)) {
				return bad("Model", i)
			}
		}
		for i, v := range p.Shape {
			if !finite(float64(v)) {
				return bad("Shape", i)
			}
		}
		for i, v := range p.CamT {
			if !finite(v) {
				return bad("CamT", i)
			}
		}
		if !finite(p.Focal) {
			return bad("Focal", 0)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Smooth smooths tr in place. Absent frames are neither read nor written
// (unless bridged); Visible == nil means every present frame is visible
// and is replaced by a copy of Present.
func (o Options) Smooth(tr *scene.Track) error {
	o, err := o.check()
	if err != nil {
		return err
	}
	if err := Validate(tr); err != nil {
		return err
	}
	n := len(tr.Params)
	if tr.Visible == nil {
		tr.Visible = append([]bool(nil), tr.Present...)
	}
	if o.Bridge > 0 {
		bridge(tr, o.Bridge)
	}
	step := o.Chunk
	if step == 0 {
		step = max(n, 1)
	}
	for s := 0; s < n; s += step {
		e := min(n, s+step)
		if err := o.smoothChunk(tr, s, e); err != nil {
			return fmt.Errorf("smooth: person %d: %w", tr.ID, err)
		}
	}
	lockShape(tr, o.Shape)
	return nil
}

// Tracks smooths every track, one goroutine per person.
func (o Options) Tracks(trs []*scene.Track) error {
	errs := make([]error, len(trs))
	var wg sync.WaitGroup
	for i, tr := range trs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = o.Smooth(tr)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// smoothChunk smooths frames [s, e) of tr.
func (o Options) smoothChunk(tr *scene.Track, s, e int) error {
	if o.Mode == Reference {
		return o.referenceChunk(tr, s, e)
	}
	// Kalman and One-Euro run over each contiguous run of present frames.
	for a := s; a < e; {
		if !tr.Present[a] {
			a++
			continue
		}
		b := a
		for b+1 < e && tr.Present[b+1] {
			b++
		}
		if err := o.filterRun(tr, a, b+1); err != nil {
			return err
		}
		a = b + 1
	}
	return nil
}

// filterRun applies the Kalman or One-Euro filter to frames [a, b), all present.
func (o Options) filterRun(tr *scene.Track, a, b int) error {
	ps := tr.Params[a:b]
	obs := append([]bool(nil), tr.Visible[a:b]...)
	anyObs := false
	for _, v := range obs {
		anyObs = anyObs || v
	}
	if !anyObs {
		// Nothing is unoccluded: the occluded estimates are all there is.
		for i := range obs {
			obs[i] = true
		}
	}
	rot := newRotSeries(ps, o.EulerRaw)
	cols := append(seq(0, rotOff), seq(poseOff, poseOff+poseLen)...)
	if o.Shape == ShapeFree {
		cols = append(cols, seq(scaleOff, 204)...)
	}
	y := make([][]float64, len(ps))
	for t := range ps {
		row := make([]float64, 0, len(cols)+7)
		for _, c := range cols {
			row = append(row, float64(ps[t].Model[c]))
		}
		row = append(row, rot.rows[t]...)
		if o.CamT {
			row = append(row, ps[t].CamT[:]...)
		}
		y[t] = row
	}
	var err error
	if o.Mode == Kalman {
		err = KalmanRTS(y, obs, o.Kalman)
	} else {
		err = OneEuroFilter(y, obs, o.OneEuro)
	}
	if err != nil {
		return err
	}
	for t := range ps {
		row := y[t]
		for i, c := range cols {
			ps[t].Model[c] = float32(row[i])
		}
		k := len(cols) + len(rot.rows[t])
		rot.rows[t] = row[len(cols):k]
		if o.CamT {
			copy(ps[t].CamT[:], row[k:k+3])
		}
	}
	rot.store(ps)
	return nil
}

// referenceChunk runs the reference's three passes on frames [s, e).
func (o Options) referenceChunk(tr *scene.Track, s, e int) error {
	ps := tr.Params[s:e]
	present, visible := tr.Present[s:e], tr.Visible[s:e]
	var body, hand []int
	for c := poseOff; c < poseOff+poseLen; c++ {
		if c >= handStart && c < handEnd {
			hand = append(hand, c)
		} else {
			body = append(body, c)
		}
	}
	pose := ReferencePose()
	for _, blk := range []struct {
		cols  []int
		width int
	}{{body, refBodyWidth}, {hand, refHandWidth}} {
		p := pose
		p.NormDim = blk.width
		y := gather(ps, blk.cols)
		// The reference calls its smoother twice: first treating every
		// present frame as visible, then with the occlusion flags.
		if err := ReferenceSegments(y, present, nil, p); err != nil {
			return err
		}
		if err := ReferenceSegments(y, present, visible, p); err != nil {
			return err
		}
		scatter(ps, present, blk.cols, y)
	}
	if o.CamT {
		y := make([][]float64, len(ps))
		for t := range ps {
			y[t] = append([]float64(nil), ps[t].CamT[:]...)
		}
		if err := ReferenceSegments(y, present, visible, ReferenceRot()); err != nil {
			return err
		}
		for t := range ps {
			if present[t] {
				copy(ps[t].CamT[:], y[t])
			}
		}
	}
	// Global rotation: raw Euler as the reference, or unwrapped along
	// the present frames so the ±π seam is not a jump.
	y := gather(ps, seq(rotOff, rotOff+3))
	if !o.EulerRaw {
		var prev []float64
		for t := range y {
			if !present[t] {
				continue
			}
			if prev != nil {
				for d := range y[t] {
					y[t][d] = unwrap(prev[d], y[t][d])
				}
			}
			prev = y[t]
		}
	}
	if err := ReferenceSegments(y, present, visible, ReferenceRot()); err != nil {
		return err
	}
	if !o.EulerRaw {
		for t := range y {
			for d := range y[t] {
				y[t][d] = nearAngle(y[t][d], float64(ps[t].Model[rotOff+d]))
			}
		}
	}
	scatter(ps, present, seq(rotOff, rotOff+3), y)
	return nil
}

func seq(a, b int) []int {
	s := make([]int, 0, b-a)
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

func gather(ps []scene.Params, cols []int) [][]float64 {
	y := make([][]float64, len(ps))
	for t := range ps {
		y[t] = make([]float64, len(cols))
		for i, c := range cols {
			y[t][i] = float64(ps[t].Model[c])
		}
	}
	return y
}

func scatter(ps []scene.Params, present []bool, cols []int, y [][]float64) {
	for t := range ps {
		if !present[t] {
			continue
		}
		for i, c := range cols {
			ps[t].Model[c] = float32(y[t][i])
		}
	}
}

// rotSeries holds the global rotation of a run of frames in the form
// that is filtered: sign-continuous quaternions, or raw Euler angles.
type rotSeries struct {
	raw  bool
	rows [][]float64
	ref  [][3]float64 // input angles, to keep outputs on the same branch
}

func newRotSeries(ps []scene.Params, raw bool) *rotSeries {
	r := &rotSeries{raw: raw, rows: make([][]float64, len(ps)), ref: make([][3]float64, len(ps))}
	var prev quat
	for t := range ps {
		m := ps[t].Model[rotOff : rotOff+3]
		r.ref[t] = [3]float64{float64(m[0]), float64(m[1]), float64(m[2])}
		if raw {
			r.rows[t] = r.ref[t][:]
			continue
		}
		q := eulerToQuat(r.ref[t][0], r.ref[t][1], r.ref[t][2])
		if t > 0 && q.dot(prev) < 0 {
			q = quat{-q.w, -q.x, -q.y, -q.z}
		}
		prev = q
		r.rows[t] = []float64{q.w, q.x, q.y, q.z}
	}
	return r
}

func (r *rotSeries) store(ps []scene.Params) {
	for t := range ps {
		v := r.rows[t]
		if !r.raw {
			a, b, c := quatToEuler(quat{v[0], v[1], v[2], v[3]})
			v = []float64{nearAngle(a, r.ref[t][0]), nearAngle(b, r.ref[t][1]), nearAngle(c, r.ref[t][2])}
		}
		for d := range 3 {
			ps[t].Model[rotOff+d] = float32(v[d])
		}
	}
}

// bridge marks absent gaps of at most limit frames between two present
// frames as present and occluded, filled by interpolating the two ends
// (rotation along the shorter arc), so the smoother can refine them.
func bridge(tr *scene.Track, limit int) {
	n := len(tr.Params)
	last := -1
	for t := 0; t < n; t++ {
		if !tr.Present[t] {
			continue
		}
		if last >= 0 && t-last > 1 && t-last-1 <= limit {
			a, b := &tr.Params[last], &tr.Params[t]
			qa := eulerToQuat(float64(a.Model[3]), float64(a.Model[4]), float64(a.Model[5]))
			qb := eulerToQuat(float64(b.Model[3]), float64(b.Model[4]), float64(b.Model[5]))
			if qa.dot(qb) < 0 {
				qb = quat{-qb.w, -qb.x, -qb.y, -qb.z}
			}
			for u := last + 1; u < t; u++ {
				r := float64(u-last) / float64(t-last)
				p := *a
				for i := range p.Model {
					p.Model[i] = float32((1-r)*float64(a.Model[i]) + r*float64(b.Model[i]))
				}
				for i := range p.Shape {
					p.Shape[i] = float32((1-r)*float64(a.Shape[i]) + r*float64(b.Shape[i]))
				}
				for i := range p.CamT {
					p.CamT[i] = (1-r)*a.CamT[i] + r*b.CamT[i]
				}
				p.Focal = (1-r)*a.Focal + r*b.Focal
				q := quat{(1-r)*qa.w + r*qb.w, (1-r)*qa.x + r*qb.x, (1-r)*qa.y + r*qb.y, (1-r)*qa.z + r*qb.z}
				x, y, z := quatToEuler(q)
				p.Model[3] = float32(nearAngle(x, float64(a.Model[3])))
				p.Model[4] = float32(nearAngle(y, float64(a.Model[4])))
				p.Model[5] = float32(nearAngle(z, float64(a.Model[5])))
				tr.Params[u] = p
				tr.Present[u] = true
				tr.Visible[u] = false
			}
		}
		last = t
	}
}

// lockShape holds Shape and the skeleton scales fixed over the track.
func lockShape(tr *scene.Track, how ShapeLock) {
	if how == ShapeFree {
		return
	}
	var frames []int
	for t, p := range tr.Present {
		if p && (how == ShapeFirst || tr.Visible[t]) {
			frames = append(frames, t)
		}
	}
	if how == ShapeMedian && len(frames) == 0 {
		for t, p := range tr.Present {
			if p {
				frames = append(frames, t)
			}
		}
	}
	if len(frames) == 0 {
		return
	}
	var shape [45]float32
	var scale [204 - scaleOff]float32
	if how == ShapeFirst {
		p := &tr.Params[frames[0]]
		shape = p.Shape
		copy(scale[:], p.Model[scaleOff:])
	} else {
		col := make([]float64, len(frames))
		for i := range shape {
			for k, t := range frames {
				col[k] = float64(tr.Params[t].Shape[i])
			}
			shape[i] = float32(median(col))
		}
		for i := range scale {
			for k, t := range frames {
				col[k] = float64(tr.Params[t].Model[scaleOff+i])
			}
			scale[i] = float32(median(col))
		}
	}
	for t, p := range tr.Present {
		if p {
			tr.Params[t].Shape = shape
			copy(tr.Params[t].Model[scaleOff:], scale[:])
		}
	}
}
