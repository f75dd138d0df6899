//go:build cuda || tensorrt

package gpu

/*
#include <stdlib.h>
#include "cudadriver.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// A binary built with the tag "cuda" or "tensorrt" links no CUDA library:
// the driver (libcuda.so.1) is opened at run time by driver.go, so the
// binary starts on any machine and a missing driver is an error wrapping
// ErrNoGPU from the first call that needs it.

// Context is the primary context of one CUDA device. The primary context
// is the one the CUDA runtime uses too, so memory and streams made here
// can be handed to TensorRT (package trt) and to kernels alike.
//
// The driver binds a context to an OS thread, so every driver call goes
// through Do, which pins the goroutine to its thread and makes the context
// current there.
type Context struct {
	Ordinal      int    // CUDA device ordinal
	UUID         string // "GPU-…", as NVML spells it
	Name         string
	Major, Minor int // compute capability
	dev          C.int
	ctx          C.uintptr_t
}

// OpenContext retains the primary context of CUDA device ordinal.
func OpenContext(ordinal int) (*Context, error) {
	n, err := CUDADevices()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d does not exist (%d devices)", ordinal, n)
	}
	c := &Context{Ordinal: ordinal}
	if err := check(fmt.Sprintf("device %d", ordinal), C.b4cu_device_get(&c.dev, C.int(ordinal))); err != nil {
		return nil, err
	}
	if c.Name, c.UUID, c.Major, c.Minor, err = describe(c.dev); err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	if err := check(fmt.Sprintf("device %d: retain primary context", ordinal), C.b4cu_primary_retain(&c.ctx, c.dev)); err != nil {
		return nil, err
	}
	return c, nil
}

func describe(dev C.int) (name, uuid string, major, minor int, err error) {
	var buf [256]C.char
	if err = check("cuDeviceGetName", C.b4cu_device_name(&buf[0], C.int(len(buf)), dev)); err != nil {
		return
	}
	name = C.GoString(&buf[0])
	var id [16]C.uchar
	if err = check("cuDeviceGetUuid", C.b4cu_device_uuid(&id[0], dev)); err != nil {
		return
	}
	uuid = formatUUID(id)
	var v C.int
	// CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR and _MINOR.
	if err = check("compute capability", C.b4cu_device_attr(&v, 75, dev)); err != nil {
		return
	}
	major = int(v)
	if err = check("compute capability", C.b4cu_device_attr(&v, 76, dev)); err != nil {
		return
	}
	minor = int(v)
	return
}

// formatUUID spells a device UUID as NVML does: GPU-xxxxxxxx-xxxx-….
func formatUUID(id [16]C.uchar) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(id[i])
	}
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// OpenBest opens the device with the most free memory, as NVML reports
// it, provided at least need bytes are free there. NVML's device order can
// differ from CUDA's (CUDA_VISIBLE_DEVICES, PCI order), so devices are
// matched by UUID.
func OpenBest(need uint64) (*Context, error) {
	devs, err := Devices()
	if err != nil {
		return nil, err
	}
	best := -1
	for i, d := range devs {
		if d.FreeBytes >= need && (best < 0 || d.FreeBytes > devs[best].FreeBytes) {
			best = i
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("cuda: no GPU has %s free", FormatBytes(need))
	}
	n, err := CUDADevices()
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		var dev C.int
		if err := check(fmt.Sprintf("device %d", i), C.b4cu_device_get(&dev, C.int(i))); err != nil {
			return nil, err
		}
		_, uuid, _, _, err := describe(dev)
		if err != nil {
			return nil, fmt.Errorf("cuda: device %d: %w", i, err)
		}
		if uuid == devs[best].UUID {
			return OpenContext(i)
		}
	}
	return nil, fmt.Errorf("cuda: NVML device %d (%s) is not visible to CUDA", devs[best].Index, devs[best].UUID)
}

// Do runs f on a locked OS thread with the context current.
func (c *Context) Do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := check(fmt.Sprintf("device %d: make context current", c.Ordinal), C.b4cu_ctx_set(c.ctx)); err != nil {
		return err
	}
	return f()
}

// Memory returns the device's entry from NVML (Devices), found by UUID.
func (c *Context) Memory() (Device, error) {
	devs, err := Devices()
	if err != nil {
		return Device{}, err
	}
	for _, d := range devs {
		if d.UUID == c.UUID {
			return d, nil
		}
	}
	return Device{}, fmt.Errorf("nvml: CUDA device %d (%s) not found", c.Ordinal, c.UUID)
}

// MemInfo returns the device's free and total memory as the driver sees
// it from this context.
func (c *Context) MemInfo() (free, total uint64, err error) {
	err = c.Do(func() error {
		var f, t C.size_t
		if err := check("cuMemGetInfo", C.b4cu_mem_info(&f, &t)); err != nil {
			return err
		}
		free, total = uint64(f), uint64(t)
		return nil
	})
	return
}

// Close releases the primary context. Streams, events and memory made on
// it must be freed first.
func (c *Context) Close() error {
	return check(fmt.Sprintf("device %d: release primary context", c.Ordinal), C.b4cu_primary_release(c.dev))
}

// Alloc allocates n bytes of device memory directly from the driver
// (pools use it; most callers want a Pool).
func (c *Context) Alloc(n uint64) (DevicePtr, error) {
	var p C.uint64_t
	err := c.Do(func() error {
		return check(fmt.Sprintf("cuMemAlloc(%s)", FormatBytes(n)), C.b4cu_alloc(&p, C.size_t(n)))
	})
	return DevicePtr(p), err
}

// Free returns memory from Alloc to the driver.
func (c *Context) Free(p DevicePtr) error {
	return c.Do(func() error { return check("cuMemFree", C.b4cu_free(C.uint64_t(p))) })
}

// Upload queues a copy of n bytes from host memory at src to dst on s.
// src must hold no Go pointers; it is read before Upload returns.
func (s *Stream) Upload(dst DevicePtr, src unsafe.Pointer, n int) error {
	if n == 0 {
		return nil
	}
	return s.c.Do(func() error {
		return check("copy to device", C.b4cu_h2d(C.uint64_t(dst), src, C.size_t(n), s.h))
	})
}

// Download copies n bytes from src to host memory at dst after the work
// queued on s, and returns once dst is written.
func (s *Stream) Download(dst unsafe.Pointer, src DevicePtr, n int) error {
	if n == 0 {
		return nil
	}
	return s.c.Do(func() error {
		if err := check("copy to host", C.b4cu_d2h(dst, C.uint64_t(src), C.size_t(n), s.h)); err != nil {
			return err
		}
		return check("cuStreamSynchronize", C.b4cu_stream_sync(s.h))
	})
}

// CopyDevice queues a device-to-device copy of n bytes on s.
func (s *Stream) CopyDevice(dst, src DevicePtr, n int) error {
	if n == 0 {
		return nil
	}
	return s.c.Do(func() error {
		return check("device copy", C.b4cu_d2d(C.uint64_t(dst), C.uint64_t(src), C.size_t(n), s.h))
	})
}

// Fill32 queues setting n 32-bit words at p to v on s.
func (s *Stream) Fill32(p DevicePtr, v uint32, n int) error {
	return s.c.Do(func() error {
		return check("cuMemsetD32Async", C.b4cu_memset32(C.uint64_t(p), C.unsigned(v), C.size_t(n), s.h))
	})
}

// Fill8 queues setting n bytes at p to v on s.
func (s *Stream) Fill8(p DevicePtr, v uint8, n int) error {
	return s.c.Do(func() error {
		return check("cuMemsetD8Async", C.b4cu_memset8(C.uint64_t(p), C.uchar(v), C.size_t(n), s.h))
	})
}

// Stream is a CUDA stream that does not synchronize with the legacy
// default stream.
type Stream struct {
	c *Context
	h C.uintptr_t
}

// NewStream creates a stream on the context.
func (c *Context) NewStream() (*Stream, error) {
	st := &Stream{c: c}
	err := c.Do(func() error { return check("create stream", C.b4cu_stream_create(&st.h)) })
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Mark records an event at the current end of s (Queue).
func (s *Stream) Mark() (Fence, error) {
	e, err := s.c.NewEvent(false)
	if err != nil {
		return nil, err
	}
	if err := e.Record(s); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// After makes later work on s wait for a fence from Mark (Queue).
func (s *Stream) After(f Fence) error {
	e, ok := f.(*Event)
	if !ok {
		return fmt.Errorf("cuda: stream cannot wait for a %T", f)
	}
	return s.Wait(e)
}

// NewPool returns a pool on c limited to the device's free memory, as
// NVML reports it now, less PoolMargin.
func NewPool(c *Context) (*Pool, error) {
	d, err := c.Memory()
	if err != nil {
		return nil, err
	}
	return NewPoolLimit(c, PoolLimit(d.FreeBytes)), nil
}

// Context returns the stream's context.
func (s *Stream) Context() *Context { return s.c }

// Handle returns the stream as a CUstream (equally a cudaStream_t), the
// form TensorRT takes.
func (s *Stream) Handle() uintptr { return uintptr(s.h) }

// Synchronize waits until all work queued on the stream is done.
func (s *Stream) Synchronize() error {
	return s.c.Do(func() error { return check("cuStreamSynchronize", C.b4cu_stream_sync(s.h)) })
}

// Wait makes future work on s wait until e has completed.
func (s *Stream) Wait(e *Event) error {
	return s.c.Do(func() error { return check("cuStreamWaitEvent", C.b4cu_stream_wait(s.h, e.h)) })
}

// Close destroys the stream once its queued work is done.
func (s *Stream) Close() error {
	return s.c.Do(func() error { return check("cuStreamDestroy", C.b4cu_stream_destroy(s.h)) })
}

// Event marks a point in a stream.
type Event struct {
	c *Context
	h C.uintptr_t
}

// NewEvent creates an event; timing events can measure elapsed time but
// cost more to record.
func (c *Context) NewEvent(timing bool) (*Event, error) {
	flags := C.unsigned(2) // CU_EVENT_DISABLE_TIMING
	if timing {
		flags = 0
	}
	ev := &Event{c: c}
	if err := c.Do(func() error { return check("create event", C.b4cu_event_create(&ev.h, flags)) }); err != nil {
		return nil, err
	}
	return ev, nil
}

// Record marks the current end of stream s.
func (e *Event) Record(s *Stream) error {
	return e.c.Do(func() error { return check("cuEventRecord", C.b4cu_event_record(e.h, s.h)) })
}

// Done reports whether the work before the recorded point has finished.
func (e *Event) Done() (bool, error) {
	var done bool
	err := e.c.Do(func() error {
		switch r := C.b4cu_event_query(e.h); r {
		case 0:
			done = true
		case cudaErrorNotReady:
		default:
			return check("cuEventQuery", r)
		}
		return nil
	})
	return done, err
}

// Synchronize waits for the recorded point.
func (e *Event) Synchronize() error {
	return e.c.Do(func() error { return check("cuEventSynchronize", C.b4cu_event_sync(e.h)) })
}

// Elapsed returns the time between e and a later timing event end.
func (e *Event) Elapsed(end *Event) (time.Duration, error) {
	var ms C.float
	err := e.c.Do(func() error { return check("cuEventElapsedTime", C.b4cu_event_elapsed(&ms, e.h, end.h)) })
	return time.Duration(float64(ms) * float64(time.Millisecond)), err
}

// Close destroys the event.
func (e *Event) Close() error {
	return e.c.Do(func() error { return check("cuEventDestroy", C.b4cu_event_destroy(e.h)) })
}

// Module is PTX loaded into a context; the driver compiles it for the GPU.
type Module struct {
	c *Context
	h C.uintptr_t
}

// LoadModule loads a PTX image.
func (c *Context) LoadModule(ptx []byte) (*Module, error) {
	img := C.CString(string(ptx)) // NUL-terminated, in C memory
	defer C.free(unsafe.Pointer(img))
	m := &Module{c: c}
	if err := c.Do(func() error { return check("cuModuleLoadData", C.b4cu_module_load(&m.h, img)) }); err != nil {
		return nil, err
	}
	return m, nil
}

// Function is a kernel of a Module.
type Function struct {
	m    *Module
	name string
	h    C.uintptr_t
}

// Function looks a kernel up by its (extern "C") name.
func (m *Module) Function(name string) (*Function, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	f := &Function{m: m, name: name}
	if err := m.c.Do(func() error { return check("kernel "+name, C.b4cu_module_function(&f.h, m.h, cname)) }); err != nil {
		return nil, err
	}
	return f, nil
}

// Unload unloads the module.
func (m *Module) Unload() error {
	return m.c.Do(func() error { return check("cuModuleUnload", C.b4cu_module_unload(m.h)) })
}

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z int }

// Launch queues f on s over grid×block. Each argument is 8 bytes as the
// kernel reads it: a DevicePtr, or a 4-byte int or float in the low
// bytes (Args builds them).
func (f *Function) Launch(s *Stream, grid, block Dim3, args []uint64) error {
	if len(args) > 32 {
		return fmt.Errorf("cuda: launch %s: %d arguments, at most 32", f.name, len(args))
	}
	for _, d := range []int{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z} {
		if d <= 0 || d > 1<<31-1 {
			return fmt.Errorf("cuda: launch %s: grid %v block %v", f.name, grid, block)
		}
	}
	// The arguments go to the driver in C memory: cgo does not allow
	// passing a Go array of pointers into Go memory.
	buf := (*C.uint64_t)(C.malloc(C.size_t(8 * max(len(args), 1))))
	defer C.free(unsafe.Pointer(buf))
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(buf)), len(args)), args)
	return f.m.c.Do(func() error {
		r := C.b4cu_launch(f.h, C.unsigned(grid.X), C.unsigned(grid.Y), C.unsigned(grid.Z),
			C.unsigned(block.X), C.unsigned(block.Y), C.unsigned(block.Z), 0, s.h, buf, C.int(len(args)))
		return check("launch "+f.name, r)
	})
}
