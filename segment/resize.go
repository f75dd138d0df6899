package segment

import (
	"math"

	"github.com/body4d/body4d/scene"
)

// The reference loads frames with PIL's Image.resize to the square model
// size (bicubic, the default filter; aspect ratio not kept), then maps
// bytes to [-1,1] with mean 0.5 and std 0.5 (reference notes A.2). pilResize
// reproduces Pillow's two-pass fixed-point resampler so that the engine
// sees the same bytes as the reference.

// pilPrecisionBits is Pillow's fixed-point precision for 8-bit images.
const pilPrecisionBits = 32 - 8 - 2

func bicubicFilter(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

// pilCoeffs are the per-output-pixel taps of one resampling pass.
type pilCoeffs struct {
	ksize  int
	bounds []int   // xmin, count for each output pixel
	k      []int32 // ksize fixed-point weights for each output pixel
}

// precomputeCoeffs is Pillow's precompute_coeffs with normalize_coeffs_8bpc.
func precomputeCoeffs(inSize, outSize int) pilCoeffs {
	const support0 = 2.0 // bicubic
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := support0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := pilCoeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, ksize*outSize)}
	w := make([]float64, ksize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		var ww float64
		for x := range xmax {
			w[x] = bicubicFilter((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		k := c.k[xx*ksize : (xx+1)*ksize]
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		c.bounds[2*xx], c.bounds[2*xx+1] = xmin, xmax
	}
	return c
}

func clip8(v int32) uint8 {
	v >>= pilPrecisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// pilResize resizes an RGB image to w×h as Pillow's Image.resize with the
// bicubic filter does: a horizontal pass over the rows the vertical pass
// needs, rounded to bytes, then a vertical pass.
func pilResize(src *scene.RGB, w, h int) []uint8 {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	hc := precomputeCoeffs(sw, w)
	vc := precomputeCoeffs(sh, h)
	first := vc.bounds[0]
	last := vc.bounds[2*(h-1)] + vc.bounds[2*(h-1)+1]
	// Horizontal pass into rows first..last-1 (skipped, as in Pillow,
	// when the width does not change).
	rows := last - first
	tmp := make([]uint8, 3*w*rows)
	tmpStride := 3 * w
	if sw == w {
		for y := range rows {
			off := src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+first+y)
			copy(tmp[y*tmpStride:(y+1)*tmpStride], src.Pix[off:off+3*w])
		}
	} else {
		parallelRows(rows, func(lo, hi int) { pilHorizontal(src, tmp, tmpStride, first, lo, hi, w, hc) })
	}
	if sh == h {
		return tmp
	}
	dst := make([]uint8, 3*w*h)
	parallelRows(h, func(lo, hi int) {
		acc := make([]int32, 3*w)
		for yy := lo; yy < hi; yy++ {
			ymin, n := vc.bounds[2*yy]-first, vc.bounds[2*yy+1]
			k := vc.k[yy*vc.ksize:]
			for i := range acc {
				acc[i] = 1 << (pilPrecisionBits - 1)
			}
			// Taps outer, pixels inner: rows are read in order.
			for y := range n {
				ky := k[y]
				row := tmp[(y+ymin)*tmpStride : (y+ymin+1)*tmpStride]
				for xx, p := range row {
					acc[xx] += int32(p) * ky
				}
			}
			out := dst[yy*3*w : (yy+1)*3*w]
			for xx, s := range acc {
				out[xx] = clip8(s)
			}
		}
	})
	return dst
}

// pilHorizontal is Pillow's horizontal pass over rows lo..hi-1 of tmp,
// which start at source row first.
func pilHorizontal(src *scene.RGB, tmp []uint8, tmpStride, first, lo, hi, w int, hc pilCoeffs) {
	for y := lo; y < hi; y++ {
		row := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+first+y):]
		out := tmp[y*tmpStride:]
		for xx := range w {
			xmin, n := hc.bounds[2*xx], hc.bounds[2*xx+1]
			k := hc.k[xx*hc.ksize:]
			var s0, s1, s2 int32 = 1 << (pilPrecisionBits - 1), 1 << (pilPrecisionBits - 1), 1 << (pilPrecisionBits - 1)
			for x := range n {
				p := row[3*(x+xmin):]
				s0 += int32(p[0]) * k[x]
				s1 += int32(p[1]) * k[x]
				s2 += int32(p[2]) * k[x]
			}
			out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// modelInput returns the engine input of a frame: [3,size,size] float32,
// resized as the reference does and normalised to [-1,1].
func modelInput(img *scene.RGB, size int, mean, std [3]float32) []float32 {
	px := pilResize(img, size, size)
	// float64 x/255 as numpy computes it, then float32 as torch converts
	// it before normalising; a table per channel gives the same values.
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = (float32(float64(v)/255) - mean[c]) / std[c]
		}
	}
	n := size * size
	out := make([]float32, 3*n)
	r, g, b := out[:n], out[n:2*n], out[2*n:]
	for i := range n {
		p := px[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
	}
	return out
}

// lerp is one axis of a bilinear resize: output pixel i reads
// w0·in[i0] + w1·in[i1].
type lerp struct {
	i0, i1 int
	w0, w1 float32
}

// bilinearAxis is torch's source index for resizing in pixels to out
// with align_corners=False: src = (dst+0.5)·in/out − 0.5, clamped at 0,
// in float32 as ATen computes it on the CPU.
func bilinearAxis(in, out int) []lerp {
	l := make([]lerp, out)
	scale := float32(in) / float32(out)
	for i := range l {
		src := max(scale*(float32(i)+0.5)-0.5, 0)
		i0 := int(src)
		i1 := min(i0+1, in-1)
		w1 := src - float32(i0)
		l[i] = lerp{i0: i0, i1: i1, w0: 1 - w1, w1: w1}
	}
	return l
}

// resizeBilinear resizes a w×h float map into the ow×oh map dst
// (F.interpolate, mode bilinear, align_corners=False).
func resizeBilinear(src []float32, w, h, ow, oh int, dst []float32) {
	xs, ys := bilinearAxis(w, ow), bilinearAxis(h, oh)
	resizeRows(src, w, xs, ys, 0, oh, dst)
}

// resizeRows computes output rows lo..hi-1 of a bilinear resize of the
// map src of width w, given both axes' taps.
func resizeRows(src []float32, w int, xs, ys []lerp, lo, hi int, dst []float32) {
	ow := len(xs)
	for oy := lo; oy < hi; oy++ {
		y := ys[oy]
		r0 := src[y.i0*w : (y.i0+1)*w]
		r1 := src[y.i1*w : (y.i1+1)*w]
		out := dst[oy*ow : (oy+1)*ow]
		for ox, x := range xs {
			top := x.w0*r0[x.i0] + x.w1*r0[x.i1]
			bot := x.w0*r1[x.i0] + x.w1*r1[x.i1]
			out[ox] = y.w0*top + y.w1*bot
		}
	}
}

// thresholdMask resizes low-res mask logits to w×h and keeps the pixels
// whose logit is above 0 (reference notes A.6).
func thresholdMask(logits []float32, size, w, h int) *scene.Mask {
	m := scene.NewMask(w, h)
	xs := bilinearAxis(size, w)
	ys := bilinearAxis(size, h)
	for oy, y := range ys {
		r0 := logits[y.i0*size : (y.i0+1)*size]
		r1 := logits[y.i1*size : (y.i1+1)*size]
		out := m.Pix[oy*w : (oy+1)*w]
		for ox, x := range xs {
			top := x.w0*r0[x.i0] + x.w1*r0[x.i1]
			bot := x.w0*r1[x.i0] + x.w1*r1[x.i1]
			if y.w0*top+y.w1*bot > 0 {
				out[ox] = 1
			}
		}
	}
	return m
}
