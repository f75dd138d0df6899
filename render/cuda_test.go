//go:build cuda

package render

import (
	"bytes"
	"image"
	"testing"

	"github.com/body4d/body4d/internal/gputest"
	"github.com/body4d/body4d/scene"
)

// TestCUDASamePixels renders with the CUDA rasterizer (kernels.Default,
// as body4d run does) and with the Go one, and requires the same bytes.
// Without a GPU it skips, unless BODY4D_REQUIRE_GPU=1 (the device check).
func TestCUDASamePixels(t *testing.T) {
	k := gputest.Kernels(t)
	K := scene.DefaultIntrinsics(1280, 720)
	people := []Item{{1, bodyMesh(-0.8, 4)}, {2, bodyMesh(-0.4, 3.5)}, {3, bodyMesh(0, 3)}, {4, bodyMesh(0.4, 3.6)}, {5, bodyMesh(0.8, 0.3)}}
	for _, opt := range []Options{{Opacity: 0.85}, {Views: []View{Front, Side, Top}}} {
		w := 1280 * max(len(opt.Views), 1)
		want, got := scene.NewRGB(image.Rect(0, 0, w, 720)), scene.NewRGB(image.Rect(0, 0, w, 720))
		mustRender(t, opt, want, people, K)
		opt.Kernels = k
		mustRender(t, opt, got, people, K)
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%v: the CUDA rasterizer (%s) changed pixels", opt.Views, k.Name())
		}
	}
}
