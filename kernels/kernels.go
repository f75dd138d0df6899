// Package kernels holds body4d's CUDA kernels and their pure-Go reference
// implementations.
//
// The kernels are CUDA C sources (*.cu), compiled to PTX by go generate
// (nvcc from the CUDA toolkit; the PTX is committed) and embedded by the
// loader in cuda.go, which builds only with the build tag "cuda". The
// functions in this file compute the same results on the CPU; they are the
// CPU path and the reference the kernels are checked against. The check
// (cpugrid.go, cpugrid_test.go) compiles the kernel bodies as C++ and runs their
// grids as loops: it verifies the kernels' arithmetic and indexing, not
// their execution on a GPU, which has not been tested.
package kernels

//go:generate nvcc --ptx -arch=compute_70 -o preprocess.ptx preprocess.cu
//go:generate nvcc --ptx -arch=compute_70 -o skin.ptx skin.cu
//go:generate nvcc --ptx -arch=compute_70 -o raster.ptx raster.cu

import (
	"fmt"
	"math"
)

// Norm is a per-channel normalisation: v ↦ (v/255 − Mean)/Std.
type Norm struct {
	Mean, Std [3]float32
}

// SAM3Norm maps pixels to [−1, 1], as SAM-3 and Diffusion-VAS do.
func SAM3Norm() Norm {
	return Norm{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}
}

// ImageNetNorm is the ImageNet mean and std used by SAM-3D-Body and MoGe-2.
func ImageNetNorm() Norm {
	return Norm{Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
}

// Warp maps an output pixel (x, y) to source coordinates
// (W[0]·x + W[1]·y + W[2], W[3]·x + W[4]·y + W[5]), with pixel centres at
// integer coordinates: the inverse of the matrix cv2.warpAffine is given.
type Warp [6]float32

// ResizeWarp is the warp of a bilinear resize from sw×sh to dw×dh with
// align_corners=False: source coordinate (x + ½)·sw/dw − ½.
func ResizeWarp(sw, sh, dw, dh int) Warp {
	sx, sy := float32(sw)/float32(dw), float32(sh)/float32(dh)
	return Warp{sx, 0, sx/2 - 0.5, 0, sy, sy/2 - 0.5}
}

// ClampBorder, or any negative border value, makes samples outside the
// source take the nearest edge pixel.
const ClampBorder float32 = -1

// Resize resizes an interleaved 8-bit RGB image (sw×sh) to float NCHW
// planes (3×dh×dw) with bilinear interpolation, align_corners=False, no
// antialiasing, and normalises them.
func Resize(dst []float32, dw, dh int, src []uint8, sw, sh int, n Norm) error {
	return WarpAffine(dst, dw, dh, src, sw, sh, ResizeWarp(sw, sh, dw, dh), ClampBorder, n)
}

// WarpAffine samples an interleaved 8-bit RGB image (sw×sh) bilinearly at
// the warped coordinates of each output pixel, writes float NCHW planes
// (3×dh×dw) and normalises them. Taps outside the source take border (0 to
// 255, like cv2.BORDER_CONSTANT) or, if border is negative (ClampBorder),
// the nearest edge pixel.
func WarpAffine(dst []float32, dw, dh int, src []uint8, sw, sh int, w Warp, border float32, n Norm) error {
	if sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 {
		return fmt.Errorf("kernels: warp from %d×%d to %d×%d: sizes must be positive", sw, sh, dw, dh)
	}
	if len(src) != sw*sh*3 {
		return fmt.Errorf("kernels: source holds %d bytes, a %d×%d RGB image needs %d", len(src), sw, sh, sw*sh*3)
	}
	if len(dst) != 3*dw*dh {
		return fmt.Errorf("kernels: destination holds %d floats, 3×%d×%d needs %d", len(dst), dh, dw, 3*dw*dh)
	}
	for c := 0; c < 3; c++ {
		if n.Std[c] == 0 {
			return fmt.Errorf("kernels: normalisation std of channel %d is 0", c)
		}
	}
	tap := func(x, y, c int) float64 {
		if border < 0 {
			x, y = min(max(x, 0), sw-1), min(max(y, 0), sh-1)
		} else if x < 0 || x >= sw || y < 0 || y >= sh {
			return float64(border)
		}
		return float64(src[(y*sw+x)*3+c])
	}
	plane := dw * dh
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			sx := float64(w[0])*float64(x) + float64(w[1])*float64(y) + float64(w[2])
			sy := float64(w[3])*float64(x) + float64(w[4])*float64(y) + float64(w[5])
			fx, fy := math.Floor(sx), math.Floor(sy)
			x0, y0 := int(fx), int(fy)
			ax, ay := sx-fx, sy-fy
			for c := 0; c < 3; c++ {
				v := (1-ay)*((1-ax)*tap(x0, y0, c)+ax*tap(x0+1, y0, c)) +
					ay*((1-ax)*tap(x0, y0+1, c)+ax*tap(x0+1, y0+1, c))
				dst[c*plane+y*dw+x] = float32((v/255 - float64(n.Mean[c])) / float64(n.Std[c]))
			}
		}
	}
	return nil
}

// UpsampleMask resizes a w×h logit map to W×H with bilinear interpolation,
// align_corners=False, and sets mask to 1 where the logit is > 0 and 0
// elsewhere, as SAM-3's output masks.
func UpsampleMask(mask []uint8, W, H int, logits []float32, w, h int) error {
	if w <= 0 || h <= 0 || W <= 0 || H <= 0 {
		return fmt.Errorf("kernels: mask upsample from %d×%d to %d×%d: sizes must be positive", w, h, W, H)
	}
	if len(logits) != w*h {
		return fmt.Errorf("kernels: logits hold %d values, %d×%d needs %d", len(logits), w, h, w*h)
	}
	if len(mask) != W*H {
		return fmt.Errorf("kernels: mask holds %d bytes, %d×%d needs %d", len(mask), W, H, W*H)
	}
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			if maskLogit(logits, w, h, W, H, x, y) > 0 {
				mask[y*W+x] = 1
			} else {
				mask[y*W+x] = 0
			}
		}
	}
	return nil
}

// maskLogit returns the bilinearly interpolated logit (align_corners=False)
// at output pixel (x, y) of a w×h map resized to W×H.
func maskLogit(logits []float32, w, h, W, H, x, y int) float64 {
	src := func(d, n, N int) (int, int, float64) {
		s := max((float64(d)+0.5)*float64(n)/float64(N)-0.5, 0)
		i := int(s)
		return i, min(i+1, n-1), s - float64(i)
	}
	x0, x1, ax := src(x, w, W)
	y0, y1, ay := src(y, h, H)
	l := func(x, y int) float64 { return float64(logits[y*w+x]) }
	return (1-ay)*((1-ax)*l(x0, y0)+ax*l(x1, y0)) + ay*((1-ax)*l(x0, y1)+ax*l(x1, y1))
}
