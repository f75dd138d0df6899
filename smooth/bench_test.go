package smooth

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/body4d/body4d/scene"
)

// The benchmark workload of tools/golden/smooth/bench.sh: 5 people ×
// 1,000 frames × 204 parameters, each parameter an independent
// constant-velocity Kalman filter + RTS pass.
const benchPeople, benchFrames, benchDims = 5, 1000, 204

func benchSeries() [][][]float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][][]float64, benchPeople)
	for p := range out {
		out[p] = make([][]float64, benchFrames)
		for t := range out[p] {
			out[p][t] = make([]float64, benchDims)
			for d := range out[p][t] {
				out[p][t][d] = rng.NormFloat64()
			}
		}
	}
	return out
}

func copySeries(dst, src [][][]float64) {
	for p := range src {
		for t := range src[p] {
			copy(dst[p][t], src[p][t])
		}
	}
}

// BenchmarkKalman5x1000x204 is the series-level filter, people in parallel.
func BenchmarkKalman5x1000x204(b *testing.B) {
	src := benchSeries()
	work := benchSeries()
	for b.Loop() {
		b.StopTimer()
		copySeries(work, src)
		b.StartTimer()
		var wg sync.WaitGroup
		for p := range work {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := KalmanRTS(work[p], nil, DefaultKalman()); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}

// BenchmarkKalmanTracks5x1000 smooths five scene.Tracks end to end
// (validation, quaternion rotation, shape lock).
func BenchmarkKalmanTracks5x1000(b *testing.B) {
	src := benchSeries()
	mk := func() []*scene.Track {
		trs := make([]*scene.Track, benchPeople)
		for p := range trs {
			tr := &scene.Track{ID: scene.PersonID(p + 1), Params: make([]scene.Params, benchFrames),
				Present: make([]bool, benchFrames), Visible: make([]bool, benchFrames)}
			for t := range tr.Params {
				for d := range benchDims {
					tr.Params[t].Model[d] = float32(src[p][t][d])
				}
				tr.Present[t], tr.Visible[t] = true, true
			}
			trs[p] = tr
		}
		return trs
	}
	o := Options{Mode: Kalman}
	for b.Loop() {
		b.StopTimer()
		trs := mk()
		b.StartTimer()
		if err := o.Tracks(trs); err != nil {
			b.Fatal(err)
		}
	}
}
