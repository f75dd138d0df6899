//go:build tensorrt

package trt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
)

var _ engine.Backend = (*Backend)(nil)
var _ engine.Engine = (*Engine)(nil)

func TestCheckShape(t *testing.T) {
	in := ioTensor{
		info: engine.TensorInfo{Name: "image", DType: engine.Float32, Shape: engine.Shape{-1, 3, 512, 512}},
		min:  engine.Shape{1, 3, 512, 512}, max: engine.Shape{8, 3, 512, 512},
	}
	tests := []struct {
		shape engine.Shape
		err   string
	}{
		{shape: engine.Shape{4, 3, 512, 512}},
		{shape: engine.Shape{3, 512, 512}, err: "rank 3"},
		{shape: engine.Shape{1, 1, 512, 512}, err: "plan wants"},
		{shape: engine.Shape{9, 3, 512, 512}, err: "outside the profile's range [1,8]"},
	}
	for _, tt := range tests {
		err := in.checkShape(tt.shape)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("checkShape(%v) = %v, want %q", tt.shape, err, tt.err)
		}
	}
}

// openOrSkip opens TensorRT on GPU 0. Where libnvinfer or a GPU is
// missing the test skips, unless BODY4D_REQUIRE_TRT=1 (the device check
// sets it where libnvinfer is present), where it fails.
func openOrSkip(t *testing.T) *Backend {
	t.Helper()
	b, err := Open(Options{})
	if err != nil {
		if os.Getenv("BODY4D_REQUIRE_TRT") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no TensorRT here: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// TestOpenWithoutTensorRT runs where libnvinfer is absent (CI): the
// binary started, and Open names the library it could not load.
func TestOpenWithoutTensorRT(t *testing.T) {
	_, err := Open(Options{})
	if err == nil {
		t.Skip("TensorRT and a GPU are present")
	}
	if !strings.Contains(err.Error(), "libnvinfer.so.") && !strings.Contains(err.Error(), "GPU") {
		t.Errorf("Open = %v, want an error naming libnvinfer or the missing GPU", err)
	}
	t.Log(err)
}

func TestLoadBadPlan(t *testing.T) {
	b := openOrSkip(t)
	path := t.TempDir() + "/bad.plan"
	if err := os.WriteFile(path, []byte("not a plan"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(path); err == nil || !strings.Contains(err.Error(), "bad.plan") {
		t.Errorf("Load(bad plan) = %v, want an error naming the file", err)
	}
}

// tinyCase is what scripts/device-check.sh build writes into
// $BODY4D_TRT_CASE: a tiny ONNX engine, an input and ONNX Runtime's (CPU)
// output for it, as raw little-endian float32.
type tinyCase struct {
	Model  string                `json:"model"`
	Inputs []tinyTensor          `json:"inputs"`
	Output []tinyTensor          `json:"outputs"`
	Ranges map[string][3][]int64 `json:"ranges"`
}

type tinyTensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	File  string  `json:"file"`
}

func readF32(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestTinyPlanMatchesORT builds a plan from the tiny engine with Build,
// runs it and compares with ONNX Runtime's CPU output.
func TestTinyPlanMatchesORT(t *testing.T) {
	dir := os.Getenv("BODY4D_TRT_CASE")
	if dir == "" {
		if os.Getenv("BODY4D_REQUIRE_TRT") == "1" {
			t.Fatal("BODY4D_TRT_CASE not set")
		}
		t.Skip("BODY4D_TRT_CASE not set")
	}
	b := openOrSkip(t)
	raw, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c tinyCase
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	plan, cache, err := b.Build(context.Background(), filepath.Join(dir, c.Model), func([]engine.TensorInfo) (map[string]ShapeRange, error) {
		r := map[string]ShapeRange{}
		for name, mm := range c.Ranges {
			r[name] = ShapeRange{Min: mm[0], Opt: mm[1], Max: mm[2]}
		}
		return r, nil
	}, BuildOptions{Workspace: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan %d bytes, timing cache %d bytes, target %v", len(plan), len(cache), b.Target())
	path := filepath.Join(t.TempDir(), "tiny.plan")
	if err := os.WriteFile(path, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := b.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	in := map[string]*engine.Tensor{}
	for _, x := range c.Inputs {
		if in[x.Name], err = engine.FromFloat32(x.Shape, readF32(t, filepath.Join(dir, x.File))); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range c.Output {
		got := out[want.Name]
		if got == nil || got.Shape().String() != engine.Shape(want.Shape).String() {
			t.Fatalf("output %q: got %v, want shape %v", want.Name, got, want.Shape)
		}
		w := readF32(t, filepath.Join(dir, want.File))
		var num, den float64
		for i, v := range got.Float32() {
			num = max(num, math.Abs(float64(v)-float64(w[i])))
			den = max(den, math.Abs(float64(w[i])))
		}
		t.Logf("output %s: max |TensorRT − ORT| %.3g, relative %.3g", want.Name, num, num/den)
		if num > 1e-3*den {
			t.Errorf("output %s: TensorRT differs from ONNX Runtime by %.3g of its scale, want ≤ 1e-3 (fp32, TF32 allowed)", want.Name, num/den)
		}
	}
}
