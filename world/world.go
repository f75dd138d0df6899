// Package world puts camera-frame results of a static camera into a
// gravity-aligned world frame: it fits the ground plane to MoGe's metric point
// maps (people masked out), checks that the camera did not move, and keeps
// feet on the ground.
//
// Camera coordinates are OpenCV's (x right, y down, z forward), as MoGe
// returns them. The world frame is Y up with the ground at y = 0, X the
// camera's x axis projected onto the ground and Z = X × Y (towards the camera
// when it looks along the ground).
//
// Errors do not name the package: the pipeline reports them under its
// "body4d: world:" stage prefix.
package world

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// PointMap is one frame's metric point map in camera coordinates.
type PointMap struct {
	Width, Height int
	Points        []float32 // xyz per pixel, row-major
	Valid         []bool    // nil: every pixel valid
	People        []bool    // pixels covered by a person; nil: none
}

func (m PointMap) check() error {
	n := m.Width * m.Height
	switch {
	case m.Width <= 0 || m.Height <= 0:
		return fmt.Errorf("point map size %dx%d", m.Width, m.Height)
	case len(m.Points) != 3*n:
		return fmt.Errorf("point map has %d values, want %d for %dx%d", len(m.Points), 3*n, m.Width, m.Height)
	case m.Valid != nil && len(m.Valid) != n:
		return fmt.Errorf("validity mask has %d pixels, want %d", len(m.Valid), n)
	case m.People != nil && len(m.People) != n:
		return fmt.Errorf("people mask has %d pixels, want %d", len(m.People), n)
	}
	return nil
}

func (m PointMap) usable(i int) bool {
	if (m.Valid != nil && !m.Valid[i]) || (m.People != nil && m.People[i]) {
		return false
	}
	p := m.Points[3*i : 3*i+3]
	return !math.IsNaN(float64(p[0]+p[1]+p[2])) && !math.IsInf(float64(p[0]+p[1]+p[2]), 0)
}

func (m PointMap) at(i int) vec {
	return vec{float64(m.Points[3*i]), float64(m.Points[3*i+1]), float64(m.Points[3*i+2])}
}

// Options tunes the ground fit. Zero values take the defaults noted.
type Options struct {
	Stride         int     // pixel step when sampling points (4)
	Iterations     int     // RANSAC hypotheses (400)
	InlierDistance float64 // metres from the plane (0.03)
	NormalAgreeDeg float64 // a point's own normal must agree with the plane's within this (20°)
	MaxTiltDeg     float64 // the ground's normal is at most this far from the camera's up (-y) (60°)
	MinInliers     int     // fewer inliers than this: no ground (300)
	MinInlierShare float64 // or fewer than this share of sampled background points: no ground (0.1)
	Seed           uint64  // RANSAC seed; runs are deterministic
}

func (o Options) withDefaults() Options {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Stride <= 0 {
		o.Stride = 4
	}
	if o.Iterations <= 0 {
		o.Iterations = 400
	}
	if o.MinInliers <= 0 {
		o.MinInliers = 300
	}
	def(&o.InlierDistance, 0.03)
	def(&o.NormalAgreeDeg, 20)
	def(&o.MaxTiltDeg, 60)
	def(&o.MinInlierShare, 0.1)
	return o
}

// ErrNoGround says no plane is supported well enough to be the ground; the
// caller keeps the camera frame.
var ErrNoGround = errors.New("no ground plane found")

// Ground is the fitted plane n·p + d = 0 in camera coordinates, n the unit
// up direction (gravity is −n) and d > 0 the camera's height above it.
type Ground struct {
	Normal   [3]float64 `json:"normal"`
	D        float64    `json:"d"`
	Height   float64    `json:"camera_height_m"`
	PitchDeg float64    `json:"camera_pitch_deg"` // optical axis below the horizon, positive looking down
	RollDeg  float64    `json:"camera_roll_deg"`  // about the optical axis, positive when the image's right side is up
	Inliers  int        `json:"inliers"`
	Sampled  int        `json:"sampled"` // background points with a normal considered
	RMS      float64    `json:"rms_m"`   // inliers' distance to the plane
	Frames   int        `json:"frames"`
}

// Gravity is the unit gravity direction in camera coordinates.
func (g Ground) Gravity() [3]float64 { return [3]float64{-g.Normal[0], -g.Normal[1], -g.Normal[2]} }

type sample struct{ p, n vec }

const scoreSamples = 3000

// FitGround fits the ground across the given frames: RANSAC over background
// points whose local normals agree with the hypothesis plane, then a least
// squares refit on the inliers. It returns ErrNoGround (wrapped with the
// support found) when the best plane has too little support.
func FitGround(maps []PointMap, opts Options) (Ground, error) {
	o := opts.withDefaults()
	if len(maps) == 0 {
		return Ground{}, errors.New("no point maps to fit the ground to")
	}
	var pts []sample
	for fi, m := range maps {
		if err := m.check(); err != nil {
			return Ground{}, fmt.Errorf("frame %d: %w", fi, err)
		}
		pts = appendSamples(pts, m, o.Stride)
	}
	if len(pts) < 3 {
		return Ground{}, fmt.Errorf("%w: %d usable background points", ErrNoGround, len(pts))
	}
	cosAgree := math.Cos(o.NormalAgreeDeg * math.Pi / 180)
	cosTilt := math.Cos(o.MaxTiltDeg * math.Pi / 180)
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	// Hypotheses are scored on a fixed random subset (enough to rank planes);
	// support is then counted on every sample.
	score := pts
	if len(pts) > scoreSamples {
		score = make([]sample, scoreSamples)
		for i := range score {
			score[i] = pts[rng.IntN(len(pts))]
		}
	}
	bestN, bestD, best := vec{}, 0.0, 0
	for it := 0; it < o.Iterations; it++ {
		a, b, c := pts[rng.IntN(len(pts))].p, pts[rng.IntN(len(pts))].p, pts[rng.IntN(len(pts))].p
		n := b.sub(a).cross(c.sub(a))
		l := n.norm()
		if l < 1e-9 {
			continue
		}
		n = n.scale(1 / l)
		d := -n.dot(a)
		if d < 0 { // orient towards the camera, which stands above the ground
			n, d = n.scale(-1), -d
		}
		if -n[1] < cosTilt {
			continue
		}
		if k := countInliers(score, n, d, o.InlierDistance, cosAgree); k > best {
			bestN, bestD, best = n, d, k
		}
	}
	if best > 0 {
		best = countInliers(pts, bestN, bestD, o.InlierDistance, cosAgree)
	}
	minSupport := max(o.MinInliers, int(math.Ceil(o.MinInlierShare*float64(len(pts)))))
	if best < minSupport {
		return Ground{}, fmt.Errorf("%w: best plane has %d inliers of %d background points, need %d", ErrNoGround, best, len(pts), minSupport)
	}
	// Least-squares refit, twice: the refit plane may gain or lose inliers.
	n, d := bestN, bestD
	var inl []vec
	for range 2 {
		inl = inl[:0]
		for _, s := range pts {
			if math.Abs(n.dot(s.p)+d) <= o.InlierDistance && math.Abs(n.dot(s.n)) >= cosAgree {
				inl = append(inl, s.p)
			}
		}
		if len(inl) < 3 {
			break
		}
		n2, d2 := planeLSQ(inl)
		if n2.dot(n) < 0 {
			n2, d2 = n2.scale(-1), -d2
		}
		n, d = n2, d2
	}
	if d <= 0 {
		return Ground{}, fmt.Errorf("%w: the best plane passes above the camera", ErrNoGround)
	}
	var ss float64
	for _, p := range inl {
		r := n.dot(p) + d
		ss += r * r
	}
	g := Ground{Normal: [3]float64(n), D: d, Height: d, Inliers: len(inl), Sampled: len(pts), Frames: len(maps)}
	if len(inl) > 0 {
		g.RMS = math.Sqrt(ss / float64(len(inl)))
	}
	g.PitchDeg = math.Asin(clamp(-n[2])) * 180 / math.Pi
	g.RollDeg = math.Atan2(n[0], -n[1]) * 180 / math.Pi
	return g, nil
}

func countInliers(pts []sample, n vec, d, dist, cosAgree float64) int {
	k := 0
	for _, s := range pts {
		if math.Abs(n.dot(s.p)+d) <= dist && math.Abs(n.dot(s.n)) >= cosAgree {
			k++
		}
	}
	return k
}

// appendSamples takes every stride-th background pixel whose right and lower
// neighbours (stride away) are usable, with the normal of that local triangle.
func appendSamples(dst []sample, m PointMap, stride int) []sample {
	W, H := m.Width, m.Height
	for y := 0; y+stride < H; y += stride {
		for x := 0; x+stride < W; x += stride {
			i, r, b := y*W+x, y*W+x+stride, (y+stride)*W+x
			if !m.usable(i) || !m.usable(r) || !m.usable(b) {
				continue
			}
			p := m.at(i)
			n := m.at(r).sub(p).cross(m.at(b).sub(p))
			l := n.norm()
			if l == 0 {
				continue
			}
			dst = append(dst, sample{p: p, n: n.scale(1 / l)})
		}
	}
	return dst
}

// planeLSQ fits n·p + d = 0 to points: n is the covariance's eigenvector of
// smallest eigenvalue.
func planeLSQ(p []vec) (vec, float64) {
	var c vec
	for _, q := range p {
		c = c.add(q)
	}
	c = c.scale(1 / float64(len(p)))
	var a [3][3]float64
	for _, q := range p {
		r := q.sub(c)
		for i := range 3 {
			for j := range 3 {
				a[i][j] += r[i] * r[j]
			}
		}
	}
	n := smallestEigenvector(a)
	return n, -n.dot(c)
}

// smallestEigenvector of a symmetric 3×3 matrix by cyclic Jacobi rotations.
func smallestEigenvector(a [3][3]float64) vec {
	v := [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for sweep := 0; sweep < 50; sweep++ {
		off := a[0][1]*a[0][1] + a[0][2]*a[0][2] + a[1][2]*a[1][2]
		if off < 1e-30 {
			break
		}
		for p := 0; p < 2; p++ {
			for q := p + 1; q < 3; q++ {
				if a[p][q] == 0 {
					continue
				}
				theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range 3 { // A ← A·J
					akp, akq := a[k][p], a[k][q]
					a[k][p], a[k][q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := range 3 { // A ← Jᵀ·A
					apk, aqk := a[p][k], a[q][k]
					a[p][k], a[q][k] = c*apk-s*aqk, s*apk+c*aqk
				}
				for k := range 3 {
					vkp, vkq := v[k][p], v[k][q]
					v[k][p], v[k][q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	m := 0
	for i := 1; i < 3; i++ {
		if a[i][i] < a[m][m] {
			m = i
		}
	}
	return vec{v[0][m], v[1][m], v[2][m]}.unit()
}

func clamp(x float64) float64 { return math.Max(-1, math.Min(1, x)) }
