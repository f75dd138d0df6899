package amodal

import (
	"fmt"
	"math"
	"testing"
)

// Fixtures from Pillow 11.3 and OpenCV 4.12 on one row of pixels (the
// stage parity test checks whole images against them too, but needs the
// ONNX Runtime library).
var resizeRow = []uint8{0, 100, 200, 255, 30, 60, 90}

func TestPILResize(t *testing.T) {
	for _, c := range []struct {
		f    pilFilter
		ow   int
		want string
	}{
		{pilBilinear, 3, "[86 169 64]"},
		{pilBilinear, 11, "[0 45 109 173 220 255 112 38 57 76 90]"},
		{pilBicubic, 3, "[85 175 60]"},
		{pilBicubic, 11, "[0 36 109 176 235 255 105 20 56 79 92]"},
	} {
		if got := fmt.Sprint(pilResize(resizeRow, 7, 1, 1, c.ow, 1, c.f)); got != c.want {
			t.Errorf("filter %d, 7→%d: %s, PIL gives %s", c.f, c.ow, got, c.want)
		}
	}
	if got := fmt.Sprint(pilResize(resizeRow, 1, 7, 1, 1, 4, pilBilinear)); got != "[52 195 99 74]" {
		t.Errorf("bilinear column 7→4: %s, PIL gives [52 195 99 74]", got)
	}
	same := pilResize(resizeRow, 7, 1, 1, 7, 1, pilBicubic)
	same[0] = 9
	if resizeRow[0] != 0 {
		t.Error("a same-size resize shares its input")
	}
	if got := fmt.Sprint(pilNearest(resizeRow, 7, 1, 3, 1)); got != "[100 255 60]" {
		t.Errorf("nearest 7→3: %s, PIL gives [100 255 60]", got)
	}
	if got := fmt.Sprint(pilNearest(resizeRow, 7, 1, 10, 1)); got != "[0 100 100 200 255 255 30 60 60 90]" {
		t.Errorf("nearest 7→10: %s", got)
	}
}

func TestCVResize(t *testing.T) {
	src := make([]float64, len(resizeRow))
	for i, v := range resizeRow {
		src[i] = float64(v) / 255
	}
	want := []float64{-0.031875021317425895, 0.17807607557259353, 0.5147824754901961, 0.7622967397465426, 1.0494675472670911,
		0.723127152405533, 0.09220034935895136, 0.1652113970588235, 0.299518346786499, 0.3625036968904384}
	got := cvResizeCubic(src, 7, 1, 1, 10, 1)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("cubic 7→10 [%d] = %.17g, cv2 gives %.17g", i, got[i], want[i])
		}
	}
	// cv2's fixed point may round one level apart from the float rule.
	lin := cvResizeLinear(resizeRow, 7, 1, 1, 10, 1)
	for i, w := range []uint8{0, 55, 125, 195, 236, 176, 31, 53, 74, 90} {
		if d := int(lin[i]) - int(w); d < -1 || d > 1 {
			t.Errorf("linear 7→10 [%d] = %d, cv2 gives %d", i, lin[i], w)
		}
	}
}

func TestAlignedResize(t *testing.T) {
	src := []float32{0, 1, 4, 9}
	up := bilinearAligned(src, 4, 1, 7, 1)
	if want := "[0 0.5 1 2.5 4 6.5 9]"; fmt.Sprint(up) != want {
		t.Errorf("bilinear align_corners 4→7: %v, want %s", up, want)
	}
	// Bicubic with align_corners keeps the end samples and the samples
	// that land on input pixels.
	bc := bicubicAligned(src, 4, 1, 7, 1)
	for i, w := range map[int]float32{0: 0, 2: 1, 4: 4, 6: 9} {
		if bc[i] != w {
			t.Errorf("bicubic align_corners 4→7 [%d] = %g, want %g", i, bc[i], w)
		}
	}
	for i, want := range []int{2, 1, 0, 1, 2, 3, 2, 1, 0} { // -2..6, torch "reflect" padding
		if got := reflect(i-2, 4); got != want {
			t.Errorf("reflect(%d, 4) = %d, want %d", i-2, got, want)
		}
	}
}
