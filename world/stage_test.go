package world

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/scene"
)

type clip struct{ n int }

func (c clip) Info() scene.VideoInfo { return scene.VideoInfo{Width: 32, Height: 24, Frames: c.n} }
func (c clip) Frame(int) (*scene.RGB, error) {
	return scene.NewRGB(image.Rect(0, 0, 32, 24)), nil
}

// synthGeometer renders a synthetic camera; move shifts it per call.
type synthGeometer struct {
	c         synthCam
	move      float64
	planeless bool
	calls     int
	rng       *rand.Rand
}

func (g *synthGeometer) Geometry(context.Context, *scene.RGB) (fov.Geometry, error) {
	c := g.c
	// A plane's point map does not change when the camera slides or pans
	// along it, so the moving camera here tilts and rises (see CheckStatic).
	c.pitch += 10 * g.move * float64(g.calls)
	c.height += g.move * float64(g.calls)
	g.calls++
	m := c.render(g.rng, g.planeless)
	return fov.Geometry{Width: m.Width, Height: m.Height, Points: m.Points, Valid: m.Valid}, nil
}

func stageTracks(c synthCam) []body4d.Track {
	var tr body4d.Track
	tr.ID, tr.Start = 1, 2
	for f := range 10 {
		var p scene.Params
		p.CamT = [3]float64(c.toCam(vec{0.1 * float64(f), 0.9, -4}))
		tr.Params = append(tr.Params, p)
		tr.Present = append(tr.Present, true)
	}
	return []body4d.Track{tr}
}

func TestStage(t *testing.T) {
	c := synthCam{height: 1.7, pitch: 22, roll: 5, w: 96, h: 72, focal: 80, noise: 0.005}
	res := &body4d.Result{Tracks: stageTracks(c)}
	feetBelow := func(p scene.Params) ([]float32, error) {
		// Two foot points 0.92 m below the root: 2 cm under the ground.
		a := vec(p.CamT).add(c.up().scale(-0.92))
		return []float32{float32(a[0]), float32(a[1]), float32(a[2])}, nil
	}
	s := &Stage{Geometry: &synthGeometer{c: c, rng: rand.New(rand.NewPCG(1, 1))}, Feet: feetBelow}
	w, err := s.World(context.Background(), clip{12}, res)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(w.CameraHeight-1.7)/1.7 > 0.02 {
		t.Errorf("camera height %.3f, want 1.7 within 2%%", w.CameraHeight)
	}
	// The first root lands at (0, 0.9, 0).
	r := res.Tracks[0].Params[0].CamT
	var got [3]float64
	for i := range 3 {
		got[i] = w.ToWorld[i][0]*r[0] + w.ToWorld[i][1]*r[1] + w.ToWorld[i][2]*r[2] + w.ToWorld[i][3]
	}
	if math.Abs(got[0]) > 1e-9 || math.Abs(got[2]) > 1e-9 || math.Abs(got[1]-0.9) > 0.02 {
		t.Errorf("first root in world %v, want (0, 0.9, 0)", got)
	}
	if len(w.FootLift) != 1 {
		t.Fatalf("foot lift for %d tracks", len(w.FootLift))
	}
	for f, l := range w.FootLift[0] {
		if l < 0.02-0.02 || l > 0.05 {
			t.Errorf("frame %d: foot lift %.3f m, want about 0.02", f, l)
		}
	}

	s = &Stage{Geometry: &synthGeometer{c: c, move: 0.3, rng: rand.New(rand.NewPCG(2, 2))}}
	if _, err := s.World(context.Background(), clip{12}, res); err == nil || !strings.Contains(err.Error(), "camera moves") {
		t.Errorf("moving camera: %v", err)
	}
	s = &Stage{Geometry: &synthGeometer{c: c, planeless: true, rng: rand.New(rand.NewPCG(3, 3))}, StaticTolerance: 10}
	if _, err := s.World(context.Background(), clip{12}, res); !errors.Is(err, ErrNoGround) {
		t.Errorf("plane-less: %v", err)
	}
}

// TestStageErrorPrefix runs the stage in a pipeline: its errors carry the
// pipeline's "body4d: world:" prefix once, not a second "world:".
func TestStageErrorPrefix(t *testing.T) {
	c := synthCam{height: 1.7, pitch: 22, w: 96, h: 72, focal: 80}
	res := &body4d.Result{Tracks: stageTracks(c)}
	s := &Stage{Geometry: &synthGeometer{c: c, planeless: true, rng: rand.New(rand.NewPCG(3, 3))}, StaticTolerance: 10}
	_, err := s.World(context.Background(), clip{12}, res)
	if !errors.Is(err, ErrNoGround) {
		t.Fatalf("plane-less: %v", err)
	}
	wrapped := fmt.Errorf("body4d: world: %w", err) // as Pipeline.Run's stage wraps it
	if msg := wrapped.Error(); strings.Count(msg, "world:") != 1 || !strings.HasPrefix(msg, "body4d: world: no ground plane found") {
		t.Errorf("error %q: want one \"world:\" prefix", msg)
	}
}
