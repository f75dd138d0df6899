//go:build tensorrt

package trt

import (
	"context"
	"os"
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

func TestLoadBadPlan(t *testing.T) {
	path := t.TempDir() + "/bad.plan"
	if err := os.WriteFile(path, []byte("not a plan"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(path); err == nil || !strings.Contains(err.Error(), "bad.plan") {
		t.Errorf("Load(bad plan) = %v, want an error naming the file", err)
	}
}

// TestPlan runs a real plan named by BODY4D_TRT_PLAN (needs a GPU) with
// zero inputs at each input's profile minimum, and checks the outputs
// have the shapes the context reports.
func TestPlan(t *testing.T) {
	path := os.Getenv("BODY4D_TRT_PLAN")
	if path == "" {
		t.Skip("BODY4D_TRT_PLAN not set")
	}
	b, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := b.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	e := eng.(*Engine)
	inputs := map[string]*engine.Tensor{}
	shapes := map[string]engine.Shape{}
	for _, in := range e.Info().Inputs {
		s := in.Shape
		if min, _, ok := e.ProfileRange(in.Name); ok {
			s = min
		}
		x, err := engine.New(in.DType, s)
		if err != nil {
			t.Fatal(err)
		}
		inputs[in.Name], shapes[in.Name] = x, s
	}
	want, err := e.OutputShapes(shapes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range want {
		if got[name] == nil || got[name].Shape().String() != s.String() {
			t.Errorf("output %q: got %v, want shape %v", name, got[name], s)
		}
	}
}
