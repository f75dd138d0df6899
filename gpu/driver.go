//go:build cuda || tensorrt

package gpu

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "cudadriver.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// DriverEnv names the environment variable that points at the CUDA driver
// library to load instead of libcuda.so.1 (tests load a fake driver).
const DriverEnv = "BODY4D_CUDA_DRIVER"

// The driver library is loaded once per process, like the C library state
// it mirrors; every entry point goes through driver().
var driverOnce struct {
	sync.Once
	err error
}

// Result codes of the driver API that body4d tells apart.
const (
	cudaErrorOutOfMemory = 2
	cudaErrorNoDevice    = 100
	cudaErrorNotReady    = 600
)

// driver loads the CUDA driver library and initialises it. Without an
// NVIDIA driver the error wraps ErrNoGPU and names what is missing.
func driver() error {
	driverOnce.Do(func() {
		path := os.Getenv(DriverEnv)
		var cpath *C.char
		if path != "" {
			cpath = C.CString(path)
			defer C.free(unsafe.Pointer(cpath))
		} else {
			path = "libcuda.so.1"
		}
		if msg := C.b4cu_load(cpath); msg != nil {
			driverOnce.err = fmt.Errorf("%w: cannot load the CUDA driver library %s: %s", ErrNoGPU, path, C.GoString(msg))
			return
		}
		switch r := C.b4cu_init(); r {
		case 0:
		case cudaErrorNoDevice:
			driverOnce.err = fmt.Errorf("%w: the CUDA driver (%s) reports no device", ErrNoGPU, path)
		default:
			driverOnce.err = fmt.Errorf("%w: cuInit: %v", ErrNoGPU, cudaError(r))
		}
	})
	return driverOnce.err
}

// CUDAError is a failed CUDA driver call.
type CUDAError struct {
	Code    int
	Message string
}

func (e *CUDAError) Error() string { return fmt.Sprintf("CUDA error %d: %s", e.Code, e.Message) }

// OutOfMemory reports whether the call failed for lack of device memory.
func (e *CUDAError) OutOfMemory() bool { return e.Code == cudaErrorOutOfMemory }

func (e *CUDAError) Unwrap() error {
	if e.OutOfMemory() {
		return ErrOutOfMemory
	}
	return nil
}

func cudaError(r C.b4cu_result) error {
	if r == 0 {
		return nil
	}
	return &CUDAError{Code: int(r), Message: C.GoString(C.b4cu_error_string(r))}
}

func check(what string, r C.b4cu_result) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: %w", what, cudaError(r))
}

// DriverVersion returns the CUDA version the driver supports, e.g. 12040
// for 12.4.
func DriverVersion() (int, error) {
	if err := driver(); err != nil {
		return 0, err
	}
	var v C.int
	if err := check("cuDriverGetVersion", C.b4cu_driver_version(&v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// CUDADevices returns the number of CUDA devices the driver sees.
func CUDADevices() (int, error) {
	if err := driver(); err != nil {
		return 0, err
	}
	var n C.int
	if err := check("cuDeviceGetCount", C.b4cu_device_count(&n)); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: the CUDA driver sees no device", ErrNoGPU)
	}
	return int(n), nil
}
