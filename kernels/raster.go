package kernels

import (
	"fmt"
	"math"
)

// Raster draws screen-space triangles into a z-buffer: depth (W×H) gets
// each pixel's nearest depth (+Inf where nothing is drawn) and face the
// index of a triangle at that depth (−1 where nothing is drawn). verts
// holds x, y in pixels and depth z; pixel (px, py) is covered when its
// centre (px+½, py+½) is inside or on the triangle, of either winding.
// Points with z < 0 are not drawn. Ties go to the later triangle.
func Raster(depth []float32, face []int32, W, H int, verts []float32, faces []int32) error {
	if W <= 0 || H <= 0 {
		return fmt.Errorf("kernels: raster size %d×%d must be positive", W, H)
	}
	if len(depth) != W*H || len(face) != W*H {
		return fmt.Errorf("kernels: raster buffers hold %d depths and %d faces, %d×%d needs %d", len(depth), len(face), W, H, W*H)
	}
	if len(verts)%3 != 0 || len(faces)%3 != 0 {
		return fmt.Errorf("kernels: raster: %d vertex and %d face values are not multiples of 3", len(verts), len(faces))
	}
	nv := int32(len(verts) / 3)
	for i, v := range faces {
		if v < 0 || v >= nv {
			return fmt.Errorf("kernels: raster: face %d uses vertex %d outside [0,%d)", i/3, v, nv)
		}
	}
	for i := range depth {
		depth[i], face[i] = float32(math.Inf(1)), -1
	}
	for f := 0; f < len(faces)/3; f++ {
		triPixels(verts, faces, f, W, H, func(p int, z float64) {
			if z >= 0 && float32(z) <= depth[p] {
				depth[p], face[p] = float32(z), int32(f)
			}
		})
	}
	return nil
}

// triPixels calls fn with the index and interpolated depth of every pixel
// whose centre triangle f covers, computed in float64.
func triPixels(verts []float32, faces []int32, f, W, H int, fn func(p int, z float64)) {
	var a, b, c [3]float64
	for i := 0; i < 3; i++ {
		a[i] = float64(verts[3*faces[3*f]+int32(i)])
		b[i] = float64(verts[3*faces[3*f+1]+int32(i)])
		c[i] = float64(verts[3*faces[3*f+2]+int32(i)])
	}
	area := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	if area == 0 {
		return
	}
	x0 := max(0, int(math.Ceil(min(a[0], b[0], c[0])-0.5)))
	x1 := min(W-1, int(math.Floor(max(a[0], b[0], c[0])-0.5)))
	y0 := max(0, int(math.Ceil(min(a[1], b[1], c[1])-0.5)))
	y1 := min(H-1, int(math.Floor(max(a[1], b[1], c[1])-0.5)))
	for py := y0; py <= y1; py++ {
		for px := x0; px <= x1; px++ {
			x, y := float64(px)+0.5, float64(py)+0.5
			w0 := ((b[0]-x)*(c[1]-y) - (b[1]-y)*(c[0]-x)) / area
			w1 := ((c[0]-x)*(a[1]-y) - (c[1]-y)*(a[0]-x)) / area
			w2 := ((a[0]-x)*(b[1]-y) - (a[1]-y)*(b[0]-x)) / area
			if w0 < 0 || w1 < 0 || w2 < 0 {
				continue
			}
			fn(py*W+px, w0*a[2]+w1*b[2]+w2*c[2])
		}
	}
}
