package video

import (
	"fmt"

	"github.com/body4d/body4d/scene"
)

// RGBToI420 converts an even-sized RGB frame to planar 4:2:0 YCbCr (I420:
// the Y plane, then Cb, then Cr, each plane's rows packed) in dst, which
// must hold w*h*3/2 bytes.
//
// The matrix is BT.601 with limited ("TV") range, Y in 16–235 and chroma
// in 16–240, in the 8-bit integer form of ITU-R BT.601 / swscale, the
// conversion ffmpeg applies by default for -pix_fmt yuv420p. The encoders
// tag their output as BT.601 (smpte170m), so decoders invert this matrix.
// Each chroma sample is the mean of its 2×2 block of pixels (centre
// siting), computed from the averaged RGB.
func RGBToI420(src *scene.RGB, dst []byte) error {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("RGBToI420: frame is %dx%d; width and height must be even", w, h)
	}
	if len(dst) < w*h*3/2 {
		return fmt.Errorf("RGBToI420: buffer holds %d bytes, %dx%d needs %d", len(dst), w, h, w*h*3/2)
	}
	yp := dst[:w*h]
	cb := dst[w*h : w*h+w*h/4]
	cr := dst[w*h+w*h/4 : w*h*3/2]
	cw := w / 2
	for y := 0; y < h; y += 2 {
		r0 := src.Pix[y*src.Stride : y*src.Stride+3*w]
		r1 := src.Pix[(y+1)*src.Stride : (y+1)*src.Stride+3*w]
		y0 := yp[y*w : y*w+w]
		y1 := yp[(y+1)*w : (y+1)*w+w]
		cbr := cb[(y/2)*cw : (y/2)*cw+cw]
		crr := cr[(y/2)*cw : (y/2)*cw+cw]
		for x := 0; x < cw; x++ {
			i := 6 * x
			ra, ga, ba := int32(r0[i]), int32(r0[i+1]), int32(r0[i+2])
			rb, gb, bb := int32(r0[i+3]), int32(r0[i+4]), int32(r0[i+5])
			rc, gc, bc := int32(r1[i]), int32(r1[i+1]), int32(r1[i+2])
			rd, gd, bd := int32(r1[i+3]), int32(r1[i+4]), int32(r1[i+5])
			y0[2*x] = luma(ra, ga, ba)
			y0[2*x+1] = luma(rb, gb, bb)
			y1[2*x] = luma(rc, gc, bc)
			y1[2*x+1] = luma(rd, gd, bd)
			// Sums of four pixels: the shift absorbs the /4 (18 instead
			// of 16) so the mean is not rounded twice.
			r, g, b := ra+rb+rc+rd, ga+gb+gc+gd, ba+bb+bc+bd
			cbr[x] = uint8((-9714*r-19070*g+28784*b+1<<17)>>18 + 128)
			crr[x] = uint8((28784*r-24103*g-4681*b+1<<17)>>18 + 128)
		}
	}
	return nil
}

// luma is BT.601 limited-range Y = 16 + (65.481R + 128.553G + 24.966B)/255.
// The coefficients are scaled by 2^16/255 (16-bit fixed point, like
// swscale's): the common 8-bit form (66, 129, 25) is off by one on green.
// Chroma uses Cb = 128 + (−37.797R − 74.203G + 112B)/255 and
// Cr = 128 + (112R − 93.786G − 18.214B)/255, scaled the same way.
func luma(r, g, b int32) uint8 { return uint8((16829*r+33039*g+6416*b+1<<15)>>16 + 16) }
