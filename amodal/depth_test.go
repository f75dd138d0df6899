package amodal

import (
	"image"
	"math"
	"testing"

	"github.com/body4d/body4d/scene"
)

func TestDepthInputSize(t *testing.T) {
	for _, c := range []struct{ h, w, wh, ww int }{
		{512, 1024, 518, 1036}, {256, 512, 518, 1036}, {1080, 1920, 518, 924}, {518, 518, 518, 518}, {700, 300, 1204, 518},
	} {
		h, w, err := depthInputSize(c.h, c.w)
		if err != nil || h != c.wh || w != c.ww {
			t.Errorf("%dx%d: got %dx%d %v, want %dx%d", c.h, c.w, h, w, err, c.wh, c.ww)
		}
		if h%14 != 0 || w%14 != 0 || h < 518 || w < 518 {
			t.Errorf("%dx%d: %dx%d breaks the multiple-of-14, ≥518 rule", c.h, c.w, h, w)
		}
	}
	if _, _, err := depthInputSize(0, 5); err == nil {
		t.Error("0 height: no error")
	}
}

func TestDepthTensorChannelOrder(t *testing.T) {
	img := scene.NewRGB(image.Rect(0, 0, 1, 1))
	copy(img.Pix, []uint8{255, 0, 51}) // R, G, B
	tt, err := depthTensor(img)
	if err != nil {
		t.Fatal(err)
	}
	if got := tt.Shape().String(); got != "[1,3,518,518]" {
		t.Fatalf("shape %s, want [1,3,518,518] (DepthInputSize of 1×1)", got)
	}
	d := tt.Float32()
	want := []float32{(0.2 - 0.485) / 0.229, (0 - 0.456) / 0.224, (1 - 0.406) / 0.225} // B, G, R
	for c := range want {
		// A constant image stays constant through the cubic resize.
		for _, i := range []int{0, 518*518 - 1, 1234} {
			if v := d[c*518*518+i]; math.Abs(float64(v-want[c])) > 1e-5 {
				t.Errorf("channel %d pixel %d = %g, want %g", c, i, v, want[c])
			}
		}
	}
	if _, err := depthTensor(&scene.RGB{Rect: image.Rect(0, 0, 2, 2)}); err == nil {
		t.Error("image without pixels: no error")
	}
}

func TestNormalizeDepth(t *testing.T) {
	frames := [][]float32{{1, 2}, {3, 5}}
	if err := normalizeDepths(frames); err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{-1, -0.5}, {0, 1}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(float64(frames[i][j]-want[i][j])) > 1e-7 {
				t.Errorf("frame %d[%d] = %g, want %g (global min/max)", i, j, frames[i][j], want[i][j])
			}
		}
	}
	for _, c := range []struct {
		name   string
		frames [][]float32
	}{
		{"none", nil}, {"empty frame", [][]float32{{1}, {}}}, {"constant", [][]float32{{2, 2}, {2}}},
		{"NaN", [][]float32{{1, float32(math.NaN())}}},
	} {
		if err := normalizeDepths(c.frames); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
