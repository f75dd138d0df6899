//go:build !linux

// Package proc reads facts about the running process.
package proc

// PeakRSS returns 0: the peak resident set size is read on Linux only.
func PeakRSS() int64 { return 0 }

// MemTotal returns 0: physical memory is read on Linux only.
func MemTotal() uint64 { return 0 }
