//go:build cuda

package mesh

import (
	"image"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/body4d/body4d/internal/gputest"
	"github.com/body4d/body4d/scene"
)

// TestCUDASameCrops cuts crops with the CUDA kernels and with Go and
// requires the same engine input. Without a GPU it skips, unless
// BODY4D_REQUIRE_GPU=1.
func TestCUDASameCrops(t *testing.T) {
	k := gputest.Kernels(t)
	r := rand.New(rand.NewPCG(7, 8))
	img := scene.NewRGB(image.Rect(0, 0, 1920, 1080))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	var crops []Crop
	for _, box := range [][4]float64{{100, 40, 380, 1000}, {-30, -20, 40, 90}, {1900.5, 1000, 1919, 1079}} {
		c, err := newBodyCrop(box)
		if err != nil {
			t.Fatal(err)
		}
		crops = append(crops, c)
	}
	imgs := []*scene.RGB{img, img, img}
	Ks := make([]scene.Intrinsics, 3)
	masks := make([]*scene.Mask, 3)
	want, err := cropInputs(nil, crops, Ks, imgs, masks)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cropInputs(k, crops, Ks, imgs, masks)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.image, want.image) {
		t.Error("the CUDA crops differ from Go's")
	}
}
