package mesh

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// Crop geometry of SAM-3D-Body (reference notes mesh-fov.md A, "Crop").
const (
	// CropSize is the side of the square crop the backbone reads.
	CropSize = 512
	// Grid is the side of the backbone's token grid (patch 16).
	Grid = CropSize / 16
	// BoxPadding scales the person box about its centre
	// (GetBBoxCenterScale).
	BoxPadding = 1.25
	// aspect is TopdownAffine's prior aspect ratio w/h.
	aspect = 0.75
)

// ImageNet normalisation of the crop (model_config.yaml IMAGE_MEAN/STD).
var (
	imageMean = [3]float32{0.485, 0.456, 0.406}
	imageStd  = [3]float32{0.229, 0.224, 0.225}
)

// Crop is one person's crop: the padded square box and the affine map M
// from frame pixels to crop pixels, x' = M·[x y 1].
type Crop struct {
	Center [2]float64 // box centre in frame pixels
	Side   float64    // S, the square side in frame pixels
	M      [6]float64 // row-major 2×3
}

// boxFromMask returns the tight box (x0, y0, x1, y1) of a mask as
// cv2.boundingRect gives it to the reference (x1 = last column + 1). An
// empty mask is an error.
func boxFromMask(m *scene.Mask) ([4]float64, error) {
	if m == nil || len(m.Pix) != m.W*m.H {
		return [4]float64{}, fmt.Errorf("mask is nil or ragged")
	}
	r := m.Bounds()
	if r.Empty() {
		return [4]float64{}, fmt.Errorf("mask is empty")
	}
	return [4]float64{float64(r.Min.X), float64(r.Min.Y), float64(r.Max.X), float64(r.Max.Y)}, nil
}

// newBodyCrop computes the crop of a box (x0, y0, x1, y1): centre c, padded
// size (w, h)·1.25, then the aspect fixes to 0.75 and to 1, which give the
// square side S = 1.25·max(h, w/0.75); M = [[s,0,256−s·cx],[0,s,256−s·cy]]
// with s = 512/S.
//
// The reference builds M with cv2.getAffineTransform from float32 points;
// that rounds M's entries to about 1e-7 relative, which is below every
// tolerance that matters here, so M is computed in closed form.
func newBodyCrop(box [4]float64) (Crop, error) { return newCrop(box, BoxPadding) }

// newCrop is newBodyCrop with the box padding of GetBBoxCenterScale.
func newCrop(box [4]float64, padding float64) (Crop, error) {
	w, h := box[2]-box[0], box[3]-box[1]
	if !(w > 0 && h > 0) || math.IsInf(w+h, 0) {
		return Crop{}, fmt.Errorf("box %v is empty", box)
	}
	cx, cy := (box[0]+box[2])/2, (box[1]+box[3])/2
	w, h = w*padding, h*padding
	// fix_aspect_ratio(·, 0.75): w > 0.75h ? (w, w/0.75) : (0.75h, h);
	// then to 1 the side is the larger of the two.
	if w > h*aspect {
		h = w / aspect
	} else {
		w = h * aspect
	}
	side := max(w, h)
	s := CropSize / side
	return Crop{
		Center: [2]float64{cx, cy},
		Side:   side,
		M:      [6]float64{s, 0, CropSize/2 - s*cx, 0, s, CropSize/2 - s*cy},
	}, nil
}

// ToCrop maps a frame point into crop pixels.
func (c Crop) ToCrop(x, y float64) (float64, float64) {
	return c.M[0]*x + c.M[1]*y + c.M[2], c.M[3]*x + c.M[4]*y + c.M[5]
}

// WarpRGB crops img through c into a 512×512 RGB image as
// cv2.warpAffine(img, M, (512, 512), flags=INTER_LINEAR) does with its
// default constant black border. dst must hold 3·512·512 bytes.
//
// OpenCV 4.11 replaced warpAffine's fixed-point path (source positions
// rounded to 1/32 pixel) with one in float32, and the reference's
// unpinned opencv-python installs a version with the new path; this
// follows it. The two differ by up to 8 levels where the crop enlarges a
// small box many times.
func (c Crop) WarpRGB(dst []uint8, img *scene.RGB) {
	c.warp(dst, img.Pix, img.Stride, 3, img.Rect.Dx(), img.Rect.Dy())
}

// WarpMask crops a 0/1 mask through c as the reference warps its 0/255
// uint8 mask (same interpolation as WarpRGB), giving values 0..255.
func (c Crop) WarpMask(dst []uint8, m *scene.Mask) {
	src := make([]uint8, len(m.Pix))
	for i, v := range m.Pix {
		if v != 0 {
			src[i] = 255
		}
	}
	c.warp(dst, src, m.W, 1, m.W, m.H)
}

// coef returns the inverse of M as cv2.invertAffineTransform computes it
// (in float64), as the float32 coefficients a11 a12 b1 a21 a22 b2 that
// warp (and the crop kernel) map output pixels to the source with.
func (c Crop) coef() [6]float32 {
	d := c.M[0]*c.M[4] - c.M[1]*c.M[3]
	if d != 0 {
		d = 1 / d
	}
	return [6]float32{
		float32(c.M[4] * d), float32(-c.M[1] * d), float32(-c.M[4]*d*c.M[2] - (-c.M[1]*d)*c.M[5]),
		float32(-c.M[3] * d), float32(c.M[0] * d), float32(-(-c.M[3]*d)*c.M[2] - c.M[0]*d*c.M[5]),
	}
}

func (c Crop) warp(dst, src []uint8, stride, nch, W, H int) {
	// Inverse of M, then float32 source positions, weights and sums,
	// rounded to nearest even.
	k := c.coef()
	a11, a12, b1, a21, a22, b2 := k[0], k[1], k[2], k[3], k[4], k[5]
	// sx = (a11·x + a12·y) + b1 in float32, likewise sy. A crop has no
	// rotation (a12 = a21 = 0), so sx depends on x alone and sy on y
	// alone, and the taps are worked out once per column and row.
	at := func(x, y int) (float32, float32) {
		fx, fy := float32(x), float32(y)
		return float32(float32(a11*fx)+float32(a12*fy)) + b1, float32(float32(a21*fx)+float32(a22*fy)) + b2
	}
	separable := a12 == 0 && a21 == 0
	var cols, rows [CropSize]tap
	if separable {
		for i := range CropSize {
			sx, _ := at(i, 0)
			_, sy := at(0, i)
			cols[i], rows[i] = tapAt(sx), tapAt(sy)
		}
	}
	for y := range CropSize {
		row := dst[y*CropSize*nch : (y+1)*CropSize*nch]
		for x := range CropSize {
			tx, ty := cols[x], rows[y]
			if !separable {
				sx, sy := at(x, y)
				tx, ty = tapAt(sx), tapAt(sy)
			}
			out := row[x*nch : x*nch+nch]
			if !(tx.ok && ty.ok) || tx.i < -1 || ty.i < -1 || tx.i >= W || ty.i >= H {
				clear(out) // every tap outside (or not a number): the border value 0
				continue
			}
			u, v := tx.f, ty.f
			w00, w10 := (1-u)*(1-v), u*(1-v)
			w01, w11 := (1-u)*v, u*v
			in0, in1 := ty.i >= 0, ty.i+1 < H
			l, r := tx.i >= 0, tx.i+1 < W
			o := ty.i*stride + tx.i*nch
			for ch := range nch {
				var p00, p10, p01, p11 float32
				if in0 && l {
					p00 = float32(src[o+ch])
				}
				if in0 && r {
					p10 = float32(src[o+nch+ch])
				}
				if in1 && l {
					p01 = float32(src[o+stride+ch])
				}
				if in1 && r {
					p11 = float32(src[o+stride+nch+ch])
				}
				sum := float32(float32(float32(p00*w00)+float32(p10*w10))+float32(p01*w01)) + float32(p11*w11)
				// Round half to even: 0 ≤ sum < 2²³, so adding and taking
				// away 2²³ rounds to an integer in float32.
				q := int32(float32(sum+1<<23) - 1<<23)
				if q > 255 {
					q = 255
				}
				out[ch] = uint8(q)
			}
		}
	}
}

// tap is a source position split into its integer part and fraction.
type tap struct {
	i  int
	f  float32
	ok bool // finite and within int range
}

func tapAt(s float32) tap {
	fl := float32(math.Floor(float64(s)))
	if !(fl >= -1<<30 && fl <= 1<<30) {
		return tap{}
	}
	return tap{i: int(fl), f: s - fl, ok: true}
}

// normalizeCrop writes the crop (512×512 RGB bytes) as a CHW float32 image
// into dst (3·512·512): x/255 as ToTensor gives it, then (x−mean)/std.
func normalizeCrop(dst []float32, crop []uint8) {
	const n = CropSize * CropSize
	for i := range n {
		for ch := range 3 {
			v := float32(crop[3*i+ch]) / 255
			dst[ch*n+i] = (v - imageMean[ch]) / imageStd[ch]
		}
	}
}

// Condition is the CLIFF vector [(cx_b−cx_K)/fx, (cy_b−cy_K)/fx, S/fx]
// (USE_INTRIN_CENTER: offsets from K's principal point, all over fx).
func (c Crop) Condition(K scene.Intrinsics) [3]float32 {
	return [3]float32{
		float32((c.Center[0] - K.Cx) / K.Fx),
		float32((c.Center[1] - K.Cy) / K.Fx),
		float32(c.Side / K.Fx),
	}
}

// Rays writes the ray map at the token grid, [2][32][32] float32, into
// dst. The reference computes rays ((p − M02)/M00 − c)/f for every crop
// pixel p = 0..511 and downsamples by 16 with torch's bilinear
// antialias filter (CameraEncoder). The map is a ramp in x for the first
// channel and in y for the second, so the 2-D filter reduces to that
// filter's 1-D taps (resample.NewTaps, filter Bilinear) applied to each
// axis. Near the borders the taps are cut and renormalised, so the result
// is not the ramp's value at 16j+7.5 there.
func (c Crop) Rays(dst []float32, K scene.Intrinsics) {
	taps := resample.NewTaps(CropSize, Grid, resample.Bilinear)
	ramp := func(axis int) [Grid]float64 {
		var out [Grid]float64
		m0, m2 := c.M[4*axis], c.M[3*axis+2] // M00, M02 or M11, M12
		f, pc := K.Fx, K.Cx
		if axis == 1 {
			f, pc = K.Fy, K.Cy
		}
		for j := range Grid {
			var s float64
			for k, w := range taps.W[j*taps.Size : j*taps.Size+taps.N[j]] {
				p := float64(taps.Start[j] + k)
				s += w * ((p/m0 - m2/m0) - pc) / f
			}
			out[j] = s
		}
		return out
	}
	rx, ry := ramp(0), ramp(1)
	for i := range Grid {
		for j := range Grid {
			dst[i*Grid+j] = float32(rx[j])
			dst[Grid*Grid+i*Grid+j] = float32(ry[i])
		}
	}
}
