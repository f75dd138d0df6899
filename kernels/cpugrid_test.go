//go:build cgo

package kernels

import (
	"strings"
	"testing"
	"unsafe"
)

// The twin's stage-level checks live with the stages (render, mesh,
// mesh/mhr): each compares CPUGrid with the stage's own Go function.

func TestTriLayout(t *testing.T) {
	var tri Tri
	if got, c := unsafe.Sizeof(tri), triSize(); int(got) != c || c != 96 {
		t.Fatalf("Tri is %d bytes in Go and %d in C++, want 96 in both", got, c)
	}
	for name, off := range map[string]uintptr{"X": 0, "Y": 24, "WA": 48, "X0": 72, "Face": 88} {
		var got uintptr
		switch name {
		case "X":
			got = unsafe.Offsetof(tri.X)
		case "Y":
			got = unsafe.Offsetof(tri.Y)
		case "WA":
			got = unsafe.Offsetof(tri.WA)
		case "X0":
			got = unsafe.Offsetof(tri.X0)
		case "Face":
			got = unsafe.Offsetof(tri.Face)
		}
		if got != off {
			t.Errorf("Tri.%s at %d, b4_tri has it at %d", name, got, off)
		}
	}
}

// TestSourcesEmbedded checks that the embedded sources, which key the
// twin's rebuilds, hold every kernel the CUDA loader looks up.
func TestSourcesEmbedded(t *testing.T) {
	kernels := map[string][]string{
		"preprocess.cu": {"warp_crop", "normalize_crop"},
		"skin.cu":       {"lbs_skin"},
		"raster.cu":     {"raster_samples"},
	}
	for file, names := range kernels {
		src, err := kernelSources.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if !strings.Contains(string(src), `extern "C" __global__ void `+name+"(") {
				t.Errorf("%s: no kernel %s", file, name)
			}
		}
	}
}
