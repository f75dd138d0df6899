package fov

import (
	"fmt"
	"math"
)

// SampleSize is the side of the grid the point map is reduced to before
// the solve (the reference's downsample_size (64, 64)).
const SampleSize = 64

// ViewPlaneUV returns the normalised view-plane coordinates of the pixel
// centres of a width×height image, packed (u, v) per pixel, row-major:
// u = (x+0.5−W/2)/(D/2), v = (y+0.5−H/2)/(D/2), D = √(W²+H²). The
// corners lie at ±(W/D, H/D)·(1−1/W, 1−1/H), as in MoGe's
// normalized_view_plane_uv. Values are rounded to float32 as the
// reference's float32 grid is.
func ViewPlaneUV(width, height int) []float32 {
	uv := make([]float32, 2*width*height)
	half := math.Hypot(float64(width), float64(height)) / 2
	for y := range height {
		v := float32((float64(y) + 0.5 - float64(height)/2) / half)
		for x := range width {
			i := 2 * (y*width + x)
			uv[i] = float32((float64(x) + 0.5 - float64(width)/2) / half)
			uv[i+1] = v
		}
	}
	return uv
}

// nearestIndex returns the source index that torch's
// F.interpolate(mode='nearest') reads for output index dst:
// min(floor(dst·s), in−1) with s = in/out computed and applied in float32
// (ATen nearest_neighbor_compute_source_index).
func nearestIndex(dst, in, out int) int {
	s := float32(in) / float32(out)
	i := int(math.Floor(float64(float32(dst) * s)))
	return min(i, in-1)
}

// Samples are the points that enter the solve: xyz (3 per sample) and
// their view-plane uv (2 per sample).
type Samples struct {
	XYZ []float32
	UV  []float32
}

// Len returns the number of samples.
func (s Samples) Len() int { return len(s.UV) / 2 }

// Downsample reduces a width×height point map (xyz per pixel, row-major)
// and its mask (nil: every pixel valid) to the SampleSize×SampleSize
// nearest-neighbour grid of the reference and keeps the masked samples,
// in row-major order of the grid. A map smaller than the grid repeats
// pixels, as the reference does.
func Downsample(points []float32, mask []bool, width, height int) (Samples, error) {
	if err := checkMap(points, mask, width, height); err != nil {
		return Samples{}, err
	}
	var ix, iy [SampleSize]int
	for i := range SampleSize {
		ix[i] = nearestIndex(i, width, SampleSize)
		iy[i] = nearestIndex(i, height, SampleSize)
	}
	half := math.Hypot(float64(width), float64(height)) / 2
	s := Samples{
		XYZ: make([]float32, 0, 3*SampleSize*SampleSize),
		UV:  make([]float32, 0, 2*SampleSize*SampleSize),
	}
	for _, y := range iy {
		v := float32((float64(y) + 0.5 - float64(height)/2) / half)
		for _, x := range ix {
			k := y*width + x
			if mask != nil && !mask[k] {
				continue
			}
			p := points[3*k : 3*k+3 : 3*k+3]
			for c, v := range p {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return Samples{}, fmt.Errorf("fov: point map pixel (%d,%d) has %c = %v", x, y, "xyz"[c], v)
				}
			}
			u := float32((float64(x) + 0.5 - float64(width)/2) / half)
			s.XYZ = append(s.XYZ, p[0], p[1], p[2])
			s.UV = append(s.UV, u, v)
		}
	}
	return s, nil
}

func checkMap(points []float32, mask []bool, width, height int) error {
	switch {
	case width <= 0 || height <= 0:
		return fmt.Errorf("fov: point map is %d×%d; it needs at least one pixel", width, height)
	case len(points) != 3*width*height:
		return fmt.Errorf("fov: point map of %d×%d needs %d values (xyz per pixel), got %d",
			width, height, 3*width*height, len(points))
	case mask != nil && len(mask) != width*height:
		return fmt.Errorf("fov: mask has %d pixels, point map is %d×%d", len(mask), width, height)
	}
	return nil
}
