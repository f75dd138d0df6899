package amodal

import (
	"errors"
	"fmt"
	"math"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/scene"
)

// depthSide is Depth-Anything-V2's input lower bound; sides are
// multiples of its ViT patch.
const depthSide, depthPatch = 518, 14

// DepthInputSize is the size DA-V2's infer_image resizes a h×w frame to:
// scaled keeping aspect so both sides are at least 518 ("lower_bound"),
// each side rounded to a multiple of 14 and rounded up if that fell
// below 518 (segment-amodal.md C.2). 512×1024 and 256×512 give 518×1036.
func DepthInputSize(h, w int) (int, int, error) {
	if h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("amodal: depth input from a %dx%d frame", w, h)
	}
	scale := math.Max(float64(depthSide)/float64(h), float64(depthSide)/float64(w))
	side := func(x float64) int {
		y := math.Round(x/depthPatch) * depthPatch
		if y < depthSide {
			y = math.Ceil(x/depthPatch) * depthPatch
		}
		return int(y)
	}
	return side(scale * float64(h)), side(scale * float64(w)), nil
}

// DepthTensor fills the depth engine's image [1,3,H,W] from a frame
// already resized to DepthInputSize (bicubic, as cv2.INTER_CUBIC). It
// replicates a reference quirk: infer_image expects BGR and swaps to
// RGB, but the pipeline passes RGB, so the network sees the channels in
// B,G,R order, normalised with ImageNet's R,G,B mean and std.
func DepthTensor(img *scene.RGB) (*engine.Tensor, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if w <= 0 || h <= 0 || len(img.Pix) < (h-1)*img.Stride+3*w {
		return nil, fmt.Errorf("amodal: depth input image %v with %d bytes", img.Rect, len(img.Pix))
	}
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	out := make([]float32, 3*h*w)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			for c := range 3 {
				v := float32(row[3*x+2-c]) / 255 // B, G, R
				out[(c*h+y)*w+x] = (v - mean[c]) / std[c]
			}
		}
	}
	return engine.FromFloat32(engine.Shape{1, 3, int64(h), int64(w)}, out)
}

// NormalizeDepth maps a whole video's depth maps to [-1,1] with one
// global min and max (the reference computes depth for the whole video
// once) and returns them in place. A constant video has no range and is
// an error.
func NormalizeDepth(frames [][]float32) error {
	if len(frames) == 0 {
		return errors.New("amodal: no depth frames")
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, f := range frames {
		if len(f) == 0 {
			return fmt.Errorf("amodal: depth frame %d is empty", i)
		}
		for _, v := range f {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("amodal: depth frame %d holds %v", i, v)
			}
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		}
	}
	if !(hi > lo) {
		return fmt.Errorf("amodal: depth is constant (%g) over all %d frames", lo, len(frames))
	}
	for _, f := range frames {
		for i, v := range f {
			f[i] = float32(2*(float64(v)-lo)/(hi-lo) - 1)
		}
	}
	return nil
}
