//go:build !cuda

package kernels

// Open returns ErrNotBuilt: this build has no CUDA kernels.
func Open() (Kernels, error) { return nil, ErrNotBuilt }
