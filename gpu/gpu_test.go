package gpu

import (
	"errors"
	"strings"
	"testing"
)

func TestDevicesNoGPU(t *testing.T) {
	devs, err := Devices()
	if errors.Is(err, ErrNoGPU) {
		t.Logf("no GPU here: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	for _, d := range devs {
		if d.Total == 0 || d.FreeBytes > d.Total {
			t.Errorf("device %d: implausible memory %+v", d.Index, d)
		}
	}
}

func TestBudget(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		b    Budget
		want int
		err  string
	}{
		{b: Budget{FreeBytes: 80 * gib, Margin: 0.1, FixedBytes: 8 * gib, PerItemBytes: gib / 2}, want: 128},
		{b: Budget{FreeBytes: 80 * gib, Margin: 0.1, FixedBytes: 8 * gib, PerItemBytes: gib / 2, MaxBatch: 64}, want: 64},
		{b: Budget{FreeBytes: 10 * gib, Margin: 0, FixedBytes: 9 * gib, PerItemBytes: gib}, want: 1},
		{b: Budget{FreeBytes: 10 * gib, Margin: 0.5, FixedBytes: 9 * gib, PerItemBytes: gib}, err: "only 5.0 GiB of 10.0 GiB free"},
		{b: Budget{FreeBytes: gib}, err: "no per-item cost"},
		{b: Budget{FreeBytes: gib, PerItemBytes: 1, Margin: 1}, err: "margin"},
	}
	for _, tt := range tests {
		got, err := tt.b.Batch()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%+v: err = %v, want %q", tt.b, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v: Batch = %d, %v; want %d", tt.b, got, err, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
