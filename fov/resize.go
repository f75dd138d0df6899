package fov

import (
	"fmt"
	"math"

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
// antialias=True) does, which is what MoGe's encoder applies. That filter
// is separable: for output index i and scale s = in/out, the taps are the
// input pixels j in [trunc(c−r+0.5), trunc(c+r+0.5)) with c = s·(i+0.5)
// and support r = max(s,1), weighted by the triangle 1−|(j−c+0.5)/max(s,1)|
// and normalised to sum 1 (ATen _compute_indices_min_size_weights_aa).
// Rows are filtered first into a float32 buffer, then columns. Weights are
// computed in float64, torch's in float32 for float input: outputs agree
// to float32 rounding (a few 1e-7), not bit for bit.
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
	cols := aaTaps(sw, w)
	rows := aaTaps(sh, h)
	// Horizontal pass: [3][sh][w].
	tmp := make([]float32, 3*sh*w)
	for y := range sh {
		row := img.Pix[y*img.Stride:]
		for x, t := range cols {
			var acc [3]float64
			for k, wt := range t.w {
				p := row[3*(t.first+k):]
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
		for y, t := range rows {
			dst := out[(c*h+y)*w : (c*h+y+1)*w]
			for k, wt := range t.w {
				src := plane[(t.first+k)*w : (t.first+k+1)*w]
				for x := range dst {
					dst[x] += float32(wt) * src[x]
				}
			}
		}
	}
	return out, nil
}

// taps are the input pixels and weights of one output pixel.
type taps struct {
	first int
	w     []float64
}

// aaTaps computes torch's antialiased bilinear taps for resizing n input
// pixels to m output pixels.
func aaTaps(n, m int) []taps {
	s := float64(n) / float64(m)
	support, inv := 1.0, 1.0
	if s >= 1 {
		support, inv = s, 1/s
	}
	maxTaps := int(math.Ceil(support))*2 + 1
	out := make([]taps, m)
	for i := range out {
		c := s * (float64(i) + 0.5)
		lo := max(int(c-support+0.5), 0) // int() truncates toward zero, as static_cast does
		size := min(int(c+support+0.5), n) - lo
		size = min(max(size, 0), maxTaps)
		w := make([]float64, size)
		var total float64
		for j := range w {
			d := math.Abs((float64(j+lo) - c + 0.5) * inv)
			if d < 1 {
				w[j] = 1 - d
			}
			total += w[j]
		}
		if total != 0 {
			for j := range w {
				w[j] /= total
			}
		}
		out[i] = taps{first: lo, w: w}
	}
	return out
}
