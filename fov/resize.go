package fov

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// MoGe-2's token budget (v2.py num_tokens_range) and ViT patch size.
const (
	minTokens = 1200
	maxTokens = 3600
	patchSize = 14
	// DefaultLevel is infer()'s default resolution_level: 3600 tokens.
	DefaultLevel = 9
)

// NumTokens returns infer()'s token count for a resolution level 0..9:
// int(1200 + (level/9)·2400).
func NumTokens(level int) (int, error) {
	if level < 0 || level > 9 {
		return 0, fmt.Errorf("fov: resolution level %d is outside 0..9", level)
	}
	return int(minTokens + float64(level)/9*(maxTokens-minTokens)), nil
}

// InputSize returns the engine input size for a width×height frame and a
// token count: (14·base_h, 14·base_w) with base_h = round(√(N/a)),
// base_w = round(√(N·a)), a = W/H, rounding halves to even as Python's
// round does.
func InputSize(width, height, tokens int) (h, w int, err error) {
	if width <= 0 || height <= 0 {
		return 0, 0, fmt.Errorf("fov: frame is %d×%d; it needs at least one pixel", width, height)
	}
	if tokens <= 0 {
		return 0, 0, fmt.Errorf("fov: token count %d must be positive", tokens)
	}
	a := float64(width) / float64(height)
	bh := int(math.RoundToEven(math.Sqrt(float64(tokens) / a)))
	bw := int(math.RoundToEven(math.Sqrt(float64(tokens) * a)))
	if bh < 1 || bw < 1 {
		return 0, 0, fmt.Errorf("fov: frame %d×%d is too elongated for %d tokens (grid %d×%d)", width, height, tokens, bh, bw)
	}
	return patchSize * bh, patchSize * bw, nil
}

// ResizeInput converts a frame to the engine's image tensor data: RGB
// planes [1,3,h,w] in [0,1] (MoGe normalises inside the model), resized as
// torch's F.interpolate(mode='bilinear', align_corners=False,
// antialias=True) does, which is what MoGe's encoder applies: separable,
// with the taps of resample.NewTaps (filter Bilinear). Rows are filtered
// first into a float32 buffer, then columns. Weights are computed in
// float64, torch's in float32 for float input: outputs agree to float32
// rounding (a few 1e-7), not bit for bit.
func ResizeInput(img *scene.RGB, h, w int) ([]float32, error) {
	if img == nil {
		return nil, fmt.Errorf("fov: nil frame")
	}
	sw, sh := img.Rect.Dx(), img.Rect.Dy()
	if sw <= 0 || sh <= 0 {
		return nil, fmt.Errorf("fov: frame is %d×%d; it needs at least one pixel", sw, sh)
	}
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("fov: resize target %d×%d must be positive", w, h)
	}
	if len(img.Pix) < (sh-1)*img.Stride+3*sw {
		return nil, fmt.Errorf("fov: frame %d×%d has %d bytes of pixels, too few for stride %d", sw, sh, len(img.Pix), img.Stride)
	}
	cols := resample.NewTaps(sw, w, resample.Bilinear)
	rows := resample.NewTaps(sh, h, resample.Bilinear)
	// Horizontal pass: [3][sh][w].
	tmp := make([]float32, 3*sh*w)
	for y := range sh {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			var acc [3]float64
			for k, wt := range cols.W[x*cols.Size : x*cols.Size+cols.N[x]] {
				p := row[3*(cols.Start[x]+k):]
				acc[0] += wt * float64(p[0])
				acc[1] += wt * float64(p[1])
				acc[2] += wt * float64(p[2])
			}
			for c := range 3 {
				tmp[(c*sh+y)*w+x] = float32(acc[c] / 255)
			}
		}
	}
	out := make([]float32, 3*h*w)
	for c := range 3 {
		plane := tmp[c*sh*w : (c+1)*sh*w]
		for y := range h {
			dst := out[(c*h+y)*w : (c*h+y+1)*w]
			for k, wt := range rows.W[y*rows.Size : y*rows.Size+rows.N[y]] {
				first := rows.Start[y] + k
				src := plane[first*w : (first+1)*w]
				for x := range dst {
					dst[x] += float32(wt) * src[x]
				}
			}
		}
	}
	return out, nil
}
