//go:build cgo

package mhr

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/body4d/body4d/kernels"
)

// TestKernelsTwinSameVertices poses random bodies with the Go skinning and
// with the skinning kernel's CPU-grid twin (skin.cu run as loops) and
// requires identical vertices and keypoints: the kernel is skin written
// for a GPU, each vertex summing its joints in the model's order.
func TestKernelsTwinSameVertices(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	batch := make([]Input, 5)
	for i := range batch {
		in := Input{Identity: make([]float32, 45), Model: make([]float32, 204)}
		for k := range in.Identity {
			in.Identity[k] = float32(r.NormFloat64())
		}
		for k := range in.Model {
			in.Model[k] = float32(0.3 * r.NormFloat64())
		}
		batch[i] = in
	}
	want, err := m.Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	gk := m.WithKernels(kernels.CPUGrid())
	got, err := gk.Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i].Verts, want[i].Verts) {
			t.Errorf("body %d: vertices differ between Go skinning and the kernel's twin", i)
		}
		if !slices.Equal(got[i].Keypoints, want[i].Keypoints) {
			t.Errorf("body %d: keypoints differ", i)
		}
	}
	kw, err := m.Keypoints(batch)
	if err != nil {
		t.Fatal(err)
	}
	kg, err := gk.Keypoints(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range kw {
		if !slices.Equal(kg[i], kw[i]) {
			t.Errorf("body %d: Keypoints differ through the twin", i)
		}
	}
	if m.WithKernels(nil).kern != nil || m.kern != nil {
		t.Error("WithKernels changed the original or nil did not give the Go path")
	}
}
