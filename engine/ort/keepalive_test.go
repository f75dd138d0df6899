package ort

import (
	"context"
	"math"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/body4d/body4d/engine"
)

// TestConcurrentRunsKeepInputsAlive runs one engine from several
// goroutines while the collector runs constantly. ONNX Runtime reads the
// inputs from Go memory during a run (the rank-0 num_tokens among them);
// if that memory were collectable during the call it would be reused and
// the outputs would change from run to run.
func TestConcurrentRunsKeepInputsAlive(t *testing.T) {
	rt := openTestRuntime(t, Options{IntraOpThreads: 1})
	eng, err := rt.Load(filepath.Join(tinyDir, "fov_moge.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	run := func() (float32, error) {
		img, err := engine.New(engine.Float32, []int64{1, 3, 28, 42})
		if err != nil {
			return 0, err
		}
		for i := range img.Float32() {
			img.Float32()[i] = float32(i%7) / 7
		}
		nt, err := engine.New(engine.Int64, []int64{})
		if err != nil {
			return 0, err
		}
		nt.Int64()[0] = 1200
		out, err := eng.Run(context.Background(), map[string]*engine.Tensor{"image": img, "num_tokens": nt})
		if err != nil {
			return 0, err
		}
		return out["metric_scale"].Float32()[0], nil
	}
	want, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if math.IsInf(float64(want), 0) || math.IsNaN(float64(want)) {
		t.Fatalf("metric_scale %g", want)
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer close(stop)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				got, err := run()
				if err != nil {
					t.Error(err)
					return
				}
				if got != want {
					t.Errorf("goroutine %d, run %d: metric_scale %g, want %g", g, i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
