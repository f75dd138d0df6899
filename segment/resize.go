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

// frameResizer resizes frames of one size to the square model input, as
// pilResize and modelInput do, with the taps, the normalisation table and
// the scratch rows computed once: it writes the normalised planes
// straight into the engine's input. It is not safe for concurrent use.
type frameResizer struct {
	sw, sh, size int
	hc, vc       pilCoeffs
	first, rows  int // source rows the vertical pass reads
	tmp          []uint8
	lut          [3][256]float32
}

func newFrameResizer(sw, sh, size int, mean, std [3]float32) *frameResizer {
	r := &frameResizer{sw: sw, sh: sh, size: size, hc: precomputeCoeffs(sw, size), vc: precomputeCoeffs(sh, size)}
	r.first = r.vc.bounds[0]
	r.rows = r.vc.bounds[2*(size-1)] + r.vc.bounds[2*(size-1)+1] - r.first
	r.tmp = make([]uint8, 3*size*r.rows)
	// float64 x/255 as numpy computes it, then float32 as torch converts
	// it before normalising; a table per channel gives the same values.
	for c := range 3 {
		for v := range 256 {
			r.lut[c][v] = (float32(float64(v)/255) - mean[c]) / std[c]
		}
	}
	return r
}

// horizontal runs Pillow's horizontal pass into r.tmp (a copy when the
// width does not change, as Pillow skips the pass).
func (r *frameResizer) horizontal(src *scene.RGB) {
	w, stride := r.size, 3*r.size
	if r.sw == w {
		for y := range r.rows {
			off := src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+r.first+y)
			copy(r.tmp[y*stride:(y+1)*stride], src.Pix[off:off+stride])
		}
		return
	}
	parallelRows(r.rows, func(lo, hi int) { pilHorizontal(src, r.tmp, stride, r.first, lo, hi, w, r.hc) })
}

// vertical runs Pillow's vertical pass over output rows lo..hi-1 and
// hands each row of bytes to emit (skipped, as in Pillow, when the height
// does not change).
func (r *frameResizer) vertical(lo, hi int, row []uint8, emit func(yy int, px []uint8)) {
	stride := 3 * r.size
	if r.sh == r.size {
		for yy := lo; yy < hi; yy++ {
			emit(yy, r.tmp[yy*stride:(yy+1)*stride])
		}
		return
	}
	const half = 1 << (pilPrecisionBits - 1)
	for yy := lo; yy < hi; yy++ {
		ymin, n := r.vc.bounds[2*yy]-r.first, r.vc.bounds[2*yy+1]
		k := r.vc.k[yy*r.vc.ksize : yy*r.vc.ksize+n]
		// The taps of one output pixel are summed in one go (integer
		// sums, so the order does not change the result).
		switch n {
		case 4:
			r0 := r.tmp[ymin*stride : (ymin+1)*stride]
			r1 := r.tmp[(ymin+1)*stride : (ymin+2)*stride]
			r2 := r.tmp[(ymin+2)*stride : (ymin+3)*stride]
			r3 := r.tmp[(ymin+3)*stride : (ymin+4)*stride]
			k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
			for xx := range row {
				row[xx] = clip8(half + int32(r0[xx])*k0 + int32(r1[xx])*k1 + int32(r2[xx])*k2 + int32(r3[xx])*k3)
			}
		default:
			for xx := range row {
				s := int32(half)
				for y, ky := range k {
					s += int32(r.tmp[(y+ymin)*stride+xx]) * ky
				}
				row[xx] = clip8(s)
			}
		}
		emit(yy, row)
	}
}

// resize returns src resized to size² bytes, interleaved RGB.
func (r *frameResizer) resize(src *scene.RGB) []uint8 {
	r.horizontal(src)
	stride := 3 * r.size
	dst := make([]uint8, stride*r.size)
	parallelRows(r.size, func(lo, hi int) {
		row := make([]uint8, stride)
		r.vertical(lo, hi, row, func(yy int, px []uint8) { copy(dst[yy*stride:], px) })
	})
	return dst
}

// input writes the engine input of src into out, [3,size,size]: resized
// as the reference does and normalised.
func (r *frameResizer) input(src *scene.RGB, out []float32) {
	r.horizontal(src)
	w, n := r.size, r.size*r.size
	R, G, B := out[:n], out[n:2*n], out[2*n:3*n]
	parallelRows(r.size, func(lo, hi int) {
		row := make([]uint8, 3*w)
		r.vertical(lo, hi, row, func(yy int, px []uint8) {
			o := yy * w
			rr, gg, bb := R[o:o+w], G[o:o+w], B[o:o+w]
			for x := range w {
				p := px[3*x : 3*x+3 : 3*x+3]
				rr[x], gg[x], bb[x] = r.lut[0][p[0]], r.lut[1][p[1]], r.lut[2][p[2]]
			}
		})
	})
}

// pilResize resizes an RGB image to w×h as Pillow's Image.resize with the
// bicubic filter does (square outputs only, as the model input is).
func pilResize(src *scene.RGB, w, h int) []uint8 {
	if w != h {
		// Non-square: the generic two-pass path.
		return pilResizeRect(src, w, h)
	}
	return newFrameResizer(src.Rect.Dx(), src.Rect.Dy(), w, [3]float32{}, [3]float32{1, 1, 1}).resize(src)
}

// pilResizeRect is Pillow's resize to any w×h: a horizontal pass over
// the rows the vertical pass needs, rounded to bytes, then a vertical
// pass.
func pilResizeRect(src *scene.RGB, w, h int) []uint8 {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	hc := precomputeCoeffs(sw, w)
	vc := precomputeCoeffs(sh, h)
	first := vc.bounds[0]
	last := vc.bounds[2*(h-1)] + vc.bounds[2*(h-1)+1]
	rows := last - first
	tmp := make([]uint8, 3*w*rows)
	tmpStride := 3 * w
	if sw == w {
		for y := range rows {
			off := src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+first+y)
			copy(tmp[y*tmpStride:(y+1)*tmpStride], src.Pix[off:off+3*w])
		}
	} else {
		pilHorizontal(src, tmp, tmpStride, first, 0, rows, w, hc)
	}
	if sh == h {
		return tmp
	}
	dst := make([]uint8, 3*w*h)
	acc := make([]int32, 3*w)
	for yy := range h {
		ymin, n := vc.bounds[2*yy]-first, vc.bounds[2*yy+1]
		k := vc.k[yy*vc.ksize:]
		for i := range acc {
			acc[i] = 1 << (pilPrecisionBits - 1)
		}
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
			k := hc.k[xx*hc.ksize : xx*hc.ksize+n]
			p := row[3*xmin : 3*(xmin+n)]
			var s0, s1, s2 int32 = 1 << (pilPrecisionBits - 1), 1 << (pilPrecisionBits - 1), 1 << (pilPrecisionBits - 1)
			for x, kx := range k {
				q := p[3*x : 3*x+3 : 3*x+3]
				s0 += int32(q[0]) * kx
				s1 += int32(q[1]) * kx
				s2 += int32(q[2]) * kx
			}
			out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// modelInput returns the engine input of a frame: [3,size,size] float32,
// resized as the reference does and normalised to [-1,1].
func modelInput(img *scene.RGB, size int, mean, std [3]float32) []float32 {
	out := make([]float32, 3*size*size)
	newFrameResizer(img.Rect.Dx(), img.Rect.Dy(), size, mean, std).input(img, out)
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

// sigmoidScaled is sigmoid(v)·20−10, the memory encoder's mask scaling on
// tracked frames (in float64 exp, as before; the reference's float32
// sigmoid agrees to rounding). Beyond ±20 the result is exactly ±10 in
// float32, which skips the exp for saturated pixels (TestSigmoidScaled
// checks every float32 there).
func sigmoidScaled(v float32) float32 {
	switch {
	case v < -20:
		return -10
	case v > 20:
		return 10
	}
	return 20/(1+float32(math.Exp(float64(-v)))) - 10
}

// maskInput writes the memory encoder's mask input for B objects' l×l
// low-res logits into hr, [B,S,S]: bilinearly upsampled to S×S as
// resizeBilinear does, then sigmoid·20−10 (tracked frames) or, binarised
// (clicked frames), ±10 after _apply_non_overlapping_constraints: only the
// object with the highest logit (the first on ties) keeps a positive one.
func maskInput(hr []float32, logits [][]float32, l, S int, binarize bool, bufs *floatPool) {
	B := len(logits)
	xs, ys := bilinearAxis(l, S), bilinearAxis(l, S)
	// Each output row blends two source rows resized horizontally, with
	// the same operations as resizeRows; each source row is resized once.
	h := bufs.get(B * l * S)
	defer bufs.put(h)
	parallelRows(B*l, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			b, r := j/l, j%l
			src := logits[b][r*l : (r+1)*l]
			out := h[j*S : (j+1)*S]
			for ox, x := range xs {
				out[ox] = x.w0*src[x.i0] + x.w1*src[x.i1]
			}
		}
	})
	parallelRows(S, func(lo, hi int) {
		for oy := lo; oy < hi; oy++ {
			y := ys[oy]
			for b := range B {
				top := h[(b*l+y.i0)*S : (b*l+y.i0+1)*S]
				bot := h[(b*l+y.i1)*S : (b*l+y.i1+1)*S]
				out := hr[b*S*S+oy*S : b*S*S+(oy+1)*S]
				for ox := range out {
					out[ox] = y.w0*top[ox] + y.w1*bot[ox]
				}
				if !binarize {
					for ox, v := range out {
						out[ox] = sigmoidScaled(v)
					}
				}
			}
			if !binarize {
				continue
			}
			for i := oy * S; i < (oy+1)*S; i++ {
				owner := 0
				for b := 1; b < B; b++ {
					if hr[b*S*S+i] > hr[owner*S*S+i] {
						owner = b
					}
				}
				for b := range B {
					v := float32(-10)
					if b == owner && hr[b*S*S+i] > 0 {
						v = 10
					}
					hr[b*S*S+i] = v
				}
			}
		}
	})
}
