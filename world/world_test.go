package world

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func angleDeg(a, b vec) float64 { return math.Acos(clamp(a.unit().dot(b.unit()))) * 180 / math.Pi }

// TestGroundSweep: gravity within 1° and camera height within 2% over camera
// heights 0.5–3 m, pitch 0–40°, roll −10..10° and depth noise up to 1%.
func TestGroundSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var worstG, worstH float64
	for _, h := range []float64{0.5, 1.2, 3} {
		for _, pitch := range []float64{0, 15, 40} {
			for _, roll := range []float64{-10, 0, 10} {
				for _, noise := range []float64{0.002, 0.01} {
					c := synthCam{height: h, pitch: pitch, roll: roll, w: 96, h: 72, focal: 80, noise: noise}
					maps := []PointMap{c.render(rng, false), c.render(rng, false), c.render(rng, false)}
					g, err := FitGround(maps, Options{Stride: 2})
					name := fmt.Sprintf("h=%.1f pitch=%.0f roll=%.0f noise=%.3f", h, pitch, roll, noise)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					ge := angleDeg(vec(g.Normal), c.up())
					he := math.Abs(g.Height-h) / h
					worstG, worstH = math.Max(worstG, ge), math.Max(worstH, he)
					if ge > 1 || he > 0.02 {
						t.Errorf("%s: gravity off by %.3f° (bound 1°), height %.3f m off by %.2f%% (bound 2%%)", name, ge, g.Height, 100*he)
					}
					if math.Abs(g.PitchDeg-pitch) > 1 || math.Abs(g.RollDeg-roll) > 1 {
						t.Errorf("%s: pitch %.2f° roll %.2f°", name, g.PitchDeg, g.RollDeg)
					}
				}
			}
		}
	}
	t.Logf("worst gravity error %.3f°, worst height error %.3f%%", worstG, 100*worstH)
}

func TestNoGround(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := synthCam{height: 1.5, pitch: 20, w: 96, h: 72, focal: 80, noise: 0.005}
	_, err := FitGround([]PointMap{c.render(rng, true), c.render(rng, true)}, Options{Stride: 2})
	if !errors.Is(err, ErrNoGround) {
		t.Fatalf("plane-less scene: got %v, want ErrNoGround", err)
	}
	// Everything masked as people: nothing to fit.
	m := c.render(rng, false)
	m.People = make([]bool, m.Width*m.Height)
	for i := range m.People {
		m.People[i] = true
	}
	if _, err := FitGround([]PointMap{m}, Options{}); !errors.Is(err, ErrNoGround) {
		t.Fatalf("all masked: got %v, want ErrNoGround", err)
	}
	// A plane seen from below (the camera under it) is no ground either.
	c.pitch = -20
	_, err = FitGround([]PointMap{flipY(c.render(rng, false))}, Options{Stride: 2})
	if !errors.Is(err, ErrNoGround) {
		t.Fatalf("ceiling: got %v, want ErrNoGround", err)
	}
}

// flipY mirrors a point map vertically in camera space: a floor becomes a ceiling.
func flipY(m PointMap) PointMap {
	for i := 1; i < len(m.Points); i += 3 {
		m.Points[i] = -m.Points[i]
	}
	return m
}

func TestBadInput(t *testing.T) {
	_, err := FitGround([]PointMap{{Width: 4, Height: 4, Points: make([]float32, 5)}}, Options{})
	if err == nil || errors.Is(err, ErrNoGround) {
		t.Fatalf("short point map: %v", err)
	}
	if _, err := FitGround(nil, Options{}); err == nil {
		t.Fatal("no maps accepted")
	}
}

func TestStaticCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := synthCam{height: 1.6, pitch: 25, roll: 3, w: 96, h: 72, focal: 80, noise: 0.01}
	var still, moving []PointMap
	for f := range 6 {
		still = append(still, c.render(rng, false))
		m := c
		m.pos = vec{0.15 * float64(f), 0, -0.1 * float64(f)} // a slow dolly
		m.pitch += float64(f)
		moving = append(moving, m.render(rng, false))
	}
	s, err := CheckStatic(still, 0.05)
	if err != nil || !s.Static {
		t.Fatalf("static clip refused: %+v %v", s, err)
	}
	s, err = CheckStatic(moving, 0.05)
	if err != nil || s.Static {
		t.Fatalf("moving clip accepted: %+v %v", s, err)
	}
	t.Logf("moving clip: worst median move %.3f at frame %d", s.WorstMove, s.WorstAt)
}

// TestFrameAxes: a level camera's world frame is its own x, up and backwards.
func TestFrameAxes(t *testing.T) {
	g := Ground{Normal: [3]float64{0, -1, 0}, D: 2, Height: 2}
	f, err := NewFrame(g, [3]float64{1, 1, 5})
	if err != nil {
		t.Fatal(err)
	}
	w := f.Point([3]float64{1, 1, 5})
	if math.Abs(w[0]) > 1e-12 || math.Abs(w[1]-1) > 1e-12 || math.Abs(w[2]) > 1e-12 {
		t.Fatalf("first root at %v, want (0, 1, 0)", w)
	}
	if w := f.Point([3]float64{2, 2, 4}); math.Abs(w[0]-1) > 1e-12 || math.Abs(w[1]) > 1e-12 || math.Abs(w[2]-1) > 1e-12 {
		t.Fatalf("ground point at %v, want (1, 0, 1)", w)
	}
}

func TestFootContactNeverBelow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	low := make([]float64, 200)
	for i := range low {
		low[i] = 0.02*rng.NormFloat64() + 0.01*math.Sin(float64(i)/5)
	}
	low[50] = math.NaN()
	low[120] = -0.2 // a spike
	c := FootContact(low, 4)
	var jump float64
	for i := range low {
		if !math.IsNaN(low[i]) && low[i]+c[i] < -1e-12 {
			t.Fatalf("frame %d: foot at %.4f after correction %.4f", i, low[i]+c[i], c[i])
		}
		if c[i] < 0 {
			t.Fatalf("frame %d: downward correction %.4f", i, c[i])
		}
		if i > 0 {
			jump = math.Max(jump, math.Abs(c[i]-c[i-1]))
		}
	}
	// The spike's 0.2 m is ramped in over the window, not stepped.
	if jump > 0.2/9+1e-9 {
		t.Fatalf("correction jumps %.4f m between frames", jump)
	}
}

// TestWalker: a person walks on the ground in front of a static camera; the
// observed root and feet (camera frame) are put into the world
// frame fitted from the background. Noise: σ = 5 mm per axis per point, i.i.d.
// per frame (about what the smoothing stage leaves; the first root, which
// places the origin, is as noisy as the rest). Root RMS against the true world
// trajectory ≤ 3 cm and, after foot contact, no foot below the ground.
func TestWalker(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	c := synthCam{height: 1.4, pitch: 18, roll: -4, w: 128, h: 96, focal: 110, noise: 0.005}
	const frames, hip = 90, 0.9
	var maps []PointMap
	for range 5 {
		maps = append(maps, c.render(rng, false))
	}
	g, err := FitGround(maps, Options{Stride: 2})
	if err != nil {
		t.Fatal(err)
	}
	truthG := Ground{Normal: [3]float64(c.up()), D: c.height}
	var rootsCam, trueRootsCam []vec
	var feetCam [][2]vec
	for f := range frames {
		s := float64(f) / 30
		root := vec{-1 + 0.9*s, hip + 0.02*math.Sin(2*math.Pi*2*s), -4 - 0.3*s}
		phase := math.Sin(2 * math.Pi * 1 * s)
		lf := vec{root[0] - 0.1, 0.05 * math.Max(0, phase), root[2] + 0.25*phase}
		rf := vec{root[0] + 0.1, 0.05 * math.Max(0, -phase), root[2] - 0.25*phase}
		noisy := func(p vec) vec {
			q := c.toCam(p)
			return q.add(vec{0.005 * rng.NormFloat64(), 0.005 * rng.NormFloat64(), 0.005 * rng.NormFloat64()})
		}
		trueRootsCam = append(trueRootsCam, c.toCam(root))
		rootsCam = append(rootsCam, noisy(root))
		feetCam = append(feetCam, [2]vec{noisy(lf), noisy(rf)})
	}
	est, err := NewFrame(g, rootsCam[0])
	if err != nil {
		t.Fatal(err)
	}
	truth, err := NewFrame(truthG, trueRootsCam[0])
	if err != nil {
		t.Fatal(err)
	}
	low := make([]float64, frames)
	for f := range frames {
		low[f] = math.Min(est.Point(feetCam[f][0])[1], est.Point(feetCam[f][1])[1])
	}
	corr := FootContact(low, 3)
	var ss, ssRaw float64
	for f := range frames {
		w := est.Point(rootsCam[f])
		dr := vec(w).sub(vec(truth.Point(trueRootsCam[f])))
		ssRaw += dr.dot(dr)
		w[1] += corr[f]
		d := vec(w).sub(vec(truth.Point(trueRootsCam[f])))
		ss += d.dot(d)
		if low[f]+corr[f] < -1e-12 {
			t.Fatalf("frame %d: foot %.4f m below the ground", f, -(low[f] + corr[f]))
		}
	}
	rms := math.Sqrt(ss / frames)
	t.Logf("walker root RMS %.2f cm with foot contact, %.2f cm without", 100*rms, 100*math.Sqrt(ssRaw/frames))
	if rms > 0.03 {
		t.Fatalf("walker root RMS %.2f cm, bound 3 cm", 100*rms)
	}
}

// BenchmarkFitGround: one 512×384 point map per op with default options
// (ns/op is the per-frame cost when FitGround is given N frames, up to the
// RANSAC's linear growth in samples).
func BenchmarkFitGround(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	c := synthCam{height: 1.5, pitch: 20, roll: 3, w: 512, h: 384, focal: 420, noise: 0.005}
	m := []PointMap{c.render(rng, false)}
	for b.Loop() {
		if _, err := FitGround(m, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
