//go:build cgo

package mesh

import (
	"image"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/scene"
)

// TestKernelsTwinSameCrops cuts and normalises crops with the Go path
// (WarpRGB, normalizeCrop) and with the crop kernels' CPU-grid twin
// (preprocess.cu run as loops) and requires identical engine inputs: the
// kernels are those functions written for a GPU.
func TestKernelsTwinSameCrops(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	frame := func(w, h int) *scene.RGB {
		img := scene.NewRGB(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = uint8(r.IntN(256))
		}
		return img
	}
	a, b := frame(320, 240), frame(97, 61)
	boxes := []struct {
		img *scene.RGB
		box [4]float64
	}{
		{a, [4]float64{100, 40, 180, 230}},    // a person, shrunk
		{a, [4]float64{-30, -20, 40, 90}},     // past the top-left corner
		{a, [4]float64{300.5, 200, 319, 239}}, // a small box enlarged many times
		{b, [4]float64{10, 5, 90, 60}},        // another frame
	}
	var crops []Crop
	var imgs []*scene.RGB
	for _, bx := range boxes {
		c, err := newBodyCrop(bx.box)
		if err != nil {
			t.Fatal(err)
		}
		crops, imgs = append(crops, c), append(imgs, bx.img)
	}
	Ks := make([]scene.Intrinsics, len(crops))
	for i := range Ks {
		Ks[i] = scene.DefaultIntrinsics(320, 240)
	}
	masks := make([]*scene.Mask, len(crops))
	want, err := cropInputs(nil, crops, Ks, imgs, masks)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cropInputs(kernels.CPUGrid(), crops, Ks, imgs, masks)
	if err != nil {
		t.Fatal(err)
	}
	const px = 3 * CropSize * CropSize
	for i := range crops {
		if !slices.Equal(got.image[i*px:(i+1)*px], want.image[i*px:(i+1)*px]) {
			n := 0
			for j := i * px; j < (i+1)*px; j++ {
				if got.image[j] != want.image[j] {
					n++
				}
			}
			t.Errorf("crop %d (%v): %d of %d values differ between the Go path and the kernels' twin", i, boxes[i].box, n, px)
		}
	}
}
