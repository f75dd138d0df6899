package ort

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/body4d/body4d/engine"
)

// ortInfo is what ONNX Runtime itself says a model's inputs and outputs
// are, from a session of its own (optimizations off): the reference for
// readInfo.
func ortInfo(path string) (engine.Info, error) {
	so, err := onnx.NewSessionOptions()
	if err != nil {
		return engine.Info{}, err
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(onnx.GraphOptimizationLevelDisableAll); err != nil {
		return engine.Info{}, err
	}
	ins, outs, err := onnx.GetInputOutputInfoWithOptions(path, so)
	if err != nil {
		return engine.Info{}, err
	}
	return infoOf(path, ins, outs)
}

// TestReadInfoMatchesORT compares readInfo with ONNX Runtime's own reading
// on every model in testdata and in the tiny model set (all 25 engines);
// BODY4D_INFO_DIRS (colon-separated) adds directories, by hand (the
// real-size set: README, Real-size dry run).
func TestReadInfoMatchesORT(t *testing.T) {
	openTestRuntime(t, Options{})
	dirs := []string{"testdata", filepath.Join("..", "..", "sample", "models", "tiny")}
	if extra := os.Getenv("BODY4D_INFO_DIRS"); extra != "" {
		dirs = append(dirs, strings.Split(extra, ":")...)
	}
	n := 0
	for _, dir := range dirs {
		paths, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			want, werr := ortInfo(path)
			got, gerr := readInfo(path)
			switch {
			case werr != nil && gerr == nil:
				t.Errorf("%s: ONNX Runtime: %v; readInfo: no error", path, werr)
			case werr == nil && gerr != nil:
				t.Errorf("%s: readInfo: %v", path, gerr)
			case werr == nil && !sameInfo(got, want):
				t.Errorf("%s: readInfo\n  %+v\nONNX Runtime\n  %+v", path, got, want)
			case werr == nil && !reflect.DeepEqual(got, want):
				t.Logf("%s: outputs as declared %v; ONNX Runtime infers %v", path, got.Outputs, want.Outputs)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("compared %d models, want the testdata and all tiny engines (≥ 30)", n)
	}
}

// sameInfo: inputs identical; outputs the same names, element types and
// ranks, each dimension equal or dynamic in got where ONNX Runtime's shape
// inference fixed it (a dimension the file leaves without value or name).
func sameInfo(got, want engine.Info) bool {
	if !reflect.DeepEqual(got.Inputs, want.Inputs) || len(got.Outputs) != len(want.Outputs) {
		return false
	}
	for i, g := range got.Outputs {
		w := want.Outputs[i]
		if g.Name != w.Name || g.DType != w.DType || len(g.Shape) != len(w.Shape) {
			return false
		}
		for k, d := range g.Shape {
			if d != w.Shape[k] && d != engine.Dynamic {
				return false
			}
		}
	}
	return true
}

// An initializer listed among the graph inputs (older exporters did so) is
// not an input of the session; sessions and readInfo agree on that.
func TestReadInfoInitializerInputs(t *testing.T) {
	info, err := readInfo(filepath.Join("testdata", "initializer_input.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Inputs) != 1 || info.Inputs[0].Name != "x" {
		t.Errorf("inputs = %+v, want only x (w is an initializer)", info.Inputs)
	}
	if want := (engine.Shape{engine.Dynamic, 3}); len(info.Outputs) != 1 || !reflect.DeepEqual(info.Outputs[0].Shape, want) {
		t.Errorf("outputs = %+v, want y %v (its first dimension has neither value nor name)", info.Outputs, want)
	}
}

// FuzzReadInfo: any bytes give an Info or an error, never a panic or an
// unbounded allocation.
func FuzzReadInfo(f *testing.F) {
	for _, name := range []string{"dynamic.onnx", "scalar.onnx", "initializer_input.onnx", "not_onnx.onnx"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "m.onnx")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		readInfo(path)
	})
}
