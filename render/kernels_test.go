//go:build cgo

package render

import (
	"bytes"
	"errors"
	"image"
	"testing"

	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/scene"
)

// TestKernelsTwinSamePixels renders scenes with the Go rasterizer and with
// the CUDA rasterizer's CPU-grid twin (the raster.cu source run as loops)
// and requires the same bytes: the kernel is render's raster() written for
// a GPU, so the GPU path must change no pixel.
func TestKernelsTwinSamePixels(t *testing.T) {
	twin := kernels.CPUGrid()
	K := scene.DefaultIntrinsics(320, 240)
	scenes := map[string][]Item{
		"two bodies, overlapping": {{1, bodyMesh(-0.2, 3)}, {2, bodyMesh(0.15, 3.4)}},
		"cut by the near plane":   {{3, bodyMesh(0, 0.3)}},
		"five people":             {{1, bodyMesh(-0.8, 4)}, {2, bodyMesh(-0.4, 3.5)}, {3, bodyMesh(0, 3)}, {4, bodyMesh(0.4, 3.6)}, {5, bodyMesh(0.8, 4.2)}},
	}
	for name, people := range scenes {
		for _, opt := range []Options{{}, {Opacity: 0.6}, {Views: []View{Front, Side, Top}}} {
			w := 320 * max(len(opt.Views), 1)
			want := scene.NewRGB(image.Rect(0, 0, w, 240))
			got := scene.NewRGB(image.Rect(0, 0, w, 240))
			for i := range want.Pix {
				want.Pix[i], got.Pix[i] = uint8(i*7), uint8(i*7) // a frame under the overlay
			}
			mustRender(t, opt, want, people, K)
			opt.Kernels = twin
			mustRender(t, opt, got, people, K)
			if !bytes.Equal(got.Pix, want.Pix) {
				n := 0
				for i := range got.Pix {
					if got.Pix[i] != want.Pix[i] {
						n++
					}
				}
				t.Errorf("%s, %+v: %d of %d bytes differ between the Go rasterizer and the kernel's twin", name, opt.Views, n, len(got.Pix))
			}
		}
	}
}

// failingKernels is a GPU that fails: its error must reach the caller.
type failingKernels struct{ kernels.Kernels }

func (failingKernels) Name() string { return "broken GPU" }
func (failingKernels) RasterSamples([]uint64, int, int, []kernels.Tri) error {
	return errors.New("launch failed")
}

func TestKernelsErrorReported(t *testing.T) {
	r, err := New(Options{Kernels: failingKernels{}})
	if err != nil {
		t.Fatal(err)
	}
	dst := scene.NewRGB(image.Rect(0, 0, 64, 48))
	err = r.Render(dst, []Item{{1, bodyMesh(0, 3)}}, scene.DefaultIntrinsics(64, 48))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("broken GPU: launch failed")) {
		t.Errorf("Render = %v, want the kernel's error", err)
	}
}
