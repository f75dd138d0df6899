//go:build !tensorrt

package trt

import (
	"errors"

	"github.com/body4d/body4d/engine"
)

// ErrNotBuilt is returned by every entry point of a build without the
// "tensorrt" build tag.
var ErrNotBuilt = errors.New("body4d was built without TensorRT support (build tag tensorrt)")

// Backend loads TensorRT plans on one GPU.
type Backend struct {
	Device int // CUDA device ordinal
}

// Open returns ErrNotBuilt: this build has no TensorRT.
func Open() (*Backend, error) { return nil, ErrNotBuilt }

// Name returns "trt".
func (b *Backend) Name() string { return "trt" }

// Load returns ErrNotBuilt: this build has no TensorRT.
func (b *Backend) Load(path string) (engine.Engine, error) { return nil, ErrNotBuilt }
