//go:build tensorrt

package trt

/*
#cgo CXXFLAGS: -std=c++17
#cgo LDFLAGS: -lnvinfer -lcudart -lstdc++
#include <stdlib.h>
#include <cuda_runtime_api.h>
#include "shim.h"

// Device memory and streams cross into Go as integers, never as Go
// pointers, so cgo's pointer rules hold and vet has nothing to flag.
static int b4_set_device(int d) { return (int)cudaSetDevice(d); }
static int b4_malloc(size_t n, uintptr_t *out) {
	void *p = NULL;
	cudaError_t rc = cudaMalloc(&p, n);
	*out = (uintptr_t)p;
	return (int)rc;
}
static int b4_free(uintptr_t p) { return (int)cudaFree((void *)p); }
static int b4_stream_create(uintptr_t *out) {
	cudaStream_t s = NULL;
	cudaError_t rc = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	*out = (uintptr_t)s;
	return (int)rc;
}
static int b4_stream_destroy(uintptr_t s) { return (int)cudaStreamDestroy((cudaStream_t)s); }
static int b4_stream_sync(uintptr_t s) { return (int)cudaStreamSynchronize((cudaStream_t)s); }
// Copies from and to pageable host memory: cudaMemcpyAsync returns only
// after it has finished reading (H2D, staged) or writing (D2H) host memory,
// so no Go pointer is used after the call returns.
static int b4_h2d(uintptr_t dst, const void *src, size_t n, uintptr_t s) {
	return (int)cudaMemcpyAsync((void *)dst, src, n, cudaMemcpyHostToDevice, (cudaStream_t)s);
}
static int b4_d2h(void *dst, uintptr_t src, size_t n, uintptr_t s) {
	return (int)cudaMemcpyAsync(dst, (const void *)src, n, cudaMemcpyDeviceToHost, (cudaStream_t)s);
}
static const char *b4_error_string(int rc) { return cudaGetErrorString((cudaError_t)rc); }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/body4d/body4d/engine"
)

// ErrNotBuilt is returned by every entry point of a build without the
// "tensorrt" build tag; this build has TensorRT, so it is never returned.
var ErrNotBuilt = errors.New("body4d was built without TensorRT support (build tag tensorrt)")

const errLen = 4096

// Backend loads TensorRT plans on one GPU.
type Backend struct {
	Device int // CUDA device ordinal
}

// Open returns a backend for device 0 after checking that TensorRT 10 or
// later is linked.
func Open() (*Backend, error) {
	if v := int(C.b4trt_version()); v < 100000 {
		return nil, fmt.Errorf("trt: TensorRT %d.%d.%d is linked; body4d needs 10 or later", v/10000, v/100%100, v%100)
	}
	return &Backend{}, nil
}

// Name returns "trt".
func (b *Backend) Name() string { return "trt" }

// Load reads a serialized TensorRT plan. Plans are specific to the GPU
// model and TensorRT version that built them.
func (b *Backend) Load(path string) (engine.Engine, error) {
	plan, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trt: %w", err)
	}
	e, err := load(b.Device, plan)
	if err != nil {
		return nil, fmt.Errorf("trt: %s: %w", path, err)
	}
	return e, nil
}

// ioTensor is one input or output of a plan.
type ioTensor struct {
	name     *C.char // owned by TensorRT, valid until the engine is destroyed
	info     engine.TensorInfo
	input    bool
	min, max engine.Shape // profile 0 bounds of an input
}

type deviceBuf struct {
	ptr  C.uintptr_t
	size int
}

// Engine is a loaded plan with one execution context. TensorRT execution
// contexts are not reentrant, so Run and Enqueue serialize on a mutex.
type Engine struct {
	mu     sync.Mutex
	h      *C.b4trt_engine
	device int
	stream C.uintptr_t
	io     []ioTensor
	bufs   map[string]deviceBuf
}

func load(device int, plan []byte) (*Engine, error) {
	if len(plan) == 0 {
		return nil, errors.New("empty plan file")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cudaErr("cudaSetDevice", C.b4_set_device(C.int(device))); err != nil {
		return nil, err
	}
	errBuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errBuf))
	cplan := C.CBytes(plan)
	defer C.free(cplan)
	h := C.b4trt_load(cplan, C.size_t(len(plan)), errBuf, errLen)
	if h == nil {
		return nil, errors.New(C.GoString(errBuf))
	}
	e := &Engine{h: h, device: device, bufs: map[string]deviceBuf{}}
	if err := e.describe(errBuf); err != nil {
		C.b4trt_destroy(h)
		return nil, err
	}
	if err := cudaErr("cudaStreamCreate", C.b4_stream_create(&e.stream)); err != nil {
		C.b4trt_destroy(h)
		return nil, err
	}
	return e, nil
}

func (e *Engine) describe(errBuf *C.char) error {
	n := int(C.b4trt_num_io(e.h))
	profiles := int(C.b4trt_num_profiles(e.h))
	for i := 0; i < n; i++ {
		var io C.b4trt_io
		if C.b4trt_io_info(e.h, C.int(i), &io, errBuf, errLen) != 0 {
			return fmt.Errorf("I/O tensor %d: %s", i, C.GoString(errBuf))
		}
		name := C.GoString(io.name)
		dt, err := dtypeOf(int(io.dtype))
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		t := ioTensor{name: io.name, input: io.is_input != 0,
			info: engine.TensorInfo{Name: name, DType: dt, Shape: shapeOf(io.nb_dims, &io.dims)}}
		if t.input && profiles > 0 {
			if t.min, err = e.profileShape(io.name, C.B4TRT_PROFILE_MIN, errBuf); err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
			if t.max, err = e.profileShape(io.name, C.B4TRT_PROFILE_MAX, errBuf); err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
		}
		e.io = append(e.io, t)
	}
	return nil
}

func (e *Engine) profileShape(name *C.char, which C.int, errBuf *C.char) (engine.Shape, error) {
	var nb C.int
	var dims [C.B4TRT_MAX_DIMS]C.int64_t
	if C.b4trt_profile_shape(e.h, name, 0, which, &nb, &dims[0], errBuf, errLen) != 0 {
		return nil, errors.New(C.GoString(errBuf))
	}
	return shapeOf(nb, &dims), nil
}

func shapeOf(nb C.int, dims *[C.B4TRT_MAX_DIMS]C.int64_t) engine.Shape {
	s := make(engine.Shape, int(nb))
	for i := range s {
		s[i] = int64(dims[i])
	}
	return s
}

// dtypeOf maps TensorRT's element types to body4d's; INT8, FP8, BF16 and
// newer narrow types have no engine.DType and are refused at load time.
func dtypeOf(t int) (engine.DType, error) {
	switch t {
	case C.B4TRT_FLOAT:
		return engine.Float32, nil
	case C.B4TRT_HALF:
		return engine.Float16, nil
	case C.B4TRT_INT32:
		return engine.Int32, nil
	case C.B4TRT_INT64:
		return engine.Int64, nil
	case C.B4TRT_BOOL:
		return engine.Bool, nil
	case C.B4TRT_UINT8:
		return engine.Uint8, nil
	}
	return 0, fmt.Errorf("TensorRT element type %d has no body4d tensor type", t)
}

func cudaErr(what string, rc C.int) error {
	if rc == 0 {
		return nil
	}
	return fmt.Errorf("%s: CUDA error %d: %s", what, int(rc), C.GoString(C.b4_error_string(rc)))
}

// Info lists the plan's inputs and outputs in TensorRT's I/O order.
func (e *Engine) Info() engine.Info {
	var info engine.Info
	for _, t := range e.io {
		ti := t.info
		ti.Shape = append(engine.Shape{}, ti.Shape...)
		if t.input {
			info.Inputs = append(info.Inputs, ti)
		} else {
			info.Outputs = append(info.Outputs, ti)
		}
	}
	return info
}

// ProfileRange returns an input's minimum and maximum shape in
// optimisation profile 0, or ok=false for a static input.
func (e *Engine) ProfileRange(input string) (min, max engine.Shape, ok bool) {
	for _, t := range e.io {
		if t.input && t.info.Name == input && t.min != nil {
			return append(engine.Shape{}, t.min...), append(engine.Shape{}, t.max...), true
		}
	}
	return nil, nil, false
}

// checkShape reports whether shape fits input t: its rank, its static
// dimensions, and the profile's bounds.
func (t *ioTensor) checkShape(shape engine.Shape) error {
	if len(shape) != len(t.info.Shape) {
		return fmt.Errorf("trt: input %q: shape %v has rank %d, the plan wants %v", t.info.Name, shape, len(shape), t.info.Shape)
	}
	for i, d := range shape {
		if want := t.info.Shape[i]; want >= 0 && d != want {
			return fmt.Errorf("trt: input %q: shape %v, the plan wants %v", t.info.Name, shape, t.info.Shape)
		}
		if t.min != nil && (d < t.min[i] || d > t.max[i]) {
			return fmt.Errorf("trt: input %q: dimension %d is %d, outside the profile's range [%d,%d]", t.info.Name, i, d, t.min[i], t.max[i])
		}
	}
	return nil
}

// setShapes sets every input's shape and returns the outputs' resolved
// shapes. The caller holds e.mu and the OS thread.
func (e *Engine) setShapes(shapes map[string]engine.Shape, errBuf *C.char) (map[string]engine.Shape, error) {
	inputs := 0
	for i := range e.io {
		t := &e.io[i]
		if !t.input {
			continue
		}
		inputs++
		s, ok := shapes[t.info.Name]
		if !ok {
			return nil, fmt.Errorf("trt: input %q not given", t.info.Name)
		}
		if err := t.checkShape(s); err != nil {
			return nil, err
		}
		dims := make([]C.int64_t, len(s)+1) // +1: never a zero-length slice
		for j, d := range s {
			dims[j] = C.int64_t(d)
		}
		if C.b4trt_set_input_shape(e.h, t.name, C.int(len(s)), &dims[0], errBuf, errLen) != 0 {
			return nil, fmt.Errorf("trt: input %q shape %v: %s", t.info.Name, s, C.GoString(errBuf))
		}
	}
	if len(shapes) != inputs {
		for name := range shapes {
			if !e.isInput(name) {
				return nil, fmt.Errorf("trt: the plan has no input %q", name)
			}
		}
	}
	out := map[string]engine.Shape{}
	for _, t := range e.io {
		if t.input {
			continue
		}
		var nb C.int
		var dims [C.B4TRT_MAX_DIMS]C.int64_t
		if C.b4trt_context_shape(e.h, t.name, &nb, &dims[0], errBuf, errLen) != 0 {
			return nil, fmt.Errorf("trt: output %q: %s", t.info.Name, C.GoString(errBuf))
		}
		s := shapeOf(nb, &dims)
		for _, d := range s {
			if d < 0 {
				return nil, fmt.Errorf("trt: output %q has data-dependent shape %v, which this backend does not support", t.info.Name, s)
			}
		}
		out[t.info.Name] = s
	}
	return out, nil
}

func (e *Engine) isInput(name string) bool {
	for _, t := range e.io {
		if t.input && t.info.Name == name {
			return true
		}
	}
	return false
}

// buffer returns a device buffer of at least n bytes for tensor name,
// reusing the previous run's buffer when it is large enough.
func (e *Engine) buffer(name string, n int) (C.uintptr_t, error) {
	if n == 0 {
		n = 1 // TensorRT wants a non-null address even for an empty tensor
	}
	if b, ok := e.bufs[name]; ok {
		if b.size >= n {
			return b.ptr, nil
		}
		delete(e.bufs, name)
		if err := cudaErr("cudaFree", C.b4_free(b.ptr)); err != nil {
			return 0, err
		}
	}
	var p C.uintptr_t
	if err := cudaErr(fmt.Sprintf("cudaMalloc(%d) for %q", n, name), C.b4_malloc(C.size_t(n), &p)); err != nil {
		return 0, err
	}
	e.bufs[name] = deviceBuf{ptr: p, size: n}
	return p, nil
}

// hostData returns the address and byte size of a tensor's storage.
func hostData(t *engine.Tensor) (unsafe.Pointer, int) {
	n := t.Len() * t.DType().Size()
	if n == 0 {
		return nil, 0
	}
	switch t.DType() {
	case engine.Float32:
		return unsafe.Pointer(&t.Float32()[0]), n
	case engine.Float16:
		return unsafe.Pointer(&t.Float16()[0]), n
	case engine.Int64:
		return unsafe.Pointer(&t.Int64()[0]), n
	case engine.Int32:
		return unsafe.Pointer(&t.Int32()[0]), n
	case engine.Uint8:
		return unsafe.Pointer(&t.Uint8()[0]), n
	case engine.Bool:
		return unsafe.Pointer(&t.Bool()[0]), n
	}
	return nil, 0
}

// Run copies the inputs to device buffers, runs the plan on the engine's
// stream, and copies every output back. The context is checked before the
// work is queued; a queued run is not interrupted.
func (e *Engine) Run(ctx context.Context, inputs map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	shapes := make(map[string]engine.Shape, len(inputs))
	for name, t := range inputs {
		if t == nil {
			return nil, fmt.Errorf("trt: input %q is nil", name)
		}
		shapes[name] = t.Shape()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return nil, errors.New("trt: engine is closed")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cudaErr("cudaSetDevice", C.b4_set_device(C.int(e.device))); err != nil {
		return nil, err
	}
	errBuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errBuf))
	outShapes, err := e.setShapes(shapes, errBuf)
	if err != nil {
		return nil, err
	}
	outputs := make(map[string]*engine.Tensor, len(outShapes))
	for _, t := range e.io {
		name := t.info.Name
		var host *engine.Tensor
		if t.input {
			host = inputs[name]
			if host.DType() != t.info.DType {
				return nil, fmt.Errorf("trt: input %q is %v, the plan wants %v", name, host.DType(), t.info.DType)
			}
		} else if host, err = engine.New(t.info.DType, outShapes[name]); err != nil {
			return nil, fmt.Errorf("trt: output %q: %w", name, err)
		}
		src, n := hostData(host)
		dev, err := e.buffer(name, n)
		if err != nil {
			return nil, err
		}
		if t.input && n > 0 {
			if err := cudaErr("copy of input "+name, C.b4_h2d(dev, src, C.size_t(n), e.stream)); err != nil {
				return nil, err
			}
		}
		if C.b4trt_set_tensor_address(e.h, t.name, dev, errBuf, errLen) != 0 {
			return nil, fmt.Errorf("trt: %q: %s", name, C.GoString(errBuf))
		}
		if !t.input {
			outputs[name] = host
		}
	}
	if C.b4trt_enqueue(e.h, e.stream, errBuf, errLen) != 0 {
		return nil, fmt.Errorf("trt: %s", C.GoString(errBuf))
	}
	for _, t := range e.io {
		if t.input {
			continue
		}
		dst, n := hostData(outputs[t.info.Name])
		if n == 0 {
			continue
		}
		if err := cudaErr("copy of output "+t.info.Name, C.b4_d2h(dst, e.bufs[t.info.Name].ptr, C.size_t(n), e.stream)); err != nil {
			return nil, err
		}
	}
	if err := cudaErr("cudaStreamSynchronize", C.b4_stream_sync(e.stream)); err != nil {
		return nil, err
	}
	return outputs, nil
}

// DeviceTensor is a tensor already in device memory of the engine's GPU:
// Ptr is a device address (CUdeviceptr or a cudaMalloc result).
type DeviceTensor struct {
	Ptr   uintptr
	Shape engine.Shape
}

// OutputShapes returns the output shapes the plan produces for the given
// input shapes, so a caller can allocate outputs before Enqueue.
func (e *Engine) OutputShapes(inputs map[string]engine.Shape) (map[string]engine.Shape, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return nil, errors.New("trt: engine is closed")
	}
	errBuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errBuf))
	return e.setShapes(inputs, errBuf)
}

// Enqueue queues one run on the caller's stream (a cudaStream_t or
// CUstream of the device's primary context) with caller-owned device
// buffers, and returns without waiting. outputs maps every output name to
// a buffer large enough for the shape OutputShapes reports. The buffers
// must stay allocated until the stream has finished.
func (e *Engine) Enqueue(stream uintptr, inputs map[string]DeviceTensor, outputs map[string]uintptr) error {
	shapes := make(map[string]engine.Shape, len(inputs))
	for name, t := range inputs {
		shapes[name] = t.Shape
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return errors.New("trt: engine is closed")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cudaErr("cudaSetDevice", C.b4_set_device(C.int(e.device))); err != nil {
		return err
	}
	errBuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errBuf))
	if _, err := e.setShapes(shapes, errBuf); err != nil {
		return err
	}
	for _, t := range e.io {
		var ptr uintptr
		if t.input {
			ptr = inputs[t.info.Name].Ptr
		} else {
			p, ok := outputs[t.info.Name]
			if !ok {
				return fmt.Errorf("trt: no buffer for output %q", t.info.Name)
			}
			ptr = p
		}
		if ptr == 0 {
			return fmt.Errorf("trt: %q: null device pointer", t.info.Name)
		}
		if C.b4trt_set_tensor_address(e.h, t.name, C.uintptr_t(ptr), errBuf, errLen) != 0 {
			return fmt.Errorf("trt: %q: %s", t.info.Name, C.GoString(errBuf))
		}
	}
	if C.b4trt_enqueue(e.h, C.uintptr_t(stream), errBuf, errLen) != 0 {
		return fmt.Errorf("trt: %s", C.GoString(errBuf))
	}
	return nil
}

// Close frees the engine's device buffers, stream and TensorRT objects.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var errs []error
	errs = append(errs, cudaErr("cudaSetDevice", C.b4_set_device(C.int(e.device))))
	errs = append(errs, cudaErr("cudaStreamSynchronize", C.b4_stream_sync(e.stream)))
	for name, b := range e.bufs {
		errs = append(errs, cudaErr("cudaFree of "+name, C.b4_free(b.ptr)))
	}
	e.bufs = nil
	errs = append(errs, cudaErr("cudaStreamDestroy", C.b4_stream_destroy(e.stream)))
	C.b4trt_destroy(e.h)
	e.h = nil
	return errors.Join(errs...)
}
