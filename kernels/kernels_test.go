package kernels

import (
	"errors"
	"strings"
	"testing"
)

// fakeKernels stands for the CUDA kernels in the selection test.
type fakeKernels struct{ Kernels }

func (fakeKernels) Name() string { return "fake GPU" }

func TestChoose(t *testing.T) {
	// A build with the tag and a GPU: the CUDA kernels, nothing to say.
	k, why := choose(func() (Kernels, error) { return fakeKernels{}, nil })
	if k == nil || k.Name() != "fake GPU" || why != "" {
		t.Errorf("GPU present: got %v, %q; want the GPU kernels and no note", k, why)
	}
	// No GPU, or no tag: the Go paths, and a note naming the reason.
	for _, cause := range []error{errors.New("no NVIDIA GPU: cannot load libcuda.so.1"), ErrNotBuilt} {
		k, why = choose(func() (Kernels, error) { return nil, cause })
		if k != nil || !strings.Contains(why, cause.Error()) || !strings.Contains(why, "Go paths") {
			t.Errorf("%v: got %v, %q", cause, k, why)
		}
	}
}

func TestDefaultWithoutGPU(t *testing.T) {
	// This machine has no GPU (or the build no tag): Default must say so,
	// not fail or pretend.
	k, why := Default(nil)
	if k != nil {
		t.Skipf("kernels available here: %s", k.Name())
	}
	if why == "" {
		t.Error("Default returned no kernels and no reason")
	}
	t.Log(why)
}

func TestCheckArguments(t *testing.T) {
	tri := Tri{X1: 9, Y1: 9}
	if err := checkRaster(make([]uint64, 4*10*10), 10, 10, []Tri{tri}); err != nil {
		t.Error(err)
	}
	tri.X1 = 10
	if err := checkRaster(make([]uint64, 4*10*10), 10, 10, []Tri{tri}); err == nil || !strings.Contains(err.Error(), "triangle 0") {
		t.Errorf("triangle outside the panel: %v", err)
	}
	if err := checkRaster(make([]uint64, 3), 10, 10, nil); err == nil {
		t.Error("short key buffer accepted")
	}
	s := &Skinning{Start: []int32{0, 1, 3}, Joint: []int32{0, 1, 2}, Weight: []float32{1, .5, .5}}
	if err := s.Check(2, 3); err != nil {
		t.Error(err)
	}
	if err := s.Check(2, 2); err == nil || !strings.Contains(err.Error(), "joint 2") {
		t.Errorf("joint out of range: %v", err)
	}
	if err := (&Skinning{Start: []int32{0, 2, 1}, Joint: []int32{0}, Weight: []float32{1}}).Check(2, 1); err == nil {
		t.Error("bad offsets accepted")
	}
	if err := checkWarp(make([]uint8, 4*3), 2, 3, make([]uint8, 12), 6, 2, 2, make([]float32, 5)); err == nil {
		t.Error("5 coefficients accepted")
	}
	if err := checkNormalize(make([]float32, 12), make([]uint8, 12), 2, [3]float32{1, 0, 1}); err == nil || !strings.Contains(err.Error(), "channel 1") {
		t.Errorf("zero std: %v", err)
	}
}
