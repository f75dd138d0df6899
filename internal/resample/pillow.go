// Package resample resizes images and maps with the exact arithmetic of the
// libraries the reference pipeline calls, so that the engines see the same
// inputs as the reference's networks:
//
//   - Pillow's Image.resize: the separable convolution of Resizer (BILINEAR,
//     BICUBIC; widened by the scale when shrinking, 22-bit fixed-point
//     coefficients, bytes after each pass) and Nearest. The float taps
//     (Taps) are also those of torch's antialiased bilinear interpolation.
//   - torch's F.interpolate: Interpolate* (bilinear with align_corners
//     False or True, bicubic with align_corners True).
//   - cv2.resize: CVResizeCubic and CVResizeLinear.
//   - diffusers' _resize_with_antialiasing: ResizeWithAntialiasing.
//
// Each rule is written once; the stages pick the one the reference used at
// each place. Every function is safe for concurrent use.
package resample

import "math"

// Filter is one of Pillow's resampling filters.
type Filter int

const (
	// Bilinear is Pillow's BILINEAR: the triangle 1−|x| on [−1, 1].
	Bilinear Filter = iota + 1
	// Bicubic is Pillow's BICUBIC: Keys' cubic with a = −0.5 on [−2, 2].
	Bicubic
)

func (f Filter) support() float64 {
	if f == Bicubic {
		return 2
	}
	return 1
}

// eval is Pillow's filter function. The explicit conversions keep Go from
// fusing a multiply and an add, which C (as Pillow is built) does not do.
func (f Filter) eval(x float64) float64 {
	x = math.Abs(x)
	if f == Bilinear {
		if x < 1 {
			return 1 - x
		}
		return 0
	}
	const a = -0.5
	switch {
	case x < 1:
		return float64(float64((a+2)*x-(a+3))*x*x) + 1
	case x < 2:
		return float64(float64(float64((x-5)*x)+8)*x-4) * a
	}
	return 0
}

// Taps are one axis's resampling taps: output i reads the inputs
// Start[i] … Start[i]+N[i]−1 with the weights W[i*Size:], which sum to 1.
type Taps struct {
	Size     int // the most taps of any output (Pillow's ksize)
	Start, N []int
	W        []float64
}

// NewTaps returns the taps of resizing in pixels to out with filter f,
// as Pillow's precompute_coeffs computes them: centre (i+0.5)·s with
// s = in/out, the filter widened by max(s, 1), inputs
// [trunc(centre−support+0.5), trunc(centre+support+0.5)) cut to the image,
// weights normalised to sum 1. With Bilinear these are also ATen's
// antialiased bilinear weights (_compute_indices_min_size_weights_aa,
// computed there in the input's precision; here in float64). in and out
// must be positive.
func NewTaps(in, out int, f Filter) Taps {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := f.support() * fscale
	ksize := int(math.Ceil(support))*2 + 1
	t := Taps{Size: ksize, Start: make([]int, out), N: make([]int, out), W: make([]float64, out*ksize)}
	ss := 1 / fscale
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		n := min(int(center+support+0.5), in) - lo
		w := t.W[i*ksize : i*ksize+n]
		var sum float64
		for x := range w {
			w[x] = f.eval(float64(float64(x+lo)-center+0.5) * ss)
			sum += w[x]
		}
		if sum != 0 {
			for x := range w {
				w[x] /= sum
			}
		}
		t.Start[i], t.N[i] = lo, n
	}
	return t
}

// precisionBits is Pillow's PRECISION_BITS for 8-bit images.
const precisionBits = 32 - 8 - 2

// fixed are taps in Pillow's fixed point (normalize_coeffs_8bpc).
type fixed struct {
	size     int
	start, n []int
	k        []int32
}

func newFixed(in, out int, f Filter) fixed {
	t := NewTaps(in, out, f)
	q := fixed{size: t.Size, start: t.Start, n: t.N, k: make([]int32, len(t.W))}
	for i, w := range t.W {
		if w < 0 {
			q.k[i] = int32(-0.5 + w*(1<<precisionBits))
		} else {
			q.k[i] = int32(0.5 + w*(1<<precisionBits))
		}
	}
	return q
}

// clip8 is Pillow's clip8: a fixed-point sum to a byte.
func clip8(v int32) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}

const half = 1 << (precisionBits - 1) // rounding term of every sum

// A Resizer resizes 8-bit images with interleaved channels from one size
// to another as Pillow's Image.resize does: a horizontal pass over the
// source rows the vertical pass needs, rounded to bytes, then a vertical
// pass; a pass whose size does not change is skipped. The taps are
// computed once. Callers that want to split the work (or to consume the
// output row by row) call Horizontal and Vertical; Resize does both.
type Resizer struct {
	sw, sh, w, h, c int
	hx, vy          fixed
	first, rows     int
}

// NewResizer returns a Resizer from sw×sh to w×h pixels of c channels
// with filter f. All sizes must be positive.
func NewResizer(sw, sh, w, h, c int, f Filter) *Resizer {
	r := &Resizer{sw: sw, sh: sh, w: w, h: h, c: c, rows: sh}
	if sw != w {
		r.hx = newFixed(sw, w, f)
	}
	if sh != h {
		r.vy = newFixed(sh, h, f)
		r.first = r.vy.start[0]
		r.rows = r.vy.start[h-1] + r.vy.n[h-1] - r.first
	}
	return r
}

// Rows returns how many rows the horizontal pass produces (the source
// rows the vertical pass reads); each is w·c bytes.
func (r *Resizer) Rows() int { return r.rows }

// Horizontal writes rows lo..hi−1 of the horizontal pass into tmp (row
// stride w·c), reading the source image src (row stride stride, first
// pixel at src[0]).
func (r *Resizer) Horizontal(src []uint8, stride int, tmp []uint8, lo, hi int) {
	c, ts := r.c, r.w*r.c
	for y := lo; y < hi; y++ {
		row := src[(r.first+y)*stride:]
		out := tmp[y*ts : (y+1)*ts]
		if r.sw == r.w {
			copy(out, row[:ts])
			continue
		}
		q := r.hx
		if c == 3 {
			for xx := range r.w {
				k := q.k[xx*q.size : xx*q.size+q.n[xx]]
				p := row[3*q.start[xx] : 3*(q.start[xx]+len(k))]
				var s0, s1, s2 int32 = half, half, half
				for x, kx := range k {
					px := p[3*x : 3*x+3 : 3*x+3]
					s0 += int32(px[0]) * kx
					s1 += int32(px[1]) * kx
					s2 += int32(px[2]) * kx
				}
				out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
			}
			continue
		}
		for xx := range r.w {
			k := q.k[xx*q.size : xx*q.size+q.n[xx]]
			s0 := q.start[xx]
			for ch := range c {
				s := int32(half)
				for x, kx := range k {
					s += int32(row[(s0+x)*c+ch]) * kx
				}
				out[xx*c+ch] = clip8(s)
			}
		}
	}
}

// Vertical returns output row yy from the horizontal pass tmp: the row
// of tmp itself when the height does not change, otherwise dst (w·c
// bytes) filled with it.
func (r *Resizer) Vertical(tmp []uint8, yy int, dst []uint8) []uint8 {
	ts := r.w * r.c
	if r.sh == r.h {
		return tmp[yy*ts : (yy+1)*ts]
	}
	q := r.vy
	ymin := q.start[yy] - r.first
	k := q.k[yy*q.size : yy*q.size+q.n[yy]]
	dst = dst[:ts]
	// The taps of one output byte are summed in one go; the sums are
	// integers, so the order does not change the result.
	if len(k) == 4 {
		r0 := tmp[ymin*ts : (ymin+1)*ts]
		r1 := tmp[(ymin+1)*ts : (ymin+2)*ts]
		r2 := tmp[(ymin+2)*ts : (ymin+3)*ts]
		r3 := tmp[(ymin+3)*ts : (ymin+4)*ts]
		k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
		for x := range dst {
			dst[x] = clip8(half + int32(r0[x])*k0 + int32(r1[x])*k1 + int32(r2[x])*k2 + int32(r3[x])*k3)
		}
		return dst
	}
	for x := range dst {
		s := int32(half)
		for y, ky := range k {
			s += int32(tmp[(y+ymin)*ts+x]) * ky
		}
		dst[x] = clip8(s)
	}
	return dst
}

// Resize returns src (row stride stride) resized, w·h·c bytes. The
// result never shares memory with src.
func (r *Resizer) Resize(src []uint8, stride int) []uint8 {
	ts := r.w * r.c
	tmp := make([]uint8, r.rows*ts)
	r.Horizontal(src, stride, tmp, 0, r.rows)
	if r.sh == r.h {
		return tmp
	}
	out := make([]uint8, r.h*ts)
	for yy := range r.h {
		r.Vertical(tmp, yy, out[yy*ts:(yy+1)*ts])
	}
	return out
}

// Nearest resizes a one-byte-per-pixel w×h plane to ow×oh as Pillow's
// NEAREST resize does: the source coordinate starts half a step in and
// accumulates in float64. The result never shares memory with src.
func Nearest(src []uint8, w, h, ow, oh int) []uint8 {
	if ow == w && oh == h {
		return append([]uint8(nil), src...)
	}
	xs := make([]int, ow)
	sx := float64(w) / float64(ow)
	xo := sx * 0.5
	for x := range ow {
		xs[x] = min(int(xo), w-1)
		xo += sx
	}
	out := make([]uint8, ow*oh)
	sy := float64(h) / float64(oh)
	yo := sy * 0.5
	for y := range oh {
		row := src[min(int(yo), h-1)*w:]
		for x, xi := range xs {
			out[y*ow+x] = row[xi]
		}
		yo += sy
	}
	return out
}
