//go:build !linux

package body4d

func peakRSS() int64 { return 0 }
