package video

import (
	"bytes"
	"image"
	"os/exec"
	"testing"

	"github.com/body4d/body4d/scene"
)

func TestRGBToI420Colors(t *testing.T) {
	// BT.601 limited range values of pure colours (16 + 219·Y′ etc.,
	// rounded): black, white, red, green, blue.
	for _, tc := range []struct {
		r, g, b   uint8
		y, cb, cr uint8
	}{
		{0, 0, 0, 16, 128, 128},
		{255, 255, 255, 235, 128, 128},
		{255, 0, 0, 81, 90, 240},
		{0, 255, 0, 145, 54, 34},
		{0, 0, 255, 41, 240, 110},
	} {
		img := scene.NewRGB(image.Rect(0, 0, 2, 2))
		for i := 0; i < len(img.Pix); i += 3 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = tc.r, tc.g, tc.b
		}
		dst := make([]byte, 6)
		if err := RGBToI420(img, dst); err != nil {
			t.Fatal(err)
		}
		want := []byte{tc.y, tc.y, tc.y, tc.y, tc.cb, tc.cr}
		if !bytes.Equal(dst, want) {
			t.Errorf("RGB(%d,%d,%d) → %v, want %v", tc.r, tc.g, tc.b, dst, want)
		}
	}
	if err := RGBToI420(scene.NewRGB(image.Rect(0, 0, 3, 2)), make([]byte, 9)); err == nil {
		t.Error("odd width accepted")
	}
	if err := RGBToI420(scene.NewRGB(image.Rect(0, 0, 2, 2)), make([]byte, 5)); err == nil {
		t.Error("short buffer accepted")
	}
}

// TestRGBToI420MatchesFFmpeg compares with ffmpeg's own rgb24 → yuv420p
// conversion, the one the ffmpeg encoder uses, on smooth content: the
// matrix and range must agree (luma within 1, chroma within 2 for rounding).
// On sharp chroma edges the two differ by design: swscale downsamples
// chroma with a bicubic filter, RGBToI420 with a 2×2 mean.
func TestRGBToI420MatchesFFmpeg(t *testing.T) {
	tools := requireFFmpeg(t)
	const w, h = 64, 48
	img := scene.NewRGB(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGB(x, y, uint8(4*x), uint8(5*y), uint8(255-2*x-y))
		}
	}
	cmd := exec.Command(tools.FFmpeg, "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
		"-s", "64x48", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1")
	cmd.Stdin = bytes.NewReader(img.Pix)
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, w*h*3/2)
	must(t, RGBToI420(img, got))
	var maxY, maxC int
	for i := range got {
		d := int(got[i]) - int(want[i])
		d = max(d, -d)
		if i < w*h {
			maxY = max(maxY, d)
		} else {
			maxC = max(maxC, d)
		}
	}
	t.Logf("max |Δ| vs ffmpeg: luma %d, chroma %d", maxY, maxC)
	if maxY > 1 || maxC > 2 {
		t.Errorf("max |Δ| vs ffmpeg: luma %d (want ≤ 1), chroma %d (want ≤ 2)", maxY, maxC)
	}
}
