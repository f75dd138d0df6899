package ort

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/body4d/body4d/engine"
)

// openTestRuntime opens a Runtime on the library FindLibrary finds and
// closes it when the test ends. A missing library fails the test (CI must
// not pass by testing nothing) unless BODY4D_SKIP_ORT=1 asks to skip.
func openTestRuntime(t testing.TB, opts Options) *Runtime {
	t.Helper()
	if os.Getenv("BODY4D_SKIP_ORT") == "1" {
		t.Skip("BODY4D_SKIP_ORT=1: skipping tests that need the ONNX Runtime library")
	}
	if opts.Library == "" {
		lib, err := FindLibrary()
		if err != nil {
			t.Fatalf("the ONNX Runtime library is needed: run scripts/setup.sh (or set BODY4D_SKIP_ORT=1 to skip these tests): %v", err)
		}
		opts.Library = lib
	}
	r, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	return r
}

func loadTestEngine(t testing.TB, r *Runtime, model string) engine.Engine {
	t.Helper()
	e, err := r.Load(filepath.Join("testdata", model))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Engine.Close: %v", err)
		}
	})
	return e
}

// goldenTensor is a tensor as testdata/gen.py writes it.
type goldenTensor struct {
	DType string            `json:"dtype"`
	Shape []int64           `json:"shape"`
	Data  []json.RawMessage `json:"data"`
}

type goldenCase struct {
	Name    string                  `json:"name"`
	Model   string                  `json:"model"`
	Inputs  map[string]goldenTensor `json:"inputs"`
	Outputs map[string]goldenTensor `json:"outputs"`
}

func readCases(t testing.TB) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("testdata/cases.json: %v", err)
	}
	return cases
}

func (g goldenTensor) tensor() (*engine.Tensor, error) {
	shape := engine.Shape(g.Shape)
	n := len(g.Data)
	switch g.DType {
	case "float32":
		d := make([]float32, n)
		for i, raw := range g.Data {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, err
			}
			d[i] = float32(v)
		}
		return engine.FromFloat32(shape, d)
	case "float16":
		d, err := decodeInts[uint16](g.Data)
		if err != nil {
			return nil, err
		}
		return engine.FromFloat16(shape, d)
	case "int64":
		d, err := decodeInts[int64](g.Data)
		if err != nil {
			return nil, err
		}
		return engine.FromInt64(shape, d)
	case "int32":
		d, err := decodeInts[int32](g.Data)
		if err != nil {
			return nil, err
		}
		return engine.FromInt32(shape, d)
	case "uint8":
		d, err := decodeInts[uint8](g.Data)
		if err != nil {
			return nil, err
		}
		return engine.FromUint8(shape, d)
	case "bool":
		d := make([]bool, n)
		for i, raw := range g.Data {
			if err := json.Unmarshal(raw, &d[i]); err != nil {
				return nil, err
			}
		}
		return engine.FromBool(shape, d)
	}
	return nil, fmt.Errorf("unknown dtype %q", g.DType)
}

func decodeInts[T uint16 | int64 | int32 | uint8](raw []json.RawMessage) ([]T, error) {
	d := make([]T, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &d[i]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// equalBits compares two tensors element by element: floats by bits (so
// NaN payloads and signed zeros count), within tol when tol > 0.
func equalBits(got, want *engine.Tensor, tol float64) error {
	if got.DType() != want.DType() || !slices.Equal(got.Shape(), want.Shape()) {
		return fmt.Errorf("got %v %v, want %v %v", got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	switch want.DType() {
	case engine.Float32:
		g, w := got.Float32(), want.Float32()
		for i := range w {
			if tol > 0 {
				if math.Abs(float64(g[i]-w[i])) > tol {
					return fmt.Errorf("element %d: got %v, want %v (tolerance %g)", i, g[i], w[i], tol)
				}
			} else if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				return fmt.Errorf("element %d: got %v, want %v", i, g[i], w[i])
			}
		}
		return nil
	case engine.Float16:
		return firstDiff(got.Float16(), want.Float16())
	case engine.Int64:
		return firstDiff(got.Int64(), want.Int64())
	case engine.Int32:
		return firstDiff(got.Int32(), want.Int32())
	case engine.Uint8:
		return firstDiff(got.Uint8(), want.Uint8())
	case engine.Bool:
		return firstDiff(got.Bool(), want.Bool())
	}
	return fmt.Errorf("unknown dtype %v", want.DType())
}

func firstDiff[T comparable](got, want []T) error {
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("element %d: got %v, want %v", i, got[i], want[i])
		}
	}
	return nil
}

// TestGolden runs every case of testdata/cases.json and compares each
// output with numpy's result: exactly, except MatMul sums (1e-6), whose
// accumulation order is the runtime's own.
func TestGolden(t *testing.T) {
	r := openTestRuntime(t, Options{})
	engines := map[string]engine.Engine{}
	for _, c := range readCases(t) {
		e := engines[c.Model]
		if e == nil {
			e = loadTestEngine(t, r, c.Model)
			engines[c.Model] = e
		}
		inputs := map[string]*engine.Tensor{}
		for name, g := range c.Inputs {
			x, err := g.tensor()
			if err != nil {
				t.Fatalf("%s: input %s: %v", c.Name, name, err)
			}
			inputs[name] = x
		}
		out, err := e.Run(context.Background(), inputs)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if len(out) != len(c.Outputs) {
			t.Errorf("%s: %d outputs, want %d", c.Name, len(out), len(c.Outputs))
		}
		for name, g := range c.Outputs {
			want, err := g.tensor()
			if err != nil {
				t.Fatalf("%s: output %s: %v", c.Name, name, err)
			}
			got, ok := out[name]
			if !ok {
				t.Errorf("%s: output %q missing", c.Name, name)
				continue
			}
			tol := 0.0
			if c.Model == "dynamic.onnx" && name == "y" {
				tol = 1e-6
			}
			if err := equalBits(got, want, tol); err != nil {
				t.Errorf("%s: output %q: %v", c.Name, name, err)
			}
		}
	}
}

// TestCastMatchesFloat32ToFloat16 checks engine.Float32ToFloat16 against
// ONNX Runtime's own Cast on the golden inputs (ties, subnormals,
// overflow).
func TestCastMatchesFloat32ToFloat16(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e := loadTestEngine(t, r, "cast.onnx")
	for _, c := range readCases(t) {
		if c.Model != "cast.onnx" {
			continue
		}
		x, err := c.Inputs["x"].tensor()
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		y := out["y"].Float16()
		for i, v := range x.Float32() {
			if got := engine.Float32ToFloat16(v); got != y[i] {
				t.Errorf("Float32ToFloat16(%v) = %#04x, ONNX Runtime gives %#04x", v, got, y[i])
			}
		}
		return
	}
	t.Fatal("no cast.onnx case in testdata/cases.json")
}

func TestInfo(t *testing.T) {
	r := openTestRuntime(t, Options{})
	f32, i64 := engine.Float32, engine.Int64
	tests := []struct {
		model string
		want  engine.Info
	}{
		{"dynamic.onnx", engine.Info{
			Inputs:  []engine.TensorInfo{{Name: "x", DType: f32, Shape: engine.Shape{-1, 4}}},
			Outputs: []engine.TensorInfo{{Name: "y", DType: f32, Shape: engine.Shape{-1, 3}}, {Name: "nz", DType: i64, Shape: engine.Shape{2, -1}}},
		}},
		{"scalar.onnx", engine.Info{
			Inputs:  []engine.TensorInfo{{Name: "x", DType: f32, Shape: engine.Shape{3}}, {Name: "s", DType: f32, Shape: engine.Shape{}}},
			Outputs: []engine.TensorInfo{{Name: "y", DType: f32, Shape: engine.Shape{3}}, {Name: "total", DType: f32, Shape: engine.Shape{}}},
		}},
		{"dtypes.onnx", engine.Info{
			Inputs: []engine.TensorInfo{
				{Name: "x_f32", DType: f32, Shape: engine.Shape{2, 3}}, {Name: "x_f16", DType: engine.Float16, Shape: engine.Shape{2, 3}},
				{Name: "x_i64", DType: i64, Shape: engine.Shape{2, 3}}, {Name: "x_i32", DType: engine.Int32, Shape: engine.Shape{2, 3}},
				{Name: "x_u8", DType: engine.Uint8, Shape: engine.Shape{2, 3}}, {Name: "x_bool", DType: engine.Bool, Shape: engine.Shape{2, 3}},
			},
			Outputs: []engine.TensorInfo{
				{Name: "y_f32", DType: f32, Shape: engine.Shape{2, 3}}, {Name: "y_f16", DType: engine.Float16, Shape: engine.Shape{2, 3}},
				{Name: "y_i64", DType: i64, Shape: engine.Shape{2, 3}}, {Name: "y_i32", DType: engine.Int32, Shape: engine.Shape{2, 3}},
				{Name: "y_u8", DType: engine.Uint8, Shape: engine.Shape{2, 3}}, {Name: "y_bool", DType: engine.Bool, Shape: engine.Shape{2, 3}},
				{Name: "f32_to_f16", DType: engine.Float16, Shape: engine.Shape{2, 3}}, {Name: "f16_to_f32", DType: f32, Shape: engine.Shape{2, 3}},
			},
		}},
	}
	for _, tt := range tests {
		e := loadTestEngine(t, r, tt.model)
		got := e.Info()
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Info() = %v, want %v", tt.model, got, tt.want)
		}
		// Info returns a copy.
		got.Inputs[0].Shape[0] = 99
		if e.Info().Inputs[0].Shape[0] == 99 {
			t.Errorf("%s: Info() shares its shapes with the engine", tt.model)
		}
	}
}

// TestContractCheckOnLoadedModel ties the engine's Info to engine.Contract.
func TestContractCheckOnLoadedModel(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e := loadTestEngine(t, r, "dynamic.onnx")
	ok := engine.Contract{Stage: "test", Engine: "dynamic",
		Inputs:  []engine.TensorInfo{{Name: "x", DType: engine.Float32, Shape: engine.Shape{engine.Dynamic, 4}}},
		Outputs: []engine.TensorInfo{{Name: "y", DType: engine.Float32, Shape: engine.Shape{engine.Dynamic, 3}}}}
	if errs := ok.Check(e.Info()); errs != nil {
		t.Errorf("Check: %v", errs)
	}
	bad := ok
	bad.Inputs = []engine.TensorInfo{{Name: "x", DType: engine.Float32, Shape: engine.Shape{engine.Dynamic, 5}}}
	errs := bad.Check(e.Info())
	if len(errs) != 1 || errs[0].Error() != `test/dynamic: input "x": shape got [?,4], want [?,5]` {
		t.Errorf("Check = %v", errs)
	}
}

func TestLoadErrors(t *testing.T) {
	r := openTestRuntime(t, Options{})
	tests := []struct {
		path string
		want []string
	}{
		{"testdata/missing.onnx", []string{"testdata/missing.onnx", "no such file"}},
		{"testdata", []string{"testdata", "is a directory"}},
		{"testdata/not_onnx.onnx", []string{"testdata/not_onnx.onnx is not an ONNX model"}},
		{"testdata/cases.json", []string{"testdata/cases.json is not an ONNX model"}},
		{"testdata/double.onnx", []string{"testdata/double.onnx", `input "x" has element type`, "DOUBLE"}},
	}
	for _, tt := range tests {
		e, err := r.Load(tt.path)
		if err == nil {
			e.Close()
			t.Errorf("Load(%s): no error", tt.path)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%s) error = %q, want it to contain %q", tt.path, err, w)
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e := loadTestEngine(t, r, "scalar.onnx")
	x := engine.Must(engine.FromFloat32(engine.Shape{3}, []float32{1, 2, 3}))
	s := engine.Must(engine.FromFloat32(nil, []float32{2}))
	tests := []struct {
		name   string
		inputs map[string]*engine.Tensor
		want   []string
	}{
		{"missing", map[string]*engine.Tensor{"x": x}, []string{`scalar.onnx: input "s" (float32 []) is missing`}},
		{"nil", map[string]*engine.Tensor{"x": x, "s": nil}, []string{`input "s" (float32 []) is missing`}},
		{"dtype", map[string]*engine.Tensor{"x": engine.Must(engine.New(engine.Int64, engine.Shape{3})), "s": s}, []string{`input "x" is int64, the model wants float32`}},
		{"shape", map[string]*engine.Tensor{"x": engine.Must(engine.New(engine.Float32, engine.Shape{4})), "s": s}, []string{`input "x" has shape [4], the model wants [3]`}},
		{"rank", map[string]*engine.Tensor{"x": x, "s": engine.Must(engine.New(engine.Float32, engine.Shape{1}))}, []string{`input "s" has shape [1], the model wants []`}},
		{"unknown", map[string]*engine.Tensor{"x": x, "s": s, "t": s}, []string{`the model has no input "t" (its inputs: "x", "s")`}},
		{"all at once", map[string]*engine.Tensor{"t": s}, []string{`input "x" (float32 [3]) is missing`, `input "s" (float32 []) is missing`, `no input "t"`}},
	}
	for _, tt := range tests {
		out, err := e.Run(context.Background(), tt.inputs)
		if err == nil {
			t.Errorf("%s: no error, got %v", tt.name, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error = %q, want it to contain %q", tt.name, err, w)
			}
		}
	}
	// The engine still works after rejected runs.
	out, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x, "s": s})
	if err != nil || out["total"].Float32()[0] != 12 {
		t.Errorf("valid run after errors: %v, %v", out, err)
	}
}

func TestEdgeShapes(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e := loadTestEngine(t, r, "dynamic.onnx")
	x, _ := engine.New(engine.Float32, engine.Shape{0, 4})
	out, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x})
	if err != nil {
		t.Fatalf("batch of 0: %v", err)
	}
	if y, nz := out["y"].Shape(), out["nz"].Shape(); !slices.Equal(y, engine.Shape{0, 3}) || !slices.Equal(nz, engine.Shape{2, 0}) {
		t.Errorf("batch of 0: y %v, nz %v", y, nz)
	}

	f16 := loadTestEngine(t, r, "f16_dynamic.onnx")
	if got := f16.Info().Outputs[0].Shape; !slices.Equal(got, engine.Shape{engine.Dynamic}) {
		t.Errorf("f16_dynamic.onnx output shape %v", got)
	}
	h, _ := engine.New(engine.Float16, engine.Shape{4})
	_, err = f16.Run(context.Background(), map[string]*engine.Tensor{"x": h})
	if err == nil || !strings.Contains(err.Error(), `output "y" is float16 with dynamic shape [?]`) {
		t.Errorf("float16 output of dynamic shape: %v", err)
	}
}

func TestRunAfterClose(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e, err := r.Load("testdata/add16.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	x, _ := engine.New(engine.Float32, engine.Shape{1, 16})
	if _, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x}); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("Run after Close: %v", err)
	}
}

// TestCancel stops a long run (24 2000x2000 MatMuls on one thread, 0.4
// TFLOP) a moment after it starts: Run must return context.Canceled
// together with ONNX Runtime's own report that the terminate flag stopped
// it, which a run that went on to finish would not give. Nothing here
// depends on how fast the machine is.
func TestCancel(t *testing.T) {
	r := openTestRuntime(t, Options{IntraOpThreads: 1})
	e := loadTestEngine(t, r, "slow.onnx")

	small, _ := engine.New(engine.Float32, engine.Shape{4, 4})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Run(ctx, map[string]*engine.Tensor{"x": small}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v, want context.Canceled", err)
	}

	x, _ := engine.New(engine.Float32, engine.Shape{2000, 2000})
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, map[string]*engine.Tensor{"x": x})
		done <- err
	}()
	// Cancel once the run has had a moment to start; cancelling before it
	// starts is tested above and yields the same error, so the timing is
	// not what the test checks.
	time.AfterFunc(200*time.Millisecond, cancel)
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "terminate") {
		t.Errorf("Run cancelled mid-way: %v, want context.Canceled and ONNX Runtime's terminate error", err)
	} else {
		t.Logf("cancelled run: %v", err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e := loadTestEngine(t, r, "scalar.onnx")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			k := float32(g)
			x := engine.Must(engine.FromFloat32(engine.Shape{3}, []float32{1, 2, k}))
			s := engine.Must(engine.FromFloat32(nil, []float32{k}))
			for range 50 {
				out, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x, "s": s})
				if err != nil {
					errs <- err
					return
				}
				if got, want := out["total"].Float32()[0], (3+k)*k; got != want {
					errs <- fmt.Errorf("goroutine %d: total %v, want %v", g, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestInputsNotCopied checks that Run reads the caller's storage: a change
// to the slice behind a tensor shows in the next result.
func TestInputsNotCopied(t *testing.T) {
	r := openTestRuntime(t, Options{})
	e := loadTestEngine(t, r, "add16.onnx")
	data := make([]float32, 16)
	x := engine.Must(engine.FromFloat32(engine.Shape{1, 16}, data))
	for _, v := range []float32{1, 5} {
		data[3] = v
		out, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out["y"].Float32()[3], v+3.0/16; got != want {
			t.Errorf("y[3] = %v, want %v", got, want)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Provider: Provider(7)}, "unknown execution provider Provider(7)"},
		{Options{DeviceID: -1}, "device ID -1 is negative"},
		{Options{IntraOpThreads: -2}, "IntraOpThreads -2 is negative"},
		{Options{Library: "testdata/no-such-lib.so"}, "testdata/no-such-lib.so: no such file"},
		{Options{Library: "testdata"}, "testdata: is a directory"},
	}
	for _, tt := range tests {
		r, err := Open(tt.opts)
		if err == nil {
			r.Close()
			t.Errorf("Open(%+v): no error", tt.opts)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%+v) error = %q, want it to contain %q", tt.opts, err, tt.want)
		}
	}
}

// TestGPUProvidersMissing: the CPU library scripts/setup.sh installs has
// neither CUDA nor TensorRT; asking for them is a clean error from Open.
func TestGPUProvidersMissing(t *testing.T) {
	r := openTestRuntime(t, Options{}) // fails clearly if there is no library
	for _, p := range []Provider{CUDA, TensorRT} {
		g, err := Open(Options{Library: r.Library(), Provider: p})
		if err == nil {
			g.Close()
			t.Skipf("%s has the %v provider; this test is for CPU builds", r.Library(), p)
		}
		for _, w := range []string{p.String(), "execution provider", r.Library()} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%v) error = %q, want it to contain %q", p, err, w)
			}
		}
	}
	// The failed Opens released what they took: the runtime still works.
	e := loadTestEngine(t, r, "add16.onnx")
	x, _ := engine.New(engine.Float32, engine.Shape{1, 16})
	if _, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x}); err != nil {
		t.Error(err)
	}
}

func TestOneLibraryPerProcess(t *testing.T) {
	r := openTestRuntime(t, Options{})
	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(other, []byte("another library"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Library: other})
	if err == nil || !strings.Contains(err.Error(), "already loaded") || !strings.Contains(err.Error(), other) {
		t.Errorf("Open with a second library: %v", err)
	}
	// The same library through a symlink is the same library.
	link := filepath.Join(t.TempDir(), "link.so")
	if err := os.Symlink(r.Library(), link); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(Options{Library: link})
	if err != nil {
		t.Fatalf("Open via symlink: %v", err)
	}
	r2.Close()
}

// TestReopen closes every Runtime and Engine, which unloads the library,
// then opens it again.
func TestReopen(t *testing.T) {
	for i := range 3 {
		r := openTestRuntime(t, Options{})
		e, err := r.Load("testdata/add16.onnx")
		if err != nil {
			t.Fatal(err)
		}
		// The engine outlives its runtime.
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Load("testdata/add16.onnx"); err == nil || !strings.Contains(err.Error(), "runtime is closed") {
			t.Errorf("Load after Close: %v", err)
		}
		x, _ := engine.New(engine.Float32, engine.Shape{1, 16})
		if _, err := e.Run(context.Background(), map[string]*engine.Tensor{"x": x}); err != nil {
			t.Errorf("round %d: %v", i, err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		env.Lock()
		refs := env.refs
		env.Unlock()
		if refs != 0 {
			t.Fatalf("round %d: %d references left after closing everything", i, refs)
		}
	}
}

// BenchmarkRun measures the cost of one engine call on a 1x16 add, which
// is nearly all overhead: input wrapping, the runtime call, the output.
// BODY4D_BENCH_THREADS sets the intra-op threads (default 1), so that
// tools/bench/ort_overhead can match Python's setting.
func BenchmarkRun(b *testing.B) {
	threads := 1
	if s := os.Getenv("BODY4D_BENCH_THREADS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			b.Fatalf("BODY4D_BENCH_THREADS=%q: want a count >= 0", s)
		}
		threads = n
	}
	r := openTestRuntime(b, Options{IntraOpThreads: threads})
	b.Logf("ONNX Runtime %s (%s), %d intra-op threads", r.Version(), r.Library(), threads)
	e := loadTestEngine(b, r, "add16.onnx")
	x, _ := engine.New(engine.Float32, engine.Shape{1, 16})
	in := map[string]*engine.Tensor{"x": x}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Run(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
