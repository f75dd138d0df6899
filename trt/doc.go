// Package trt runs TensorRT plan files as body4d engines (backend "trt").
//
// The backend is a thin cgo layer over the TensorRT C++ runtime (see
// shim.h) and the CUDA runtime, compiled only with the build tag
// "tensorrt"; it needs TensorRT 10 or later and libcudart at link time.
// Without the tag, Open and Load return ErrNotBuilt so that a caller asking
// for "trt" learns why instead of getting a stand-in.
//
// Run copies host tensors to device buffers the engine owns, runs the plan
// on the engine's stream and copies the outputs back. Enqueue is the fast
// path for callers that already hold device memory and a stream.
package trt
