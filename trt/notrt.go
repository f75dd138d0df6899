//go:build !tensorrt

package trt

import (
	"context"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/models"
)

// Backend runs TensorRT plans on one GPU; this build has none.
type Backend struct{}

// Open returns ErrNotBuilt: this build has no TensorRT.
func Open(Options) (*Backend, error) { return nil, ErrNotBuilt }

// Name returns "trt".
func (b *Backend) Name() string { return "trt" }

// Load returns ErrNotBuilt.
func (b *Backend) Load(string) (engine.Engine, error) { return nil, ErrNotBuilt }

// Stage returns b.
func (b *Backend) Stage(string) (engine.Backend, error) { return b, nil }

// Target returns the zero Target.
func (b *Backend) Target() models.Target { return models.Target{} }

// Build returns ErrNotBuilt.
func (b *Backend) Build(context.Context, string, Profile, BuildOptions) (plan, cache []byte, err error) {
	return nil, nil, ErrNotBuilt
}

// Close does nothing.
func (b *Backend) Close() error { return nil }
