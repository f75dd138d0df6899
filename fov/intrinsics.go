package fov

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/scene"
)

// FocalFromFOVX converts a known horizontal field of view (degrees) to the
// focal length in half-diagonal units: f = (a/√(1+a²))/tan(fov_x/2),
// a = W/H.
func FocalFromFOVX(fovXDeg float64, width, height int) float64 {
	a := float64(width) / float64(height)
	return a / math.Sqrt(1+a*a) / math.Tan(fovXDeg*math.Pi/360)
}

// NormalizedIntrinsics returns MoGe's intrinsics in units of the image
// size: fx = f/2·√(1+a²)/a, fy = f/2·√(1+a²), cx = cy = 0.5.
func NormalizedIntrinsics(focal float64, width, height int) scene.Intrinsics {
	a := float64(width) / float64(height)
	k := focal / 2 * math.Sqrt(1+a*a)
	return scene.Intrinsics{Fx: k / a, Fy: k, Cx: 0.5, Cy: 0.5}
}

// PixelIntrinsics returns the camera in pixels, denormalised as
// SAM-3D-Body's run_moge does (fx·W, fy·H, cx·W, cy·H); both focals equal
// f·D/2 with D the diagonal. SAM-3D-Body then sets fx := fy; with
// squarePixels the result does the same, so the two agree bit for bit.
func PixelIntrinsics(focal float64, width, height int, squarePixels bool) scene.Intrinsics {
	n := NormalizedIntrinsics(focal, width, height)
	w, h := float64(width), float64(height)
	k := scene.Intrinsics{Fx: n.Fx * w, Fy: n.Fy * h, Cx: n.Cx * w, Cy: n.Cy * h}
	if squarePixels {
		k.Fx = k.Fy
	}
	return k
}

// FOVX returns the horizontal field of view in degrees of a focal length
// in half-diagonal units.
func FOVX(focal float64, width, height int) float64 {
	fpx := focal * math.Hypot(float64(width), float64(height)) / 2
	return 2 * math.Atan(float64(width)/(2*fpx)) * 180 / math.Pi
}

// Depth turns a point map into metric depth: (z + shift)·scale per pixel.
// Pixels whose shifted depth is not positive are cleared in the returned
// mask (the reference's mask &= depth > 0); mask nil means all valid.
func Depth(points []float32, mask []bool, width, height int, shift, scale float64) ([]float32, []bool, error) {
	if err := checkMap(points, mask, width, height); err != nil {
		return nil, nil, err
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, nil, fmt.Errorf("fov: metric scale %v must be positive and finite", scale)
	}
	depth := make([]float32, width*height)
	valid := make([]bool, width*height)
	for i := range depth {
		z := points[3*i+2] + float32(shift)
		valid[i] = (mask == nil || mask[i]) && z > 0
		depth[i] = z * float32(scale)
	}
	return depth, valid, nil
}
