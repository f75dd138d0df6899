package amodal

import (
	"errors"
	"fmt"
	"math"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// depthSide is Depth-Anything-V2's input lower bound; sides are
// multiples of its ViT patch.
const depthSide, depthPatch = 518, 14

// depthInputSize is the size DA-V2's infer_image resizes a h×w frame to:
// scaled keeping aspect so both sides are at least 518 ("lower_bound"),
// each side rounded to a multiple of 14 and rounded up if that fell
// below 518 (segment-amodal.md C.2). 512×1024 and 256×512 give 518×1036.
func depthInputSize(h, w int) (int, int, error) {
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

// depthTensor is Depth-Anything-V2's infer_image input [1,3,H,W] for a
// frame at the model resolution: the frame's channels swapped (the
// reference passes RGB where infer_image expects BGR and converts
// "BGR→RGB", so the network sees B,G,R), scaled to [0,1] in float64,
// resized with cv2's INTER_CUBIC to depthInputSize, and normalised with
// ImageNet's R,G,B mean and std (segment-amodal.md C.2).
func depthTensor(img *scene.RGB) (*engine.Tensor, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if w <= 0 || h <= 0 || len(img.Pix) < (h-1)*img.Stride+3*w {
		return nil, fmt.Errorf("amodal: depth input image %v with %d bytes", img.Rect, len(img.Pix))
	}
	data, dh, dw, err := depthInput(packRGB(img), w, h)
	if err != nil {
		return nil, err
	}
	return engine.FromFloat32(engine.Shape{1, 3, int64(dh), int64(dw)}, data)
}

// depthInput is depthTensor's data for an interleaved w×h RGB frame.
func depthInput(rgb []uint8, w, h int) ([]float32, int, int, error) {
	dh, dw, err := depthInputSize(h, w)
	if err != nil {
		return nil, 0, 0, err
	}
	planes := make([]float64, 3*w*h)
	for p := range w * h {
		for c := range 3 {
			planes[c*w*h+p] = float64(rgb[3*p+2-c]) / 255 // B, G, R
		}
	}
	r := resample.CVResizeCubic(planes, w, h, 3, dw, dh)
	mean := [3]float64{0.485, 0.456, 0.406}
	std := [3]float64{0.229, 0.224, 0.225}
	out := make([]float32, len(r))
	for c := range 3 {
		for i, v := range r[c*dw*dh : (c+1)*dw*dh] {
			out[c*dw*dh+i] = float32((v - mean[c]) / std[c])
		}
	}
	return out, dh, dw, nil
}

// packRGB returns an image's pixels as tightly packed RGB bytes.
func packRGB(img *scene.RGB) []uint8 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if img.Stride == 3*w && len(img.Pix) == 3*w*h {
		return img.Pix
	}
	out := make([]uint8, 3*w*h)
	for y := range h {
		copy(out[y*3*w:(y+1)*3*w], img.Pix[y*img.Stride:])
	}
	return out
}

// normalizeDepths maps a whole video's depth maps to [-1,1] with one
// global min and max (the reference computes depth for the whole video
// once) and returns them in place. A constant video has no range and is
// an error.
func normalizeDepths(frames [][]float32) error {
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
		normalizeDepth(f, float32(lo), float32(hi))
	}
	return nil
}

// normalizeDepth maps raw depth to [-1,1] with the video's range in
// float32, as the reference's numpy arrays do: (d−lo)/(hi−lo)·2−1.
func normalizeDepth(f []float32, lo, hi float32) {
	span := hi - lo
	for i, v := range f {
		f[i] = (v-lo)/span*2 - 1
	}
}
