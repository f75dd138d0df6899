package resample

import "math"

// A Lerp is one output index of a linear interpolation: it reads
// W0·in[I0] + W1·in[I1].
type Lerp struct {
	I0, I1 int
	W0, W1 float32
}

// InterpolateTap is ATen's bilinear source index for output index i when
// resizing in pixels to out with align_corners=False:
// src = (i+0.5)·in/out − 0.5, clamped at 0, in float32 as ATen computes
// it on the CPU.
func InterpolateTap(i, in, out int) Lerp {
	scale := float32(in) / float32(out)
	src := max(scale*(float32(i)+0.5)-0.5, 0)
	i0 := int(src)
	w1 := src - float32(i0)
	return Lerp{I0: i0, I1: min(i0+1, in-1), W0: 1 - w1, W1: w1}
}

// InterpolateTaps returns InterpolateTap for every output index.
func InterpolateTaps(in, out int) []Lerp {
	l := make([]Lerp, out)
	for i := range l {
		l[i] = InterpolateTap(i, in, out)
	}
	return l
}

// InterpolateBilinear resizes the w×h float32 plane src into the ow×oh
// plane dst as F.interpolate(mode='bilinear', align_corners=False) does:
// each output blends two rows, each row two pixels, in that order.
func InterpolateBilinear(src []float32, w, h, ow, oh int, dst []float32) {
	xs, ys := InterpolateTaps(w, ow), InterpolateTaps(h, oh)
	for oy, y := range ys {
		r0 := src[y.I0*w : (y.I0+1)*w]
		r1 := src[y.I1*w : (y.I1+1)*w]
		out := dst[oy*ow : (oy+1)*ow]
		for ox, x := range xs {
			top := x.W0*r0[x.I0] + x.W1*r0[x.I1]
			bot := x.W0*r1[x.I0] + x.W1*r1[x.I1]
			out[ox] = y.W0*top + y.W1*bot
		}
	}
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

// InterpolateBilinearAligned resizes one w×h float32 plane to ow×oh as
// F.interpolate(mode='bilinear', align_corners=True) does.
func InterpolateBilinearAligned(src []float32, w, h, ow, oh int) []float32 {
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

// InterpolateBicubicAligned resizes one w×h float32 plane to ow×oh as
// F.interpolate(mode='bicubic', align_corners=True) does, borders
// clamped.
func InterpolateBicubicAligned(src []float32, w, h, ow, oh int) []float32 {
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

// ResizeWithAntialiasing is diffusers' _resize_with_antialiasing of one
// w×h float32 plane to ow×oh: a Gaussian blur (σ from the scale factor,
// reflect padding, x then y) followed by bicubic interpolation with
// align_corners=True. It is how the SVD pipeline shrinks its CLIP input.
func ResizeWithAntialiasing(src []float32, w, h, ow, oh int) []float32 {
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
	return InterpolateBicubicAligned(blur, w, h, ow, oh)
}
