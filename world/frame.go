package world

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Frame maps camera coordinates to world coordinates: w = R·(c − O), rows of
// R the world axes in camera coordinates and O the world origin.
type Frame struct {
	R      [3][3]float64 `json:"rotation"` // rows: world X, Y, Z in camera coordinates
	Origin [3]float64    `json:"origin_camera"`
}

// NewFrame builds the world frame on the ground g with its origin on the
// ground under firstRoot (camera coordinates): Y is up, X the camera's x axis
// projected onto the ground, Z = X × Y.
func NewFrame(g Ground, firstRoot [3]float64) (Frame, error) {
	n := vec(g.Normal)
	x := vec{1, 0, 0}
	x = x.sub(n.scale(n.dot(x)))
	if x.norm() < 1e-6 {
		return Frame{}, errors.New("the camera's x axis is vertical; no horizontal X axis")
	}
	x = x.unit()
	z := x.cross(n)
	r := vec(firstRoot)
	o := r.sub(n.scale(n.dot(r) + g.D))
	return Frame{R: [3][3]float64{x, n, z}, Origin: o}, nil
}

// Point maps a camera-frame point to the world frame.
func (f Frame) Point(c [3]float64) [3]float64 {
	d := vec(c).sub(f.Origin)
	return [3]float64{vec(f.R[0]).dot(d), vec(f.R[1]).dot(d), vec(f.R[2]).dot(d)}
}

// Direction maps a camera-frame direction (no translation).
func (f Frame) Direction(c [3]float64) [3]float64 {
	d := vec(c)
	return [3]float64{vec(f.R[0]).dot(d), vec(f.R[1]).dot(d), vec(f.R[2]).dot(d)}
}

// Points maps packed xyz float32 points in place.
func (f Frame) Points(p []float32) {
	for i := 0; i+2 < len(p); i += 3 {
		w := f.Point([3]float64{float64(p[i]), float64(p[i+1]), float64(p[i+2])})
		p[i], p[i+1], p[i+2] = float32(w[0]), float32(w[1]), float32(w[2])
	}
}

// Heading is the yaw (radians, about world Y, 0 along +Z, positive towards +X)
// of a camera-frame forward direction.
func (f Frame) Heading(forward [3]float64) float64 {
	w := f.Direction(forward)
	return math.Atan2(w[0], w[2])
}

// FootContact returns per-frame upward corrections (metres) that keep the
// lowest foot point on or above the ground. lowest[t] is the lowest foot
// vertex's world y at frame t (NaN: person absent). The rule: the raw need
// max(0, −lowest[t]) is dilated (running maximum) over ±halfWindow frames and
// then averaged over the same ±halfWindow; every average then covers frame t's
// own need, so no foot ends below the ground and the correction ramps
// smoothly instead of popping.
func FootContact(lowest []float64, halfWindow int) []float64 {
	n := len(lowest)
	need := make([]float64, n)
	for t, y := range lowest {
		if !math.IsNaN(y) && y < 0 {
			need[t] = -y
		}
	}
	dil := make([]float64, n)
	for t := range n {
		for s := max(0, t-halfWindow); s <= min(n-1, t+halfWindow); s++ {
			dil[t] = math.Max(dil[t], need[s])
		}
	}
	out := make([]float64, n)
	for t := range n {
		var sum float64
		for s := t - halfWindow; s <= t+halfWindow; s++ {
			sum += dil[min(n-1, max(0, s))] // edges repeat, keeping the bound
		}
		out[t] = sum / float64(2*halfWindow+1)
	}
	return out
}

// Static reports how far background points move between frames.
type Static struct {
	Static    bool    `json:"static"`
	Tolerance float64 `json:"tolerance"`  // relative point motion allowed
	WorstMove float64 `json:"worst_move"` // largest per-frame median relative move against the first frame
	WorstAt   int     `json:"worst_frame"`
}

// CheckStatic compares each frame's background point map with the first's:
// the median over pixels usable in both of |p_t − p_0| / |p_0|. The camera is
// static when every frame's median is within tol (e.g. 0.05 for MoGe's
// per-frame depth noise). A camera sliding or panning over a scene that is
// only a flat ground leaves the point maps unchanged and is not caught: the
// check relies on the background having structure off the ground plane.
func CheckStatic(maps []PointMap, tol float64) (Static, error) {
	if len(maps) == 0 {
		return Static{}, errors.New("no point maps for the static-camera check")
	}
	s := Static{Static: true, Tolerance: tol}
	ref := maps[0]
	if err := ref.check(); err != nil {
		return s, fmt.Errorf("frame 0: %w", err)
	}
	var rel []float64
	for t := 1; t < len(maps); t++ {
		m := maps[t]
		if err := m.check(); err != nil {
			return s, fmt.Errorf("frame %d: %w", t, err)
		}
		if m.Width != ref.Width || m.Height != ref.Height {
			return s, fmt.Errorf("frame %d point map is %dx%d, frame 0 is %dx%d", t, m.Width, m.Height, ref.Width, ref.Height)
		}
		rel = rel[:0]
		for i := 0; i < m.Width*m.Height; i += 3 {
			if !ref.usable(i) || !m.usable(i) {
				continue
			}
			p0 := ref.at(i)
			rel = append(rel, m.at(i).sub(p0).norm()/math.Max(p0.norm(), 1e-6))
		}
		if len(rel) == 0 {
			return s, fmt.Errorf("frame %d shares no background pixel with frame 0", t)
		}
		sort.Float64s(rel)
		if med := rel[len(rel)/2]; med > s.WorstMove {
			s.WorstMove, s.WorstAt = med, t
		}
	}
	s.Static = s.WorstMove <= tol
	return s, nil
}
