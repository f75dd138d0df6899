//go:build !cuda

package kernels

import "github.com/body4d/body4d/gpu"

// Open returns ErrNotBuilt: this build has no CUDA kernels.
func Open(*gpu.Pool) (Kernels, error) { return nil, ErrNotBuilt }
