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
	"strings"
	"testing"

	"github.com/body4d/body4d/amodal"
	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/segment"
)

// tinyDir is the committed tiny model set, written by
// tools/export/make_tiny.py together with its goldens.
var tinyDir = filepath.Join("..", "..", "sample", "models", "tiny")

// tinyGolden is one golden file of sample/models/tiny/golden.
type tinyGolden struct {
	Engine string `json:"engine"`
	Inputs map[string]struct {
		Shape  []int64   `json:"shape"`
		Seed   *int64    `json:"pattern_seed"`
		Values []float64 `json:"values"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Shape   []int64   `json:"shape"`
		Sum     float64   `json:"sum"`
		SumSq   float64   `json:"sum_sq"`
		Indices []int     `json:"indices"`
		Values  []float64 `json:"values"`
	} `json:"outputs"`
}

// tinyPattern is the golden input formula of make_tiny.py:
// x[i] = float32(((i*7919 + seed) mod 2003) / 1001.5 - 1), in float64.
func tinyPattern(n int, seed int64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(float64((int64(i)*7919+seed)%2003)/1001.5 - 1)
	}
	return out
}

// TestTinyModels loads every engine of the tiny model set, checks it
// against its stage's contract, runs it on the golden inputs and compares
// with what Python onnxruntime computed when the models were made.
func TestTinyModels(t *testing.T) {
	rt := openTestRuntime(t, Options{})
	dir, err := models.Open(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	if errs := dir.Verify(); len(errs) > 0 {
		t.Fatalf("tiny models: %v", errors.Join(errs...))
	}
	if errs := dir.Check(context.Background(), map[string]engine.Backend{"onnx": rt}, allContracts()); len(errs) > 0 {
		t.Fatalf("tiny models do not match the stage contracts:\n%v", errors.Join(errs...))
	}
	for _, e := range dir.Manifest.Engines {
		t.Run(e.Key(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(tinyDir, "golden", e.Stage+"_"+e.Name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var g tinyGolden
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			path, _ := dir.EnginePath(e.Stage, e.Name)
			eng, err := rt.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			inputs := map[string]*engine.Tensor{}
			for _, in := range eng.Info().Inputs {
				gi, ok := g.Inputs[in.Name]
				if !ok {
					t.Fatalf("golden has no input %q", in.Name)
				}
				tensor, err := tinyInput(in.DType, gi.Shape, gi.Seed, gi.Values)
				if err != nil {
					t.Fatalf("input %q: %v", in.Name, err)
				}
				inputs[in.Name] = tensor
			}
			outs, err := eng.Run(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range g.Outputs {
				got, ok := outs[name]
				if !ok {
					t.Fatalf("no output %q", name)
				}
				if fmt.Sprint(got.Shape()) != fmt.Sprint(engine.Shape(want.Shape)) {
					t.Fatalf("output %q: shape %v, golden %v", name, got.Shape(), want.Shape)
				}
				vals := got.Float32()
				var sum, sumSq, scale, maxErr float64
				for _, v := range vals {
					sum += float64(v)
					sumSq += float64(v) * float64(v)
				}
				for k, i := range want.Indices {
					scale = math.Max(scale, math.Abs(want.Values[k]))
					maxErr = math.Max(maxErr, math.Abs(float64(vals[i])-want.Values[k]))
				}
				// Both sides run the same float32 graph; different ONNX
				// Runtime versions may order reductions differently.
				tol := 1e-5 * math.Max(scale, 1)
				t.Logf("%s: max abs error %.3g over %d sampled values (scale %.3g)", name, maxErr, len(want.Indices), scale)
				if maxErr > tol {
					t.Errorf("output %q: max abs error %g > %g", name, maxErr, tol)
				}
				n := float64(len(vals))
				if math.Abs(sum-want.Sum) > tol*n || math.Abs(sumSq-want.SumSq) > 1e-5*math.Max(want.SumSq, 1) {
					t.Errorf("output %q: sum %g / sum of squares %g, golden %g / %g", name, sum, sumSq, want.Sum, want.SumSq)
				}
			}
		})
	}
}

func tinyInput(dt engine.DType, shape []int64, seed *int64, values []float64) (*engine.Tensor, error) {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	if seed != nil {
		if dt != engine.Float32 {
			return nil, fmt.Errorf("pattern input of type %v", dt)
		}
		return engine.FromFloat32(shape, tinyPattern(n, *seed))
	}
	switch dt {
	case engine.Float32:
		v := make([]float32, len(values))
		for i, x := range values {
			v[i] = float32(x)
		}
		return engine.FromFloat32(shape, v)
	case engine.Int64:
		v := make([]int64, len(values))
		for i, x := range values {
			v[i] = int64(x)
		}
		return engine.FromInt64(shape, v)
	case engine.Int32:
		v := make([]int32, len(values))
		for i, x := range values {
			v[i] = int32(x)
		}
		return engine.FromInt32(shape, v)
	}
	return nil, fmt.Errorf("no golden values for type %v", dt)
}

// TestTinySwappedEngine: a model directory whose fov/moge file holds the
// mesh backbone fails the contract check, naming the engine and a tensor.
func TestTinySwappedEngine(t *testing.T) {
	rt := openTestRuntime(t, Options{})
	d, err := models.Open(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	swapped := *d.Manifest
	swapped.Engines = append([]models.Entry(nil), d.Manifest.Engines...)
	for i, e := range swapped.Engines {
		if e.Key() == "fov/moge" {
			backbone, _ := d.Manifest.Engine("mesh", "backbone")
			swapped.Engines[i].File = backbone.File
		}
	}
	d.Manifest = &swapped
	errs := d.Check(context.Background(), map[string]engine.Backend{"onnx": rt}, allContracts())
	if len(errs) == 0 {
		t.Fatal("a swapped engine passed the contract check")
	}
	var mm *engine.Mismatch
	for _, e := range errs {
		if !strings.HasPrefix(e.Error(), "fov/moge: ") || !errors.As(e, &mm) {
			t.Errorf("unexpected problem %q", e)
		}
	}
	if !strings.Contains(errors.Join(errs...).Error(), `input "image"`) {
		t.Errorf("report does not name the image input:\n%v", errors.Join(errs...))
	}
}

// allContracts is every stage's engine contracts (job.Contracts, which
// this package cannot import: job imports it).
func allContracts() []engine.Contract {
	return slices.Concat(segment.Contracts(), amodal.Contracts(), fov.Contracts(), mesh.Contracts())
}
