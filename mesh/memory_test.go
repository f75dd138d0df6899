package mesh

import (
	"os"
	"testing"
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
