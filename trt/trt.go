//go:build tensorrt

package trt

/*
#cgo CXXFLAGS: -std=c++17
#cgo LDFLAGS: -ldl -lstdc++
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/models"
)

const errLen = 4096

// cerr is a C buffer for the shim's messages.
type cerr struct{ p *C.char }

func newErr() cerr            { return cerr{(*C.char)(C.malloc(errLen))} }
func (e cerr) free()          { C.free(unsafe.Pointer(e.p)) }
func (e cerr) err() error     { return errors.New(C.GoString(e.p)) }
func (e cerr) String() string { return C.GoString(e.p) }

// Backend runs TensorRT plans on one GPU. Its engines' device buffers
// come from one pool; each stage's engines share one CUDA stream (Stage).
type Backend struct {
	c       *gpu.Context
	pool    *gpu.Pool
	ownPool bool
	version int
	opts    Options
	stream  *gpu.Stream // this view's stream
	mu      sync.Mutex
	streams map[string]*gpu.Stream
	isStage bool
}

// Open loads TensorRT (libnvinfer.so.N, N the major version of the headers
// this build used) and opens CUDA device opts.Ordinal. Without a driver,
// a GPU or the library, the error says which is missing.
func Open(opts Options) (*Backend, error) {
	// The GPU first: without a driver that is what is missing, whether or
	// not TensorRT is installed.
	c, err := gpu.OpenContext(opts.Ordinal)
	if err != nil {
		return nil, fmt.Errorf("trt: %w", err)
	}
	b, err := open(c, opts)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return b, nil
}

func open(c *gpu.Context, opts Options) (*Backend, error) {
	e := newErr()
	defer e.free()
	var lib *C.char
	if opts.Library != "" {
		lib = C.CString(opts.Library)
		defer C.free(unsafe.Pointer(lib))
	}
	v := int(C.b4trt_open(lib, e.p, errLen))
	if v < 0 {
		return nil, fmt.Errorf("trt: no TensorRT %d runtime: %v", int(C.b4trt_header_version())/10000, e)
	}
	if h := int(C.b4trt_header_version()); v/10000 != h/10000 {
		return nil, fmt.Errorf("trt: TensorRT %s is installed; this build was made for TensorRT %d", formatVersion(v), h/10000)
	}
	b := &Backend{c: c, pool: opts.Pool, version: v, opts: opts, streams: map[string]*gpu.Stream{}}
	var err error
	if b.pool == nil {
		if b.pool, err = gpu.NewPool(c); err != nil {
			return nil, err
		}
		b.ownPool = true
	}
	if b.stream, err = c.NewStream(); err != nil {
		return nil, err
	}
	return b, nil
}

// Name returns "trt", the backend name model manifests use.
func (b *Backend) Name() string { return "trt" }

// Target returns this machine's GPU and TensorRT version, as a manifest
// records them.
func (b *Backend) Target() models.Target {
	return models.Target{GPU: b.c.Name, Compute: fmt.Sprintf("%d.%d", b.c.Major, b.c.Minor), TensorRT: formatVersion(b.version)}
}

// Pool returns the pool the engines allocate from.
func (b *Backend) Pool() *gpu.Pool { return b.pool }

// Stage returns the backend for one stage: its engines run on the stage's
// own CUDA stream.
func (b *Backend) Stage(name string) (engine.Backend, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.streams[name]
	if !ok {
		var err error
		if s, err = b.c.NewStream(); err != nil {
			return nil, fmt.Errorf("trt: stream for %s: %w", name, err)
		}
		b.streams[name] = s
	}
	return &Backend{c: b.c, pool: b.pool, version: b.version, opts: b.opts, stream: s, isStage: true}, nil
}

// Close releases the streams, the pool Open made and the device. Engines
// must be closed first.
func (b *Backend) Close() error {
	if b.isStage {
		return nil
	}
	var errs []error
	for name, s := range b.streams {
		errs = append(errs, s.Close())
		delete(b.streams, name)
	}
	errs = append(errs, b.stream.Close())
	if b.ownPool {
		errs = append(errs, b.pool.Close())
	}
	errs = append(errs, b.c.Close())
	return errors.Join(errs...)
}

// Load reads a serialized TensorRT plan. Plans are specific to the GPU
// model and TensorRT version that built them.
func (b *Backend) Load(path string) (engine.Engine, error) {
	plan, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trt: %w", err)
	}
	if len(plan) == 0 {
		return nil, fmt.Errorf("trt: %s: empty plan file", path)
	}
	e := newErr()
	defer e.free()
	cplan := C.CBytes(plan)
	defer C.free(cplan)
	var h *C.b4trt_engine
	err = b.c.Do(func() error {
		if h = C.b4trt_load(cplan, C.size_t(len(plan)), e.p, errLen); h == nil {
			return e.err()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trt: %s: %w", path, err)
	}
	eng := &Engine{h: h, b: b, path: path}
	if err := eng.describe(e); err != nil {
		C.b4trt_destroy(h)
		return nil, fmt.Errorf("trt: %s: %w", path, err)
	}
	return eng, nil
}

// ioTensor is one input or output of a plan.
type ioTensor struct {
	name     *C.char // owned by TensorRT, valid until the engine is destroyed
	info     engine.TensorInfo
	input    bool
	min, max engine.Shape // profile 0 bounds of an input
}

// Engine is a loaded plan with one execution context on its stage's
// stream. TensorRT execution contexts are not reentrant, so Run
// serializes on a mutex.
type Engine struct {
	mu   sync.Mutex
	h    *C.b4trt_engine
	b    *Backend
	path string
	io   []ioTensor
}

func (e *Engine) describe(eb cerr) error {
	n := int(C.b4trt_num_io(e.h))
	profiles := int(C.b4trt_num_profiles(e.h))
	for i := 0; i < n; i++ {
		var io C.b4trt_io
		if C.b4trt_io_info(e.h, C.int(i), &io, eb.p, errLen) != 0 {
			return fmt.Errorf("I/O tensor %d: %v", i, eb)
		}
		name := C.GoString(io.name)
		dt, err := dtypeOf(int(io.dtype))
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		t := ioTensor{name: io.name, input: io.is_input != 0,
			info: engine.TensorInfo{Name: name, DType: dt, Shape: shapeOf(io.nb_dims, &io.dims)}}
		if t.input && profiles > 0 {
			if t.min, err = e.profileShape(io.name, C.B4TRT_PROFILE_MIN, eb); err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
			if t.max, err = e.profileShape(io.name, C.B4TRT_PROFILE_MAX, eb); err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
		}
		e.io = append(e.io, t)
	}
	return nil
}

func (e *Engine) profileShape(name *C.char, which C.int, eb cerr) (engine.Shape, error) {
	var nb C.int
	var dims [C.B4TRT_MAX_DIMS]C.int64_t
	if C.b4trt_profile_shape(e.h, name, 0, which, &nb, &dims[0], eb.p, errLen) != 0 {
		return nil, eb.err()
	}
	return shapeOf(nb, &dims), nil
}

func shapeOf(nb C.int, dims *[C.B4TRT_MAX_DIMS]C.int64_t) engine.Shape {
	s := make(engine.Shape, max(int(nb), 0))
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
// shapes. The caller holds e.mu.
func (e *Engine) setShapes(shapes map[string]engine.Shape, eb cerr) (map[string]engine.Shape, error) {
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
		if C.b4trt_set_input_shape(e.h, t.name, C.int(len(s)), &dims[0], eb.p, errLen) != 0 {
			return nil, fmt.Errorf("trt: input %q shape %v: %v", t.info.Name, s, eb)
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
		if C.b4trt_context_shape(e.h, t.name, &nb, &dims[0], eb.p, errLen) != 0 {
			return nil, fmt.Errorf("trt: output %q: %v", t.info.Name, eb)
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

// Run copies the inputs to device buffers from the pool, runs the plan on
// the stage's stream, copies every output back and returns the buffers to
// the pool. The context is checked before the work is queued; a queued
// run is not interrupted. An allocation failure wraps gpu.ErrOutOfMemory.
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
	eb := newErr()
	defer eb.free()
	s, pool := e.b.stream, e.b.pool
	var bufs []gpu.Buffer
	defer func() {
		for _, b := range bufs {
			pool.Free(b, s) // reused only after the stream passes this point
		}
	}()
	outputs := map[string]*engine.Tensor{}
	err := e.b.c.Do(func() error {
		outShapes, err := e.setShapes(shapes, eb)
		if err != nil {
			return err
		}
		devOut := map[string]gpu.DevicePtr{}
		for _, t := range e.io {
			name := t.info.Name
			var host *engine.Tensor
			if t.input {
				host = inputs[name]
				if host.DType() != t.info.DType {
					return fmt.Errorf("trt: input %q is %v, the plan wants %v", name, host.DType(), t.info.DType)
				}
			} else if host, err = engine.New(t.info.DType, outShapes[name]); err != nil {
				return fmt.Errorf("trt: output %q: %w", name, err)
			}
			src, n := hostData(host)
			buf, err := pool.Alloc(uint64(max(n, 1)), s) // TensorRT wants an address even for an empty tensor
			if err != nil {
				return fmt.Errorf("trt: %q: %w", name, err)
			}
			bufs = append(bufs, buf)
			if t.input {
				if err := s.Upload(buf.Ptr, src, n); err != nil {
					return fmt.Errorf("trt: input %q: %w", name, err)
				}
			} else {
				outputs[name] = host
				devOut[name] = buf.Ptr
			}
			if C.b4trt_set_tensor_address(e.h, t.name, C.uintptr_t(buf.Ptr), eb.p, errLen) != 0 {
				return fmt.Errorf("trt: %q: %v", name, eb)
			}
		}
		if C.b4trt_enqueue(e.h, C.uintptr_t(s.Handle()), eb.p, errLen) != 0 {
			return fmt.Errorf("trt: %v", eb)
		}
		for name, host := range outputs {
			dst, n := hostData(host)
			if err := s.Download(dst, devOut[name], n); err != nil {
				return fmt.Errorf("trt: output %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.path, err)
	}
	return outputs, nil
}

// Close destroys the TensorRT objects.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return nil
	}
	err := e.b.c.Do(func() error {
		if err := e.b.stream.Synchronize(); err != nil {
			return err
		}
		C.b4trt_destroy(e.h)
		return nil
	})
	e.h = nil
	return err
}

// Build converts an ONNX file into a serialized plan for this GPU with one
// optimisation profile, whose input shape ranges profile gives, and
// returns the plan and the updated timing cache.
func (b *Backend) Build(ctx context.Context, onnxPath string, profile Profile, o BuildOptions) (plan, cache []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if o.FP16 && o.BF16 {
		return nil, nil, errors.New("trt: build: choose fp16 or bf16, not both")
	}
	eb := newErr()
	defer eb.free()
	var lib *C.char
	if b.opts.Parser != "" {
		lib = C.CString(b.opts.Parser)
		defer C.free(unsafe.Pointer(lib))
	}
	if C.b4trt_open_parser(lib, eb.p, errLen) != 0 {
		return nil, nil, fmt.Errorf("trt: no ONNX parser for TensorRT %d: %v", b.version/10000, eb)
	}
	cpath := C.CString(onnxPath)
	defer C.free(unsafe.Pointer(cpath))
	err = b.c.Do(func() error {
		bl := C.b4trt_builder_new(cpath, eb.p, errLen)
		if bl == nil {
			return eb.err()
		}
		defer C.b4trt_builder_destroy(bl)
		var inputs []engine.TensorInfo
		names := map[string]*C.char{}
		for i := 0; i < int(C.b4trt_builder_num_inputs(bl)); i++ {
			var io C.b4trt_io
			if C.b4trt_builder_input(bl, C.int(i), &io, eb.p, errLen) != 0 {
				return eb.err()
			}
			name := C.GoString(io.name)
			dt, err := dtypeOf(int(io.dtype))
			if err != nil {
				return fmt.Errorf("input %q: %w", name, err)
			}
			inputs = append(inputs, engine.TensorInfo{Name: name, DType: dt, Shape: shapeOf(io.nb_dims, &io.dims)})
			names[name] = io.name
		}
		ranges, err := profile(inputs)
		if err != nil {
			return err
		}
		for _, in := range inputs {
			r, ok := ranges[in.Name]
			if !ok {
				return fmt.Errorf("no shape range for input %q %v", in.Name, in.Shape)
			}
			if len(r.Min) != len(in.Shape) || len(r.Opt) != len(in.Shape) || len(r.Max) != len(in.Shape) {
				return fmt.Errorf("input %q %v: shape range %v..%v has another rank", in.Name, in.Shape, r.Min, r.Max)
			}
			cs := func(s engine.Shape) []C.int64_t {
				out := make([]C.int64_t, len(s)+1)
				for i, d := range s {
					out[i] = C.int64_t(d)
				}
				return out
			}
			mn, op, mx := cs(r.Min), cs(r.Opt), cs(r.Max)
			if C.b4trt_builder_profile(bl, names[in.Name], C.int(len(in.Shape)), &mn[0], &op[0], &mx[0], eb.p, errLen) != 0 {
				return fmt.Errorf("input %q: %v", in.Name, eb)
			}
		}
		flags := C.int(0)
		if o.FP16 {
			flags |= C.B4TRT_BUILD_FP16
		}
		if o.BF16 {
			flags |= C.B4TRT_BUILD_BF16
		}
		var cin unsafe.Pointer
		if len(o.TimingCache) > 0 {
			cin = C.CBytes(o.TimingCache)
			defer C.free(cin)
		}
		var p, c unsafe.Pointer
		var pn, cn C.size_t
		if C.b4trt_builder_build(bl, flags, C.uint64_t(o.Workspace), cin, C.size_t(len(o.TimingCache)), &p, &pn, &c, &cn, eb.p, errLen) != 0 {
			return eb.err()
		}
		plan, cache = C.GoBytes(p, C.int(pn)), C.GoBytes(c, C.int(cn))
		C.free(p)
		C.free(c)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("trt: build %s: %w", onnxPath, err)
	}
	return plan, cache, nil
}
