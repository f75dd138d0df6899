package ort

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/body4d/body4d/engine"
)

// Load opens an ONNX model file as an engine. Its inputs and outputs, with
// dynamic dimensions as engine.Dynamic, come from the model.
func (r *Runtime) Load(path string) (engine.Engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("ort: load %s: the runtime is closed", path)
	}
	info, err := r.Info(path)
	if err != nil {
		return nil, err
	}
	so, err := r.sessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	names := func(ts []engine.TensorInfo) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.Name
		}
		return out
	}
	s, err := onnx.NewDynamicAdvancedSession(path, names(info.Inputs), names(info.Outputs), so)
	if err != nil {
		return nil, fmt.Errorf("ort: model %s: %w", path, err)
	}
	retain()
	return &session{path: path, info: info, s: s}, nil
}

func tensorInfos(path, io string, infos []onnx.InputOutputInfo) ([]engine.TensorInfo, error) {
	out := make([]engine.TensorInfo, len(infos))
	for i, in := range infos {
		if in.OrtValueType != onnx.ONNXTypeTensor {
			return nil, fmt.Errorf("ort: model %s: %s %q is a %v, not a tensor", path, io, in.Name, in.OrtValueType)
		}
		dt, ok := dtypeOf(in.DataType)
		if !ok {
			return nil, fmt.Errorf("ort: model %s: %s %q has element type %v, which body4d engines do not exchange (float32, float16, int64, int32, uint8, bool)",
				path, io, in.Name, in.DataType)
		}
		shape := make(engine.Shape, len(in.Dimensions))
		for k, d := range in.Dimensions {
			if d < 0 {
				d = engine.Dynamic
			}
			shape[k] = d
		}
		out[i] = engine.TensorInfo{Name: in.Name, DType: dt, Shape: shape}
	}
	return out, nil
}

func dtypeOf(t onnx.TensorElementDataType) (engine.DType, bool) {
	switch t {
	case onnx.TensorElementDataTypeFloat:
		return engine.Float32, true
	case onnx.TensorElementDataTypeFloat16:
		return engine.Float16, true
	case onnx.TensorElementDataTypeInt64:
		return engine.Int64, true
	case onnx.TensorElementDataTypeInt32:
		return engine.Int32, true
	case onnx.TensorElementDataTypeUint8:
		return engine.Uint8, true
	case onnx.TensorElementDataTypeBool:
		return engine.Bool, true
	}
	return 0, false
}

// Info reads a model's inputs and outputs from its file without loading
// it: what the engine Load makes of it reports (see readInfo).
func (r *Runtime) Info(path string) (engine.Info, error) {
	if err := isFile(path); err != nil {
		return engine.Info{}, fmt.Errorf("ort: model %s: %w", path, err)
	}
	return readInfo(path)
}

// session is a loaded model. ONNX Runtime sessions may run concurrently;
// mu only keeps Close from destroying one mid-run.
type session struct {
	path string
	info engine.Info
	s    *onnx.DynamicAdvancedSession

	mu     sync.RWMutex
	closed bool
}

func (e *session) Info() engine.Info {
	clone := func(ts []engine.TensorInfo) []engine.TensorInfo {
		out := make([]engine.TensorInfo, len(ts))
		for i, t := range ts {
			t.Shape = slices.Clone(t.Shape)
			out[i] = t
		}
		return out
	}
	return engine.Info{Inputs: clone(e.info.Inputs), Outputs: clone(e.info.Outputs)}
}

func (e *session) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	err := e.s.Destroy()
	if rerr := release(); err == nil {
		err = rerr
	}
	return err
}

// Run feeds the inputs to the model and returns every output. The input
// tensors' storage is handed to ONNX Runtime as is; outputs whose shape
// the model fixes are written straight into new Tensors, the others are
// allocated by ONNX Runtime and copied once. Cancelling ctx stops a run in
// progress.
func (e *session) Run(ctx context.Context, inputs map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ort: %s: %w", e.path, err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("ort: %s: run after Close", e.path)
	}
	if err := e.checkInputs(inputs); err != nil {
		return nil, err
	}
	for _, ti := range e.info.Outputs {
		if ti.DType == engine.Float16 && slices.Contains(ti.Shape, engine.Dynamic) {
			// onnxruntime_go v1.27.0 copies a float16 output it allocated
			// with one byte per element, then fails; only outputs we can
			// preallocate (fixed shape) work.
			return nil, fmt.Errorf("ort: %s: output %q is float16 with dynamic shape %v, which onnxruntime_go cannot return; export it with a fixed shape or as float32", e.path, ti.Name, ti.Shape)
		}
	}

	in := make([]onnx.Value, len(e.info.Inputs))
	out := make([]onnx.Value, len(e.info.Outputs))
	result := make(map[string]*engine.Tensor, len(out))
	defer func() {
		destroy(in)
		destroy(out)
		// The values point into Go memory (the input tensors, the
		// preallocated outputs, the scalars' own storage) that ONNX
		// Runtime reads and writes during the run: keep all of it alive
		// until the values are gone, or the collector may reuse it while
		// C still uses it.
		runtime.KeepAlive(inputs)
		runtime.KeepAlive(result)
	}()
	for i, ti := range e.info.Inputs {
		v, err := toValue(inputs[ti.Name])
		if err != nil {
			return nil, fmt.Errorf("ort: %s: input %q: %w", e.path, ti.Name, err)
		}
		in[i] = v
	}
	for i, ti := range e.info.Outputs {
		switch {
		case len(ti.Shape) == 0:
			// onnxruntime_go cannot return a rank-0 output it did not
			// allocate itself; give it a scalar to fill, read below.
			v, err := emptyScalar(ti.DType)
			if err != nil {
				return nil, fmt.Errorf("ort: %s: output %q: %w", e.path, ti.Name, err)
			}
			out[i] = v
		case !slices.Contains(ti.Shape, engine.Dynamic):
			t, err := engine.New(ti.DType, ti.Shape)
			if err != nil {
				return nil, fmt.Errorf("ort: %s: output %q: %w", e.path, ti.Name, err)
			}
			v, err := toValue(t)
			if err != nil {
				return nil, fmt.Errorf("ort: %s: output %q: %w", e.path, ti.Name, err)
			}
			out[i] = v
			result[ti.Name] = t
		}
		// Otherwise the shape depends on the inputs; ONNX Runtime
		// allocates the output and onnxruntime_go copies it to Go memory.
	}

	if err := e.run(ctx, in, out); err != nil {
		return nil, err
	}
	for i, ti := range e.info.Outputs {
		if _, ok := result[ti.Name]; ok {
			continue
		}
		t, err := fromValue(out[i])
		if err != nil {
			return nil, fmt.Errorf("ort: %s: output %q: %w", e.path, ti.Name, err)
		}
		result[ti.Name] = t
	}
	return result, nil
}

// run calls the session, terminating it if ctx is cancelled meanwhile.
func (e *session) run(ctx context.Context, in, out []onnx.Value) error {
	var opts *onnx.RunOptions
	if ctx.Done() != nil {
		var err error
		if opts, err = onnx.NewRunOptions(); err != nil {
			return fmt.Errorf("ort: %s: %w", e.path, err)
		}
		defer opts.Destroy()
		terminated := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(terminated)
			opts.Terminate()
		})
		defer func() {
			if !stop() {
				<-terminated // opts must outlive Terminate
			}
		}()
	}
	err := e.s.RunWithOptions(in, out, opts)
	if cerr := ctx.Err(); cerr != nil {
		if err != nil { // ONNX Runtime's own word that it stopped
			return fmt.Errorf("ort: %s: %w (%v)", e.path, cerr, err)
		}
		return fmt.Errorf("ort: %s: %w", e.path, cerr)
	}
	if err != nil {
		return fmt.Errorf("ort: %s: %w", e.path, err)
	}
	return nil
}

// checkInputs reports every missing, unknown or mismatched input tensor.
func (e *session) checkInputs(inputs map[string]*engine.Tensor) error {
	var errs []error
	known := make(map[string]bool, len(e.info.Inputs))
	for _, ti := range e.info.Inputs {
		known[ti.Name] = true
		t := inputs[ti.Name]
		if t == nil {
			errs = append(errs, fmt.Errorf("ort: %s: input %q (%v %v) is missing", e.path, ti.Name, ti.DType, ti.Shape))
			continue
		}
		if t.DType() != ti.DType {
			errs = append(errs, fmt.Errorf("ort: %s: input %q is %v, the model wants %v", e.path, ti.Name, t.DType(), ti.DType))
			continue
		}
		if !fits(t.Shape(), ti.Shape) {
			errs = append(errs, fmt.Errorf("ort: %s: input %q has shape %v, the model wants %v", e.path, ti.Name, t.Shape(), ti.Shape))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		if !known[name] {
			errs = append(errs, fmt.Errorf("ort: %s: the model has no input %q (its inputs: %s)", e.path, name, inputNames(e.info)))
		}
	}
	return errors.Join(errs...)
}

func inputNames(info engine.Info) string {
	names := make([]string, len(info.Inputs))
	for i, t := range info.Inputs {
		names[i] = fmt.Sprintf("%q", t.Name)
	}
	return strings.Join(names, ", ")
}

// fits reports whether a concrete shape matches a model shape.
func fits(s, model engine.Shape) bool {
	if len(s) != len(model) {
		return false
	}
	for i, d := range model {
		if d >= 0 && s[i] != d {
			return false
		}
	}
	return true
}

// destroy releases values. onnxruntime_go may leave a typed nil pointer in
// an output slot whose conversion failed; those are skipped.
func destroy(vs []onnx.Value) {
	for _, v := range vs {
		if v != nil && !reflect.ValueOf(v).IsNil() {
			v.Destroy()
		}
	}
}

// toValue wraps a tensor's storage as an ONNX Runtime value without
// copying. The tensor must stay alive until the value is destroyed.
func toValue(t *engine.Tensor) (onnx.Value, error) {
	shape := onnx.Shape(t.Shape())
	if len(shape) == 0 {
		return scalarValue(t)
	}
	switch t.DType() {
	case engine.Float32:
		return onnx.NewTensor(shape, t.Float32())
	case engine.Float16:
		// onnxruntime_go has no float16 Go type; hand the bits over as
		// bytes. A zero-size tensor still needs a non-empty buffer.
		bits := t.Float16()
		b := []byte{0, 0}
		if len(bits) > 0 {
			b = unsafe.Slice((*byte)(unsafe.Pointer(&bits[0])), 2*len(bits))
		}
		return onnx.NewCustomDataTensor(shape, b, onnx.TensorElementDataTypeFloat16)
	case engine.Int64:
		return onnx.NewTensor(shape, t.Int64())
	case engine.Int32:
		return onnx.NewTensor(shape, t.Int32())
	case engine.Uint8:
		return onnx.NewTensor(shape, t.Uint8())
	case engine.Bool:
		return onnx.NewTensor(shape, t.Bool())
	}
	return nil, fmt.Errorf("unsupported element type %v", t.DType())
}

// scalarValue wraps a rank-0 tensor. onnxruntime_go's scalars copy their
// one element, and it has none for float16.
func scalarValue(t *engine.Tensor) (onnx.Value, error) {
	switch t.DType() {
	case engine.Float32:
		return onnx.NewScalar(t.Float32()[0])
	case engine.Int64:
		return onnx.NewScalar(t.Int64()[0])
	case engine.Int32:
		return onnx.NewScalar(t.Int32()[0])
	case engine.Uint8:
		return onnx.NewScalar(t.Uint8()[0])
	case engine.Bool:
		return onnx.NewScalar(t.Bool()[0])
	}
	return nil, fmt.Errorf("rank-0 %v tensors are not supported by onnxruntime_go", t.DType())
}

func emptyScalar(dt engine.DType) (onnx.Value, error) {
	switch dt {
	case engine.Float32:
		return onnx.NewEmptyScalar[float32]()
	case engine.Int64:
		return onnx.NewEmptyScalar[int64]()
	case engine.Int32:
		return onnx.NewEmptyScalar[int32]()
	case engine.Uint8:
		return onnx.NewEmptyScalar[uint8]()
	case engine.Bool:
		return onnx.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("rank-0 %v tensors are not supported by onnxruntime_go", dt)
}

// fromValue turns a value ONNX Runtime allocated into a Tensor sharing its
// Go storage.
func fromValue(v onnx.Value) (*engine.Tensor, error) {
	shape := engine.Shape(v.GetShape())
	switch v := v.(type) {
	case *onnx.Tensor[float32]:
		return engine.FromFloat32(shape, v.GetData())
	case *onnx.Tensor[int64]:
		return engine.FromInt64(shape, v.GetData())
	case *onnx.Tensor[int32]:
		return engine.FromInt32(shape, v.GetData())
	case *onnx.Tensor[uint8]:
		return engine.FromUint8(shape, v.GetData())
	case *onnx.Tensor[bool]:
		return engine.FromBool(shape, v.GetData())
	case *onnx.Scalar[float32]:
		return engine.FromFloat32(nil, []float32{v.GetData()})
	case *onnx.Scalar[int64]:
		return engine.FromInt64(nil, []int64{v.GetData()})
	case *onnx.Scalar[int32]:
		return engine.FromInt32(nil, []int32{v.GetData()})
	case *onnx.Scalar[uint8]:
		return engine.FromUint8(nil, []uint8{v.GetData()})
	case *onnx.Scalar[bool]:
		return engine.FromBool(nil, []bool{v.GetData()})
	case *onnx.CustomDataTensor:
		if onnx.TensorElementDataType(v.DataType()) != onnx.TensorElementDataTypeFloat16 {
			break
		}
		// The bytes are the native-endian half bits. Reuse them in place
		// when aligned for uint16 (Go's allocator makes them so).
		b := v.GetData()
		n := int(v.GetShape().FlattenedSize())
		if len(b) < 2*n {
			return nil, fmt.Errorf("float16 output has %d bytes for %d elements", len(b), n)
		}
		if n > 0 && uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
			return engine.FromFloat16(shape, unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n))
		}
		bits := make([]uint16, n)
		if n > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&bits[0])), 2*n), b)
		}
		return engine.FromFloat16(shape, bits)
	}
	if v == nil {
		return nil, errors.New("ONNX Runtime returned no value")
	}
	return nil, fmt.Errorf("ONNX Runtime returned a %v of element type %v, which body4d engines do not exchange",
		v.GetONNXType(), onnx.TensorElementDataType(v.DataType()))
}
