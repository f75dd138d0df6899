package trt

import (
	"errors"
	"fmt"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/models"
)

// ErrNotBuilt is returned by Open in a build without the "tensorrt" tag.
var ErrNotBuilt = errors.New("body4d was built without TensorRT support (build tag tensorrt)")

// Options configure a Backend.
type Options struct {
	// Ordinal is the CUDA device the plans run on.
	Ordinal int
	// Pool, if not nil, is where engines' device buffers come from; nil
	// makes a pool on the device (gpu.PoolMargin of NVML's free memory
	// left alone).
	Pool *gpu.Pool
	// Library and Parser, if not empty, are the paths of libnvinfer and
	// libnvonnxparser to load instead of libnvinfer.so.N and
	// libnvonnxparser.so.N (N the TensorRT major version the build used).
	Library, Parser string
}

// ShapeRange is an input's shapes in an optimisation profile.
type ShapeRange struct{ Min, Opt, Max engine.Shape }

// BuildOptions configure Backend.Build.
type BuildOptions struct {
	// FP16 and BF16 let the builder use that precision where it is faster
	// (TensorRT 10; TensorRT 11 builds strongly typed networks only).
	FP16, BF16 bool
	// Workspace caps the builder's scratch memory in bytes; 0 leaves
	// TensorRT's default (the device's memory).
	Workspace uint64
	// TimingCache is a previous build's cache to start from; Build
	// returns the updated one.
	TimingCache []byte
}

// Profile gives the shape range of every input of a network, from the
// inputs the ONNX file declares (Build calls it once it has parsed it).
type Profile func(inputs []engine.TensorInfo) (map[string]ShapeRange, error)

// CheckTarget compares the GPU and TensorRT version a plan of engine (a
// "stage/name") was built for with those here, and names both when they
// differ: a plan runs only where it was built.
func CheckTarget(engine string, built, here models.Target) error {
	if built == here {
		return nil
	}
	return fmt.Errorf("%s: the plan was built for %v, this machine has %v: rebuild the plans here with body4d engines build", engine, built, here)
}

// formatVersion spells a TensorRT version number (10.16.0 is 101600).
func formatVersion(v int) string { return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100) }
