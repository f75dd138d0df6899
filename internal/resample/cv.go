package resample

import "math"

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

// CVResizeCubic resizes planar float64 data (c planes of w×h) to ow×oh
// with cv2.resize's INTER_CUBIC (float32 weights, double buffers,
// replicated borders).
func CVResizeCubic(src []float64, w, h, c, ow, oh int) []float64 {
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

// CVResizeLinear resizes an interleaved 8-bit image of c channels to
// ow×oh with cv2.resize's INTER_LINEAR rule (half-pixel centres, clamped
// at the edges), computed in float and rounded: cv2's 11-bit fixed point
// can differ by one level.
func CVResizeLinear(src []uint8, w, h, c, ow, oh int) []uint8 {
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
