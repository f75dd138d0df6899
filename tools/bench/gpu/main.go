// Command gpu is the device check's benchmark (scripts/device-check.sh).
//
//	gpu -prepare DIR   (here, with ONNX Runtime) writes the TensorRT parity
//	                   case: a tiny ONNX engine, an input and ONNX
//	                   Runtime's CPU output for it
//	gpu -bench         (on a GPU machine, built with the tag cuda) prints
//	                   the pool, rasterizer and skinning rows of the table
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
)

func main() {
	prepare := flag.String("prepare", "", "write the TensorRT parity case into this directory")
	bench := flag.Bool("bench", false, "run the GPU benchmarks (build tag cuda)")
	models := flag.String("models", "sample/models/tiny", "model directory the tiny engine comes from (-prepare)")
	flag.Parse()
	var err error
	switch {
	case *prepare != "":
		err = prepareCase(*prepare, *models)
	case *bench:
		err = runBench(os.Stdout)
	default:
		err = fmt.Errorf("give -prepare DIR or -bench")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpu:", err)
		os.Exit(1)
	}
}

// prepareCase writes case.json, the mesh backbone's ONNX file, a batch-1
// input and ONNX Runtime's output for it (raw little-endian float32).
func prepareCase(dir, models string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const model = "mesh_backbone.onnx"
	src, err := os.Open(filepath.Join(models, model))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, model))
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	rt, err := ort.Open(ort.Options{})
	if err != nil {
		return err
	}
	defer rt.Close()
	e, err := rt.Load(filepath.Join(dir, model))
	if err != nil {
		return err
	}
	defer e.Close()
	shape := engine.Shape{1, 3, 512, 512}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 3*512*512)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	in, err := engine.FromFloat32(shape, x)
	if err != nil {
		return err
	}
	out, err := e.Run(context.Background(), map[string]*engine.Tensor{"image": in})
	if err != nil {
		return err
	}
	f := out["features"]
	if err := writeF32(filepath.Join(dir, "image.f32"), x); err != nil {
		return err
	}
	if err := writeF32(filepath.Join(dir, "features.f32"), f.Float32()); err != nil {
		return err
	}
	c := map[string]any{
		"model":   model,
		"inputs":  []map[string]any{{"name": "image", "shape": shape, "file": "image.f32"}},
		"outputs": []map[string]any{{"name": "features", "shape": f.Shape(), "file": "features.f32"}},
		"ranges":  map[string]any{"image": [3][]int64{{1, 3, 512, 512}, {1, 3, 512, 512}, {4, 3, 512, 512}}},
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "case.json"), data, 0o644)
}

func writeF32(path string, v []float32) error {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return os.WriteFile(path, b, 0o644)
}
