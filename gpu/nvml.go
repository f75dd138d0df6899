// Package gpu finds NVIDIA GPUs and their free memory through NVML, sizes
// batches from it, and pools device memory. NVML is loaded at run time
// (dlopen), so this package builds and runs everywhere: on a machine
// without an NVIDIA driver, Devices reports "no GPU" as a normal answer,
// not a failure.
//
// With the build tag "cuda" (or "tensorrt") it also has CUDA contexts,
// streams, events, modules and memory over the CUDA driver API, which is
// opened at run time from libcuda.so.1 as well: a binary built with the
// tags links no CUDA library and starts on any machine, and without a
// driver the first call that needs one returns an error wrapping ErrNoGPU.
package gpu

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Device is one GPU as NVML sees it.
type Device struct {
	Index     int
	Name      string
	UUID      string
	FreeBytes uint64
	UsedBytes uint64
	Total     uint64
}

// ErrNoGPU means there is no NVIDIA GPU to use: no driver (NVML or the
// CUDA driver library cannot be loaded) or no device. Errors wrap it with
// what is missing.
var ErrNoGPU = errors.New("no GPU")

// ErrOutOfMemory is wrapped by device allocation failures, from the
// driver or a pool's limit, so callers can halve a batch and retry.
var ErrOutOfMemory = errors.New("out of device memory")

// Devices lists the GPUs NVML reports with their current memory. It
// returns ErrNoGPU on a machine without an NVIDIA driver.
func Devices() ([]Device, error) {
	lib := nvml.New()
	if ret := lib.Init(); ret != nvml.SUCCESS {
		switch ret {
		case nvml.ERROR_LIBRARY_NOT_FOUND:
			return nil, fmt.Errorf("%w: the NVIDIA driver's NVML library (libnvidia-ml.so.1) is not present", ErrNoGPU)
		case nvml.ERROR_DRIVER_NOT_LOADED:
			return nil, fmt.Errorf("%w: the NVIDIA driver (NVML) is not loaded", ErrNoGPU)
		}
		return nil, fmt.Errorf("nvml: init: %v", lib.ErrorString(ret))
	}
	defer lib.Shutdown()
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvml: device count: %v", lib.ErrorString(ret))
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: NVML reports no device", ErrNoGPU)
	}
	out := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml: device %d: %v", i, lib.ErrorString(ret))
		}
		d := Device{Index: i}
		d.Name, _ = h.GetName()
		d.UUID, _ = h.GetUUID()
		mem, ret := h.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml: device %d memory: %v", i, lib.ErrorString(ret))
		}
		d.FreeBytes, d.UsedBytes, d.Total = mem.Free, mem.Used, mem.Total
		out = append(out, d)
	}
	return out, nil
}
