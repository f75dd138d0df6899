package world

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/scene"
)

// Geometer gives a frame's metric point map (fov.Estimator does).
type Geometer interface {
	Geometry(ctx context.Context, img *scene.RGB) (fov.Geometry, error)
}

// ErrMoving says the camera is not static: no world frame is made.
var ErrMoving = errors.New("the camera moves")

// Stage is the pipeline's world stage for a static camera (it implements
// body4d.WorldEstimator).
type Stage struct {
	Geometry Geometer
	// Frames is how many evenly spaced frames the ground is fitted to (8).
	Frames int
	// StaticTolerance is the median relative motion of background points
	// allowed between frames (0.05: MoGe's own frame-to-frame depth noise
	// stays well under it).
	StaticTolerance float64
	Options         Options
	// Feet, when not nil, gives a person's foot vertices (camera frame,
	// packed xyz) for foot contact; nil turns foot contact off.
	Feet func(p scene.Params) ([]float32, error)
	// ContactWindow is foot contact's half window in frames (5).
	ContactWindow int
	// Fit, when not nil, receives the ground fit and static check.
	Fit func(Ground, Static)
}

// World fits the ground and builds the world frame; it refuses a moving
// camera and a clip without a supported ground.
func (s *Stage) World(ctx context.Context, frames body4d.FrameSource, res *body4d.Result) (*body4d.World, error) {
	if s.Geometry == nil {
		return nil, errors.New("no point-map estimator")
	}
	info := frames.Info()
	k := s.Frames
	if k <= 0 {
		k = 8
	}
	k = min(k, info.Frames)
	tol := s.StaticTolerance
	if tol <= 0 {
		tol = 0.05
	}
	maps := make([]PointMap, 0, k)
	for j := range k {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := j * (info.Frames - 1) / max(1, k-1)
		img, err := frames.Frame(f)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", f, err)
		}
		g, err := s.Geometry.Geometry(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", f, err)
		}
		people, err := peopleMask(res.Masks, f, g.Width, g.Height)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", f, err)
		}
		maps = append(maps, PointMap{Width: g.Width, Height: g.Height, Points: g.Points, Valid: g.Valid, People: people})
	}
	st, err := CheckStatic(maps, tol)
	if err != nil {
		return nil, err
	}
	if !st.Static {
		return nil, fmt.Errorf("%w (background points move a median %.1f%% between sampled frames, tolerance %.1f%%); --world static needs a static camera", ErrMoving, 100*st.WorstMove, 100*tol)
	}
	g, err := FitGround(maps, s.Options)
	if err != nil {
		return nil, err
	}
	if s.Fit != nil {
		s.Fit(g, st)
	}
	first, ok := firstRoot(res.Tracks)
	if !ok {
		return nil, errors.New("no person present to place the origin under")
	}
	fr, err := NewFrame(g, first)
	if err != nil {
		return nil, err
	}
	w := &body4d.World{CameraHeight: g.Height, PitchDeg: g.PitchDeg, RollDeg: g.RollDeg}
	for i := range 3 {
		w.ToWorld[i] = [4]float64{fr.R[i][0], fr.R[i][1], fr.R[i][2], -vec(fr.R[i]).dot(fr.Origin)}
	}
	if s.Feet == nil {
		return w, nil
	}
	win := s.ContactWindow
	if win <= 0 {
		win = 5
	}
	for _, tr := range res.Tracks {
		low := make([]float64, len(tr.Params))
		for t, p := range tr.Params {
			low[t] = math.NaN()
			if !tr.Present[t] {
				continue
			}
			v, err := s.Feet(p)
			if err != nil {
				return nil, fmt.Errorf("person %d frame %d: feet: %w", tr.ID, tr.Start+t, err)
			}
			for i := 0; i+2 < len(v); i += 3 {
				y := fr.Point([3]float64{float64(v[i]), float64(v[i+1]), float64(v[i+2])})[1]
				if math.IsNaN(low[t]) || y < low[t] {
					low[t] = y
				}
			}
		}
		w.FootLift = append(w.FootLift, FootContact(low, win))
	}
	return w, nil
}

// firstRoot is the camera-frame root (CamT) of the person seen first
// (ties: the lowest id, as tracks are sorted by id).
func firstRoot(tracks []body4d.Track) ([3]float64, bool) {
	bestT, root := math.MaxInt, [3]float64{}
	for _, tr := range tracks {
		for t, ok := range tr.Present {
			if ok {
				if tr.Start+t < bestT {
					bestT, root = tr.Start+t, tr.Params[t].CamT
				}
				break
			}
		}
	}
	return root, bestT != math.MaxInt
}

// peopleMask marks, at the point map's resolution, pixels any person covers
// (nearest sampling of the frame-sized masks, grown by one pixel).
func peopleMask(ms body4d.MaskSource, frame, w, h int) ([]bool, error) {
	out := make([]bool, w*h)
	if ms == nil {
		return out, nil
	}
	for _, id := range ms.People() {
		m, err := ms.Mask(frame, id)
		if err != nil {
			return nil, err
		}
		if m == nil || m.W <= 0 || m.H <= 0 {
			continue
		}
		for y := range h {
			for x := range w {
				if m.Pix[(y*m.H/h)*m.W+x*m.W/w] == 0 {
					continue
				}
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						if yy, xx := y+dy, x+dx; yy >= 0 && yy < h && xx >= 0 && xx < w {
							out[yy*w+xx] = true
						}
					}
				}
			}
		}
	}
	return out, nil
}
