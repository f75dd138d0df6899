package smooth

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

// noisyTrack returns a person standing still (pose p, yaw yaw) observed
// with Gaussian noise sigma on every parameter.
func noisyTrack(seed uint64, n int, sigma, yaw float64) (*scene.Track, []scene.Params) {
	rng := rand.New(rand.NewPCG(seed, 1))
	tr := &scene.Track{ID: 3, Params: make([]scene.Params, n), Present: make([]bool, n), Visible: make([]bool, n)}
	truth := make([]scene.Params, n)
	var base scene.Params
	for i := range base.Model {
		base.Model[i] = float32(0.3 * math.Sin(float64(i)))
	}
	base.Model[rotOff] = float32(yaw)
	base.CamT = [3]float64{0.1, -0.2, 3}
	for i := range base.Shape {
		base.Shape[i] = float32(0.1 * math.Cos(float64(i)))
	}
	for t := range n {
		truth[t] = base
		p := base
		for i := range p.Model {
			p.Model[i] += float32(sigma * rng.NormFloat64())
		}
		for i := range p.Shape {
			p.Shape[i] += float32(sigma * rng.NormFloat64())
		}
		for i := range p.CamT {
			p.CamT[i] += sigma * rng.NormFloat64()
		}
		p.Model[rotOff] = float32(math.Remainder(float64(p.Model[rotOff]), 2*math.Pi))
		tr.Params[t] = p
		tr.Present[t], tr.Visible[t] = true, true
	}
	return tr, truth
}

// rotAngle is the angle of the rotation between two frames' global rotations.
func rotAngle(a, b *scene.Params) float64 {
	qa := eulerToQuat(float64(a.Model[3]), float64(a.Model[4]), float64(a.Model[5]))
	qb := eulerToQuat(float64(b.Model[3]), float64(b.Model[4]), float64(b.Model[5]))
	return 2 * math.Acos(math.Min(1, math.Abs(qa.dot(qb))))
}

func poseRMS(tr *scene.Track, truth []scene.Params) float64 {
	var ss float64
	var n int
	for t := range tr.Params {
		for i := poseOff; i < poseOff+poseLen; i++ {
			d := float64(tr.Params[t].Model[i] - truth[t].Model[i])
			ss += d * d
			n++
		}
	}
	return math.Sqrt(ss / float64(n))
}

func TestValidateBadInput(t *testing.T) {
	mk := func() *scene.Track {
		tr, _ := noisyTrack(1, 6, 0.01, 0)
		tr.Start = 100
		return tr
	}
	for _, c := range []struct {
		name string
		edit func(*scene.Track)
		want string
	}{
		{"nan model", func(tr *scene.Track) { tr.Params[2].Model[40] = float32(math.NaN()) }, "person 3, frame 102: Model[40]"},
		{"inf shape", func(tr *scene.Track) { tr.Params[5].Shape[1] = float32(math.Inf(1)) }, "person 3, frame 105: Shape[1]"},
		{"nan camt", func(tr *scene.Track) { tr.Params[0].CamT[2] = math.NaN() }, "person 3, frame 100: CamT[2]"},
		{"nan focal", func(tr *scene.Track) { tr.Params[1].Focal = math.NaN() }, "frame 101: Focal"},
		{"short present", func(tr *scene.Track) { tr.Present = tr.Present[:4] }, "6 frames of params, 4 present flags"},
		{"long visible", func(tr *scene.Track) { tr.Visible = append(tr.Visible, true) }, "7 visible flags"},
	} {
		tr := mk()
		c.edit(tr)
		err := Options{Mode: Kalman}.Smooth(tr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// NaN on an absent frame is never read, so it is no error.
	tr := mk()
	tr.Present[2] = false
	tr.Params[2].Model[0] = float32(math.NaN())
	if err := (Options{Mode: Kalman}).Smooth(tr); err != nil {
		t.Errorf("NaN on absent frame: %v", err)
	}
	if v := tr.Params[2].Model[0]; !math.IsNaN(float64(v)) {
		t.Errorf("absent frame was written: %v", v)
	}
}

func TestBadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"mode", Options{Mode: 9}, "unknown mode"},
		{"chunk", Options{Chunk: -1}, "Chunk"},
		{"bridge", Options{Bridge: -2}, "Bridge"},
		{"shape", Options{Shape: 5}, "shape lock"},
		{"kalman r", Options{Mode: Kalman, Kalman: KalmanParams{QPos: 1e-4}}, "R must be > 0"},
		{"kalman nan", Options{Mode: Kalman, Kalman: KalmanParams{QPos: math.NaN(), R: 1}}, "QPos"},
		{"one-euro rate", Options{Mode: OneEuro, OneEuro: OneEuroParams{MinCutoff: 1, DCutoff: 1}}, "One-Euro"},
	} {
		tr, _ := noisyTrack(2, 5, 0.01, 0)
		err := c.o.Smooth(tr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestSeriesBadInput(t *testing.T) {
	ragged := [][]float64{{1, 2}, {3}}
	if err := KalmanRTS(ragged, nil, DefaultKalman()); err == nil || !strings.Contains(err.Error(), "frame 1 has 1 values") {
		t.Errorf("KalmanRTS ragged: %v", err)
	}
	if err := OneEuroFilter([][]float64{{1}, {2}}, []bool{true}, DefaultOneEuro()); err == nil {
		t.Error("OneEuroFilter: mismatched flags accepted")
	}
	if err := KalmanRTS([][]float64{{1}, {2}}, []bool{false, false}, DefaultKalman()); err == nil {
		t.Error("KalmanRTS: no observation accepted")
	}
	if err := ReferenceSegments([][]float64{{1}, {2}}, []bool{true}, nil, ReferencePose()); err == nil {
		t.Error("ReferenceSegments: mismatched flags accepted")
	}
}

func TestModesReduceNoise(t *testing.T) {
	for _, o := range []Options{{Mode: Reference}, {Mode: Kalman}, {Mode: OneEuro}, ReferenceOptions()} {
		tr, truth := noisyTrack(3, 120, 0.004, 0.5)
		before := poseRMS(tr, truth)
		if err := o.Smooth(tr); err != nil {
			t.Fatal(err)
		}
		after := poseRMS(tr, truth)
		t.Logf("%v: pose RMS error %.4g → %.4g", o.Mode, before, after)
		if !(after < 0.7*before) {
			t.Errorf("%v: pose RMS error %.4g → %.4g, want a clear reduction", o.Mode, before, after)
		}
	}
}

// A yaw of π observed with noise flips between +π and −π in the stored
// angles; averaging those numbers turns the person around.
func TestRotationWrap(t *testing.T) {
	for _, c := range []struct {
		o       Options
		wantBad bool // raw Euler smoothing is expected to fail
	}{
		{Options{Mode: Kalman}, false},
		{Options{Mode: OneEuro}, false},
		{Options{Mode: Reference}, false},
		{Options{Mode: Kalman, EulerRaw: true}, true},
	} {
		tr, truth := noisyTrack(4, 80, 0.01, math.Pi)
		if err := c.o.Smooth(tr); err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i := range tr.Params {
			worst = math.Max(worst, rotAngle(&tr.Params[i], &truth[i]))
		}
		t.Logf("%v raw=%v: worst rotation error %.3g rad", c.o.Mode, c.o.EulerRaw, worst)
		if bad := worst > 0.5; bad != c.wantBad {
			t.Errorf("%v raw=%v: worst rotation error %.3g rad", c.o.Mode, c.o.EulerRaw, worst)
		}
	}
}

func TestQuatRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for range 1000 {
		a, b, c := (2*rng.Float64()-1)*math.Pi, (2*rng.Float64()-1)*1.5, (2*rng.Float64()-1)*math.Pi
		x, y, z := quatToEuler(eulerToQuat(a, b, c))
		if math.Abs(x-a)+math.Abs(y-b)+math.Abs(z-c) > 1e-9 {
			t.Fatalf("(%g,%g,%g) → (%g,%g,%g)", a, b, c, x, y, z)
		}
	}
}

// With Chunk 64 frame 64 forgets everything before it, as the reference's
// 64-frame batches do; with Chunk 0 it does not.
func TestChunkBoundary(t *testing.T) {
	for _, mode := range []Mode{Reference, Kalman, OneEuro} {
		for _, chunk := range []int{0, 64} {
			a, _ := noisyTrack(6, 150, 0.004, 0.2)
			b, _ := noisyTrack(6, 150, 0.004, 0.2)
			for i := poseOff; i < poseOff+poseLen; i++ {
				b.Params[60].Model[i] += 0.01
			}
			o := Options{Mode: mode, Chunk: chunk}
			if err := o.Smooth(a); err != nil {
				t.Fatal(err)
			}
			if err := o.Smooth(b); err != nil {
				t.Fatal(err)
			}
			changed := a.Params[70].Model[poseOff+1] != b.Params[70].Model[poseOff+1]
			if changed != (chunk == 0) {
				t.Errorf("%v chunk %d: frame 70 changed by frame 60: %v", mode, chunk, changed)
			}
		}
	}
}

func TestCamT(t *testing.T) {
	for _, mode := range []Mode{Reference, Kalman, OneEuro} {
		for _, on := range []bool{false, true} {
			tr, truth := noisyTrack(7, 100, 0.004, 0)
			raw := append([]scene.Params(nil), tr.Params...)
			if err := (Options{Mode: mode, CamT: on}).Smooth(tr); err != nil {
				t.Fatal(err)
			}
			var errRaw, errOut float64
			same := true
			for i := range tr.Params {
				for k := range 3 {
					errRaw += math.Abs(raw[i].CamT[k] - truth[i].CamT[k])
					errOut += math.Abs(tr.Params[i].CamT[k] - truth[i].CamT[k])
					same = same && raw[i].CamT[k] == tr.Params[i].CamT[k]
				}
			}
			if on && !(errOut < 0.7*errRaw) {
				t.Errorf("%v CamT on: error %.4g → %.4g", mode, errRaw, errOut)
			}
			if !on && !same {
				t.Errorf("%v CamT off: camera translation changed", mode)
			}
		}
	}
}

func TestShapeLock(t *testing.T) {
	tr, truth := noisyTrack(8, 21, 0.01, 0)
	tr.Params[0].Shape[4] += 2 // an outlier on frame 0
	tr.Params[0].Model[scaleOff+2] += 2
	tr.Visible[5] = false
	tr.Params[5].Shape[4] += 5
	for _, c := range []struct {
		lock ShapeLock
		want func(i int) float32
	}{
		{ShapeFirst, func(i int) float32 { return tr.Params[0].Shape[i] }},
		{ShapeMedian, nil},
		{ShapeFree, nil},
	} {
		cp := &scene.Track{ID: tr.ID, Params: append([]scene.Params(nil), tr.Params...),
			Present: append([]bool(nil), tr.Present...), Visible: append([]bool(nil), tr.Visible...)}
		if err := (Options{Mode: Kalman, Shape: c.lock}).Smooth(cp); err != nil {
			t.Fatal(err)
		}
		switch c.lock {
		case ShapeFree:
			if cp.Params[3].Shape != tr.Params[3].Shape {
				t.Error("ShapeFree changed the shape")
			}
			continue
		case ShapeFirst:
			if cp.Params[9].Shape[4] != tr.Params[0].Shape[4] || cp.Params[9].Model[scaleOff+2] != tr.Params[0].Model[scaleOff+2] {
				t.Error("ShapeFirst: not frame 0's values")
			}
		case ShapeMedian:
			var col []float64
			for f := range tr.Params {
				if f != 5 {
					col = append(col, float64(tr.Params[f].Shape[4]))
				}
			}
			if got, want := cp.Params[9].Shape[4], float32(median(col)); got != want {
				t.Errorf("ShapeMedian: Shape[4] %g, want %g", got, want)
			}
			if d := math.Abs(float64(cp.Params[9].Model[scaleOff+2] - truth[0].Model[scaleOff+2])); d > 0.02 {
				t.Errorf("ShapeMedian: scale off truth by %g", d)
			}
		}
		for f := range cp.Params {
			if cp.Params[f].Shape != cp.Params[0].Shape {
				t.Errorf("lock %d: frame %d shape differs from frame 0", c.lock, f)
				break
			}
		}
	}
}

func TestBridge(t *testing.T) {
	for _, mode := range []Mode{Reference, Kalman, OneEuro} {
		tr, _ := noisyTrack(9, 60, 0.002, 0)
		short, long := []int{10, 11, 12}, []int{30, 31, 32, 33, 34, 35, 36, 37}
		for _, f := range append(append([]int(nil), short...), long...) {
			tr.Present[f], tr.Visible[f] = false, false
			tr.Params[f] = scene.Params{} // absent frames hold nothing useful
			tr.Params[f].Model[7] = 42
		}
		if err := (Options{Mode: mode, Bridge: 5}).Smooth(tr); err != nil {
			t.Fatal(err)
		}
		for _, f := range short {
			p := tr.Params[f]
			if !tr.Present[f] || tr.Visible[f] {
				t.Errorf("%v: frame %d not bridged (present %v visible %v)", mode, f, tr.Present[f], tr.Visible[f])
			}
			if d := math.Abs(float64(p.Model[7] - tr.Params[9].Model[7])); d > 0.05 {
				t.Errorf("%v: bridged frame %d Model[7] = %g, neighbour %g", mode, f, p.Model[7], tr.Params[9].Model[7])
			}
			if p.CamT[2] < 2.9 {
				t.Errorf("%v: bridged frame %d CamT %v", mode, f, p.CamT)
			}
		}
		for _, f := range long {
			if tr.Present[f] || tr.Params[f].Model[7] != 42 {
				t.Errorf("%v: frame %d of a long gap was touched", mode, f)
			}
		}
	}
}

func TestTracksMatchesSmooth(t *testing.T) {
	var trs, want []*scene.Track
	for i := range 4 {
		a, _ := noisyTrack(uint64(10+i), 50, 0.01, 1)
		b, _ := noisyTrack(uint64(10+i), 50, 0.01, 1)
		trs, want = append(trs, a), append(want, b)
	}
	o := Options{Mode: Kalman, CamT: true}
	if err := o.Tracks(trs); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if err := o.Smooth(w); err != nil {
			t.Fatal(err)
		}
		for f := range w.Params {
			if w.Params[f] != trs[i].Params[f] {
				t.Fatalf("track %d frame %d differs", i, f)
			}
		}
	}
	trs[2].Params[3].CamT[0] = math.NaN()
	if err := o.Tracks(trs); err == nil || !strings.Contains(err.Error(), "frame 3: CamT[0]") {
		t.Errorf("Tracks with NaN: %v", err)
	}
}

// An occluded stretch in Kalman mode is estimated from the visible frames
// around it rather than from its own (wrong) values.
func TestKalmanOccludedFramesIgnored(t *testing.T) {
	tr, truth := noisyTrack(12, 60, 0.002, 0)
	for f := 25; f < 32; f++ {
		tr.Visible[f] = false
		tr.Params[f].Model[poseOff+3] += 1
	}
	if err := (Options{Mode: Kalman}).Smooth(tr); err != nil {
		t.Fatal(err)
	}
	for f := 25; f < 32; f++ {
		if d := math.Abs(float64(tr.Params[f].Model[poseOff+3] - truth[f].Model[poseOff+3])); d > 0.02 {
			t.Errorf("frame %d: occluded value off truth by %g", f, d)
		}
	}
}
