package amodal

import (
	"math"
)

// The reference resizes with four libraries; each has its own rule, and
// the stage reproduces the one the reference used at each place:
//
//   - PIL Image.resize (torchvision Resize on PIL images, and the
//     reference's img.resize of decoded frames): separable convolution
//     with the filter widened by the scale when shrinking (antialias),
//     22-bit fixed-point coefficients and 8-bit rounding after each pass.
//   - PIL NEAREST: the pixel under each output pixel's centre.
//   - cv2.resize INTER_CUBIC on float64 (Depth Anything's input) and
//     INTER_LINEAR on uint8 (completed frames back to video size).
//   - torch interpolate with align_corners=True (depth back to the model
//     size; bicubic for the CLIP input after a Gaussian blur).

// pilPrecisionBits is Pillow's PRECISION_BITS for 8-bit images.
const pilPrecisionBits = 32 - 8 - 2

// pilFilter is one of Pillow's resampling filters.
type pilFilter int

const (
	pilBilinear pilFilter = iota
	pilBicubic
)

func (f pilFilter) support() float64 {
	if f == pilBicubic {
		return 2
	}
	return 1
}

func (f pilFilter) eval(x float64) float64 {
	x = math.Abs(x)
	if f == pilBilinear {
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

// pilAxis holds one axis's coefficients: output i reads in[start[i]:
// start[i]+n[i]] with weights k[i*ksize:].
type pilAxis struct {
	ksize    int
	start, n []int
	k        []int64
}

// pilCoeffs is Pillow's precompute_coeffs plus normalize_coeffs_8bpc.
func pilCoeffs(in, out int, f pilFilter) pilAxis {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := f.support() * fscale
	ksize := int(math.Ceil(support))*2 + 1
	ax := pilAxis{ksize: ksize, start: make([]int, out), n: make([]int, out), k: make([]int64, out*ksize)}
	w := make([]float64, ksize)
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in) - lo
		var sum float64
		for x := range hi {
			w[x] = f.eval((float64(x+lo) - center + 0.5) / fscale)
			sum += w[x]
		}
		for x := range hi {
			if sum != 0 {
				w[x] /= sum
			}
			v := w[x] * (1 << pilPrecisionBits)
			if w[x] < 0 {
				ax.k[i*ksize+x] = int64(-0.5 + v)
			} else {
				ax.k[i*ksize+x] = int64(0.5 + v)
			}
		}
		ax.start[i], ax.n[i] = lo, hi
	}
	return ax
}

func pilClip8(v int64) uint8 {
	if v >= 1<<pilPrecisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> pilPrecisionBits)
}

// pilResize resizes an interleaved 8-bit image of c channels from w×h to
// ow×oh as Pillow's Image.resize does (horizontal pass first; a same-size
// resize is a copy).
func pilResize(src []uint8, w, h, c, ow, oh int, f pilFilter) []uint8 {
	cur, cw := src, w
	if ow != w {
		ax := pilCoeffs(w, ow, f)
		tmp := make([]uint8, ow*h*c)
		for y := range h {
			row := cur[y*w*c:]
			orow := tmp[y*ow*c:]
			for x := range ow {
				k := ax.k[x*ax.ksize:]
				s0 := ax.start[x]
				for ch := range c {
					ss := int64(1) << (pilPrecisionBits - 1)
					for j := range ax.n[x] {
						ss += int64(row[(s0+j)*c+ch]) * k[j]
					}
					orow[x*c+ch] = pilClip8(ss)
				}
			}
		}
		cur, cw = tmp, ow
	}
	if oh != h {
		ax := pilCoeffs(h, oh, f)
		out := make([]uint8, ow*oh*c)
		stride := cw * c
		acc := make([]int64, stride)
		for y := range oh {
			for x := range acc {
				acc[x] = 1 << (pilPrecisionBits - 1)
			}
			for j := range ax.n[y] {
				kj := ax.k[y*ax.ksize+j]
				row := cur[(ax.start[y]+j)*stride:][:stride]
				for x, v := range row {
					acc[x] += int64(v) * kj
				}
			}
			orow := out[y*stride:][:stride]
			for x, v := range acc {
				orow[x] = pilClip8(v)
			}
		}
		return out
	}
	if &cur[0] == &src[0] {
		return append([]uint8(nil), src...)
	}
	return cur
}

// pilNearest resizes a one-byte-per-pixel plane as Pillow's NEAREST
// resize: source coordinates accumulate from half a step in float64.
func pilNearest(src []uint8, w, h, ow, oh int) []uint8 {
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

// cvCubic is cv2's interpolateCubic (A = −0.75) in float32.
func cvCubic(x float32) [4]float32 {
	const a = float32(-0.75)
	var c [4]float32
	c[0] = float32(float32(float32(a*(x+1)-5*a)*(x+1))+8*a)*(x+1) - 4*a
	c[1] = float32(float32((a+2)*x-(a+3))*x)*x + 1
	c[2] = float32(float32((a+2)*(1-x)-(a+3))*(1-x))*(1-x) + 1
	c[3] = 1 - c[0] - c[1] - c[2]
	return c
}

// cvCubicAxis gives cv2's source taps and weights for one axis.
func cvCubicAxis(in, out int) ([]int, [][4]float32) {
	scale := float64(in) / float64(out)
	idx := make([]int, out)
	ws := make([][4]float32, out)
	for i := range out {
		fx := float32((float64(i)+0.5)*scale - 0.5)
		sx := int(math.Floor(float64(fx)))
		idx[i] = sx
		ws[i] = cvCubic(fx - float32(sx))
	}
	return idx, ws
}

// cvResizeCubic resizes planar float64 data (c planes of w×h) with cv2's
// INTER_CUBIC (float32 weights, double buffers, replicated borders).
func cvResizeCubic(src []float64, w, h, c, ow, oh int) []float64 {
	xi, xw := cvCubicAxis(w, ow)
	yi, yw := cvCubicAxis(h, oh)
	clamp := func(v, n int) int { return min(max(v, 0), n-1) }
	taps := make([][4]int, ow)
	for x := range taps {
		for k := range 4 {
			taps[x][k] = clamp(xi[x]-1+k, w)
		}
	}
	out := make([]float64, c*ow*oh)
	tmp := make([]float64, h*ow) // horizontal pass of one plane
	for ch := range c {
		plane := src[ch*w*h:]
		for y := range h {
			row := plane[y*w:][:w]
			trow := tmp[y*ow:][:ow]
			for x := range trow {
				var s float64
				for k, t := range taps[x] {
					s += row[t] * float64(xw[x][k])
				}
				trow[x] = s
			}
		}
		o := out[ch*ow*oh:]
		for y := range oh {
			orow := o[y*ow:][:ow]
			for k := range 4 {
				row := tmp[clamp(yi[y]-1+k, h)*ow:][:ow]
				wk := float64(yw[y][k])
				if k == 0 {
					for x, v := range row {
						orow[x] = v * wk
					}
					continue
				}
				for x, v := range row {
					orow[x] += v * wk
				}
			}
		}
	}
	return out
}

// cvResizeLinear resizes an interleaved 8-bit image with cv2's
// INTER_LINEAR rule (half-pixel centres, clamped at the edges), computed
// in float and rounded: cv2's 11-bit fixed point can differ by one level.
func cvResizeLinear(src []uint8, w, h, c, ow, oh int) []uint8 {
	axis := func(in, out int) ([]int, []float32) {
		scale := float64(in) / float64(out)
		idx, f := make([]int, out), make([]float32, out)
		for i := range out {
			fx := float32((float64(i)+0.5)*scale - 0.5)
			sx := int(math.Floor(float64(fx)))
			fx -= float32(sx)
			if sx < 0 {
				sx, fx = 0, 0
			}
			if sx >= in-1 {
				sx, fx = in-1, 0
			}
			idx[i], f[i] = sx, fx
		}
		return idx, f
	}
	xi, xf := axis(w, ow)
	yi, yf := axis(h, oh)
	out := make([]uint8, ow*oh*c)
	for y := range oh {
		r0 := src[yi[y]*w*c:]
		r1 := src[min(yi[y]+1, h-1)*w*c:]
		fy := float64(yf[y])
		for x := range ow {
			x0, x1 := xi[x]*c, min(xi[x]+1, w-1)*c
			fx := float64(xf[x])
			for ch := range c {
				top := float64(r0[x0+ch])*(1-fx) + float64(r0[x1+ch])*fx
				bot := float64(r1[x0+ch])*(1-fx) + float64(r1[x1+ch])*fx
				v := math.Round(top*(1-fy) + bot*fy)
				out[(y*ow+x)*c+ch] = uint8(min(max(v, 0), 255))
			}
		}
	}
	return out
}

// alignedAxis gives torch's align_corners=True source position of each
// output index, in float32 as ATen computes it.
func alignedAxis(in, out int) []float32 {
	p := make([]float32, out)
	if out <= 1 {
		return p
	}
	scale := float32(in-1) / float32(out-1)
	for i := range p {
		p[i] = scale * float32(i)
	}
	return p
}

// bilinearAligned resizes one float32 plane with torch's bilinear
// interpolation, align_corners=True.
func bilinearAligned(src []float32, w, h, ow, oh int) []float32 {
	xs, ys := alignedAxis(w, ow), alignedAxis(h, oh)
	out := make([]float32, ow*oh)
	for y := range oh {
		y0 := int(ys[y])
		y1 := min(y0+1, h-1)
		ly := ys[y] - float32(y0)
		for x := range ow {
			x0 := int(xs[x])
			x1 := min(x0+1, w-1)
			lx := xs[x] - float32(x0)
			top := (1-lx)*src[y0*w+x0] + lx*src[y0*w+x1]
			bot := (1-lx)*src[y1*w+x0] + lx*src[y1*w+x1]
			out[y*ow+x] = (1-ly)*top + ly*bot
		}
	}
	return out
}

// torchCubic is ATen's cubic convolution weights (A = −0.75).
func torchCubic(t float32) [4]float32 {
	const a = float32(-0.75)
	c1 := func(x float32) float32 { return float32(float32((a+2)*x-(a+3))*x)*x + 1 }
	c2 := func(x float32) float32 { return float32(float32(float32(a*x-5*a)*x)+8*a)*x - 4*a }
	return [4]float32{c2(t + 1), c1(t), c1(1 - t), c2(2 - t)}
}

// bicubicAligned resizes one float32 plane with torch's bicubic
// interpolation, align_corners=True, borders clamped.
func bicubicAligned(src []float32, w, h, ow, oh int) []float32 {
	xs, ys := alignedAxis(w, ow), alignedAxis(h, oh)
	clamp := func(v, n int) int { return min(max(v, 0), n-1) }
	type tap struct {
		i [4]int
		w [4]float32
	}
	taps := func(pos []float32, n int) []tap {
		t := make([]tap, len(pos))
		for i, p := range pos {
			f := float32(math.Floor(float64(p)))
			b := int(f)
			t[i].w = torchCubic(p - f)
			for k := range 4 {
				t[i].i[k] = clamp(b-1+k, n)
			}
		}
		return t
	}
	tx, ty := taps(xs, w), taps(ys, h)
	// Interpolating along x for every input row first gives each output
	// pixel the same four row values, summed in the same order, as
	// ATen's per-pixel loop, with a quarter of the work.
	rows := make([]float32, h*ow)
	for y := range h {
		src := src[y*w:][:w]
		dst := rows[y*ow:][:ow]
		for x := range dst {
			t := &tx[x]
			var r float32
			for k := range 4 {
				r += src[t.i[k]] * t.w[k]
			}
			dst[x] = r
		}
	}
	out := make([]float32, ow*oh)
	for y := range oh {
		t := &ty[y]
		dst := out[y*ow:][:ow]
		for k := range 4 {
			row := rows[t.i[k]*ow:][:ow]
			wk := t.w[k]
			for x, v := range row {
				dst[x] += v * wk
			}
		}
	}
	return out
}

// gaussianKernel is diffusers' _gaussian: window ks, normalised.
func gaussianKernel(ks int, sigma float32) []float32 {
	k := make([]float32, ks)
	var sum float32
	for i := range k {
		x := float32(i - ks/2)
		if ks%2 == 0 {
			x += 0.5
		}
		k[i] = float32(math.Exp(float64(-x * x / (2 * sigma * sigma))))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// reflect mirrors an index into [0,n) without repeating the edge
// (torch's "reflect" padding).
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*(n-1) - i
		}
	}
	return i
}

// antialiasResize is diffusers' _resize_with_antialiasing of one float32
// plane: a Gaussian blur (σ from the scale factor, reflect padding, x
// then y) followed by bicubic interpolation with align_corners=True. It
// is how the SVD pipeline shrinks the CLIP input to 224×224.
func antialiasResize(src []float32, w, h, ow, oh int) []float32 {
	sy := max((float64(h)/float64(oh)-1)/2, 0.001)
	sx := max((float64(w)/float64(ow)-1)/2, 0.001)
	ky, kx := int(max(2*2*sy, 3)), int(max(2*2*sx, 3))
	if ky%2 == 0 {
		ky++
	}
	if kx%2 == 0 {
		kx++
	}
	gx, gy := gaussianKernel(kx, float32(sx)), gaussianKernel(ky, float32(sy))
	// Separable blur, x then y; each sum runs over the taps in order, as
	// the reference's conv2d of a 1-D kernel does.
	tmp := make([]float32, w*h)
	rx := kx / 2
	for y := range h {
		row := src[y*w:][:w]
		dst := tmp[y*w:][:w]
		for x := range dst {
			var s float32
			if x >= rx && x+rx < w {
				for k, g := range gx {
					s += row[x-rx+k] * g
				}
			} else {
				for k, g := range gx {
					s += row[reflect(x-rx+k, w)] * g
				}
			}
			dst[x] = s
		}
	}
	blur := make([]float32, w*h)
	ry := ky / 2
	for y := range h {
		dst := blur[y*w:][:w]
		for k, g := range gy {
			row := tmp[reflect(y-ry+k, h)*w:][:w]
			for x, v := range row {
				dst[x] += v * g
			}
		}
	}
	return bicubicAligned(blur, w, h, ow, oh)
}
