package gpu

import "fmt"

// Budget sizes work to fit memory: a batch is chosen so that fixed cost
// plus batch × per-item cost stays within the free memory less a safety
// margin. The reference pipeline uses a fixed batch of 64 and runs out of
// memory on smaller GPUs; a budget picks the batch from what is free.
type Budget struct {
	FreeBytes    uint64  // memory free now
	Margin       float64 // fraction of FreeBytes kept in reserve, e.g. 0.1
	FixedBytes   uint64  // cost independent of batch size (weights, workspaces)
	PerItemBytes uint64  // cost of one more item in the batch
	MaxBatch     int     // upper bound (0: no bound)
}

// Batch returns the largest batch that fits, at least 1 if one item fits,
// or an error saying how much memory one item would need.
func (b Budget) Batch() (int, error) {
	if b.PerItemBytes == 0 {
		return 0, fmt.Errorf("gpu: budget has no per-item cost")
	}
	if b.Margin < 0 || b.Margin >= 1 {
		return 0, fmt.Errorf("gpu: margin %g outside [0,1)", b.Margin)
	}
	usable := uint64(float64(b.FreeBytes) * (1 - b.Margin))
	if usable < b.FixedBytes+b.PerItemBytes {
		return 0, fmt.Errorf("gpu: one item needs %s (fixed %s + %s per item) but only %s of %s free is usable",
			FormatBytes(b.FixedBytes+b.PerItemBytes), FormatBytes(b.FixedBytes), FormatBytes(b.PerItemBytes),
			FormatBytes(usable), FormatBytes(b.FreeBytes))
	}
	n := int((usable - b.FixedBytes) / b.PerItemBytes)
	if b.MaxBatch > 0 && n > b.MaxBatch {
		n = b.MaxBatch
	}
	return n, nil
}

// FormatBytes prints a byte count in binary units, e.g. "1.5 GiB".
func FormatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
