package mesh

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemAvailable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(p, []byte("MemTotal:       16384 kB\nMemFree:  100 kB\nMemAvailable:    8192 kB\n"), 0o644)
	if got, err := memAvailable(p); err != nil || got != 8192<<10 {
		t.Errorf("memAvailable = %d, %v; want %d", got, err, 8192<<10)
	}
	os.WriteFile(p, []byte("MemTotal: 1 kB\n"), 0o644)
	if _, err := memAvailable(p); err == nil {
		t.Error("memAvailable without a MemAvailable line: no error")
	}
}

// TestBatchSize: the batch is what 90% of free memory holds at the
// per-crop cost, capped at MaxBatch, at least 1, and MaxBatch when the
// free memory is unknown.
func TestBatchSize(t *testing.T) {
	for _, c := range []struct {
		free, crop uint64
		max        int
		err        bool
		want       int
	}{
		{free: 10 << 30, crop: 1 << 30, max: 64, want: 9},
		{free: 100 << 30, crop: 1 << 30, max: 64, want: 64},
		{free: 100 << 20, crop: 1 << 30, max: 64, want: 1},
		{free: 0, crop: 1 << 30, max: 16, err: true, want: 16},
	} {
		s := newFakeStage()
		opts := Options{MaxBatch: c.max, CropBytes: c.crop, FreeMemory: func() (uint64, error) {
			if c.err {
				return 0, os.ErrNotExist
			}
			return c.free, nil
		}}
		if got := s.recoverer(t, opts).BatchSize(); got != c.want {
			t.Errorf("free %d, crop %d, max %d: batch %d, want %d", c.free, c.crop, c.max, got, c.want)
		}
	}
}
