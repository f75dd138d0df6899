package segment

import (
	"math"

	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// The reference loads frames with PIL's Image.resize to the square model
// size (bicubic, the default filter; aspect ratio not kept), then maps
// bytes to [-1,1] with mean 0.5 and std 0.5 (reference notes A.2);
// resample.Resizer is Pillow's resampler, so the engine sees the same
// bytes as the reference.

// frameResizer resizes frames of one size to the square model input with
// the taps, the normalisation table and the scratch rows made once, and
// writes the normalised planes straight into the engine's input. It is
// not safe for concurrent use.
type frameResizer struct {
	sw, sh, size int
	rs           *resample.Resizer
	tmp          []uint8 // the horizontal pass
	lut          [3][256]float32
}

func newFrameResizer(sw, sh, size int, mean, std [3]float32) *frameResizer {
	rs := resample.NewResizer(sw, sh, size, size, 3, resample.Bicubic)
	r := &frameResizer{sw: sw, sh: sh, size: size, rs: rs, tmp: make([]uint8, 3*size*rs.Rows())}
	// float64 x/255 as numpy computes it, then float32 as torch converts
	// it before normalising; a table per channel gives the same values.
	for c := range 3 {
		for v := range 256 {
			r.lut[c][v] = (float32(float64(v)/255) - mean[c]) / std[c]
		}
	}
	return r
}

// input writes the engine input of src into out, [3,size,size]: resized
// as the reference does and normalised. Both passes are split over rows.
func (r *frameResizer) input(src *scene.RGB, out []float32) {
	pix := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y):]
	parallelRows(r.rs.Rows(), func(lo, hi int) { r.rs.Horizontal(pix, src.Stride, r.tmp, lo, hi) })
	w, n := r.size, r.size*r.size
	R, G, B := out[:n], out[n:2*n], out[2*n:3*n]
	parallelRows(r.size, func(lo, hi int) {
		row := make([]uint8, 3*w)
		for yy := lo; yy < hi; yy++ {
			px := r.rs.Vertical(r.tmp, yy, row)
			o := yy * w
			rr, gg, bb := R[o:o+w], G[o:o+w], B[o:o+w]
			for x := range w {
				p := px[3*x : 3*x+3 : 3*x+3]
				rr[x], gg[x], bb[x] = r.lut[0][p[0]], r.lut[1][p[1]], r.lut[2][p[2]]
			}
		}
	})
}

// modelInput returns the engine input of a frame: [3,size,size] float32,
// resized as the reference does and normalised to [-1,1].
func modelInput(img *scene.RGB, size int, mean, std [3]float32) []float32 {
	out := make([]float32, 3*size*size)
	newFrameResizer(img.Rect.Dx(), img.Rect.Dy(), size, mean, std).input(img, out)
	return out
}

// thresholdMask resizes low-res mask logits to w×h as
// resample.InterpolateBilinear does, with the same taps and operations,
// and keeps the pixels whose logit is above 0 (reference notes A.6); it
// never holds the frame-sized float map.
func thresholdMask(logits []float32, size, w, h int) *scene.Mask {
	m := scene.NewMask(w, h)
	xs := resample.InterpolateTaps(size, w)
	ys := resample.InterpolateTaps(size, h)
	for oy, y := range ys {
		r0 := logits[y.I0*size : (y.I0+1)*size]
		r1 := logits[y.I1*size : (y.I1+1)*size]
		out := m.Pix[oy*w : (oy+1)*w]
		for ox, x := range xs {
			top := x.W0*r0[x.I0] + x.W1*r0[x.I1]
			bot := x.W0*r1[x.I0] + x.W1*r1[x.I1]
			if y.W0*top+y.W1*bot > 0 {
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
// resample.InterpolateBilinear does, then sigmoid·20−10 (tracked frames)
// or, binarised (clicked frames), ±10 after
// _apply_non_overlapping_constraints: only the object with the highest
// logit (the first on ties) keeps a positive one.
func maskInput(hr []float32, logits [][]float32, l, S int, binarize bool, bufs *floatPool) {
	B := len(logits)
	xs, ys := resample.InterpolateTaps(l, S), resample.InterpolateTaps(l, S)
	// Each output row blends two source rows resized horizontally, with
	// the same operations as resample.InterpolateBilinear; each source
	// row is resized once.
	h := bufs.get(B * l * S)
	defer bufs.put(h)
	parallelRows(B*l, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			b, r := j/l, j%l
			src := logits[b][r*l : (r+1)*l]
			out := h[j*S : (j+1)*S]
			for ox, x := range xs {
				out[ox] = x.W0*src[x.I0] + x.W1*src[x.I1]
			}
		}
	})
	parallelRows(S, func(lo, hi int) {
		for oy := lo; oy < hi; oy++ {
			y := ys[oy]
			for b := range B {
				top := h[(b*l+y.I0)*S : (b*l+y.I0+1)*S]
				bot := h[(b*l+y.I1)*S : (b*l+y.I1+1)*S]
				out := hr[b*S*S+oy*S : b*S*S+(oy+1)*S]
				for ox := range out {
					out[ox] = y.W0*top[ox] + y.W1*bot[ox]
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
