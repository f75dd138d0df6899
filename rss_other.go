//go:build !linux

package body4d

func PeakRSS() int64 { return 0 }
