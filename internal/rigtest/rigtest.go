// Package rigtest gives the tests of the animation writers (rig, gltf,
// bvh) the tiny MHR character and made-up tracks of it.
package rigtest

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

// Model loads the tiny MHR character (testdata/mhr/tiny: 16 joints, 300
// vertices, with pose correctives).
func Model(tb testing.TB) *mhr.Model {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	m, err := mhr.Load(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "mhr", "tiny"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Track is a person moving smoothly for n frames from start: a locked
// identity and skeleton scale, every pose angle a slow sine, a camera
// translation drifting a few centimetres a frame, and absent on the
// frames in gap (indices into the track).
func Track(id scene.PersonID, start, n int, seed uint64, gap ...int) scene.Track {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	tr := scene.Track{ID: id, Start: start, Params: make([]scene.Params, n), Present: make([]bool, n), Visible: make([]bool, n)}
	var shape [45]float32
	for i := range shape {
		shape[i] = float32(rng.NormFloat64() * 0.8)
	}
	var amp, phase, rate, scale [204]float64
	for i := range amp {
		amp[i] = rng.NormFloat64() * 0.4
		phase[i] = rng.Float64() * 2 * math.Pi
		rate[i] = 0.05 + 0.2*rng.Float64()
		scale[i] = rng.NormFloat64() * 0.1
	}
	for k := range n {
		p := &tr.Params[k]
		p.Shape = shape
		for i := 3; i < 204; i++ {
			if i >= 136 {
				p.Model[i] = float32(scale[i])
				continue
			}
			p.Model[i] = float32(amp[i] * math.Sin(phase[i]+rate[i]*float64(k)))
		}
		p.CamT = [3]float64{0.4*float64(id) - 0.6 + 0.01*float64(k), 0.2, 4 + 0.5*float64(id) - 0.02*float64(k)}
		p.Focal = 700
		tr.Present[k], tr.Visible[k] = true, true
	}
	for _, k := range gap {
		tr.Present[k], tr.Visible[k] = false, false
	}
	return tr
}

// Assets reads the tiny character's arrays, for tests that change them.
func Assets(tb testing.TB) *mhr.Assets {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	a, err := mhr.ReadAssets(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "mhr", "tiny"))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
