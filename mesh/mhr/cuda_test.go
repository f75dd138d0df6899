//go:build cuda

package mhr

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/body4d/body4d/internal/gputest"
)

// TestCUDASameVertices skins with the CUDA kernel and with Go and requires
// the same vertices. Without a GPU it skips, unless BODY4D_REQUIRE_GPU=1.
func TestCUDASameVertices(t *testing.T) {
	k := gputest.Kernels(t)
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	batch := make([]Input, 64)
	for i := range batch {
		batch[i] = Input{Identity: make([]float32, 45), Model: make([]float32, 204)}
		for j := range batch[i].Model {
			batch[i].Model[j] = float32(0.3 * r.NormFloat64())
		}
	}
	want, err := m.Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.WithKernels(k).Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i].Verts, want[i].Verts) {
			t.Fatalf("body %d: CUDA skinning differs from Go", i)
		}
	}
}
