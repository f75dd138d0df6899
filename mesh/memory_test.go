package mesh

import (
	"os"
	"slices"
	"testing"

	"github.com/body4d/body4d/engine"
)

// TestBatchSize: the batch is what 90% of free memory holds at the
// per-crop cost, capped at MaxBatch, at least 1, and MaxBatch when the
// free memory is unknown or not asked for.
func TestBatchSize(t *testing.T) {
	for _, c := range []struct {
		free, crop uint64
		max        int
		err, none  bool // FreeMemory errs; no FreeMemory
		want       int
	}{
		{free: 10 << 30, crop: 1 << 30, max: 64, want: 9},
		{free: 100 << 30, crop: 1 << 30, max: 64, want: 64},
		{free: 100 << 20, crop: 1 << 30, max: 64, want: 1},
		{free: 0, crop: 1 << 30, max: 16, err: true, want: 16},
		{crop: 1 << 30, max: 8, none: true, want: 8},
	} {
		s := newFakeStage()
		opts := Options{MaxBatch: c.max, CropBytes: c.crop, FreeMemory: func() (uint64, error) {
			if c.err {
				return 0, os.ErrNotExist
			}
			return c.free, nil
		}}
		if c.none {
			opts.FreeMemory = nil
		}
		if got := s.recoverer(t, opts).BatchSize(); got != c.want {
			t.Errorf("free %d, crop %d, max %d: batch %d, want %d", c.free, c.crop, c.max, got, c.want)
		}
	}
}

// TestDefaultCropBytesPinned ties DefaultCropBytes to the engine contract
// it was measured for: a backbone that takes 3×512² crops and returns
// 1280×32² features (DINOv3-H+ at 512²). A contract change means another
// network, whose per-crop memory must be measured again
// (tools/bench/realsize/bench.py with --batch mesh/backbone=8) before this
// test is updated.
func TestDefaultCropBytesPinned(t *testing.T) {
	const peak1, peak8 = 3716, 6632 // MiB, batch 1 and 8 (tools/bench/realsize/results.md)
	if want := uint64(peak8-peak1) << 20 / 7; DefaultCropBytes>>20 != want>>20 {
		t.Errorf("DefaultCropBytes is %d MiB; the measurement gives %d MiB", DefaultCropBytes>>20, want>>20)
	}
	var backbone *engine.Contract
	for _, c := range Contracts() {
		if c.Engine == EngineBackbone {
			backbone = &c
		}
	}
	if backbone == nil {
		t.Fatal("no backbone contract")
	}
	in, out := backbone.Inputs[0].Shape, backbone.Outputs[0].Shape
	if !slices.Equal(in[1:], engine.Shape{3, 512, 512}) || !slices.Equal(out[1:], engine.Shape{1280, 32, 32}) {
		t.Errorf("the backbone contract is now %v -> %v, not the 3×512² -> 1280×32² DefaultCropBytes was measured on; measure again",
			in, out)
	}
	// Lower bound from the contract alone: the crop and its features, in
	// float32, plus one attention map of the measured network (20 heads
	// over 32²+5 tokens).
	tokens := uint64(out[2]*out[3] + 5)
	floor := 4 * (uint64(in[1]*in[2]*in[3]) + uint64(out[1]*out[2]*out[3]) + 20*tokens*tokens)
	if DefaultCropBytes < floor {
		t.Errorf("DefaultCropBytes %d is below the contract's floor %d", DefaultCropBytes, floor)
	}
}
