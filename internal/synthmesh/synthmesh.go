// Package synthmesh makes synthetic body-sized meshes for render's tests
// and the GPU benchmark.
package synthmesh

import (
	"math"

	"github.com/body4d/body4d/scene"
)

// Ellipsoid mirrors ellipsoid() in tools/golden/render/make_golden.py:
// a UV ellipsoid in the OpenCV camera frame with radii (a, b, a), vertex 0
// the top pole, rings·segs ring vertices, then the bottom pole, rotated by
// tilt degrees about z and moved to centre; faces wind outward. A closed
// mesh of V vertices has 2V−4 faces, so rings·segs = 18437 = 179·103
// gives the MHR body's 18,439 vertices and 36,874 faces.
func Ellipsoid(rings, segs int, a, b float64, centre [3]float64, tilt float64) *scene.Mesh {
	m := &scene.Mesh{}
	c, s := math.Cos(tilt*math.Pi/180), math.Sin(tilt*math.Pi/180)
	add := func(x, y, z float64) {
		m.Vertices = append(m.Vertices,
			float32(c*x-s*y+centre[0]), float32(s*x+c*y+centre[1]), float32(z+centre[2]))
	}
	add(0, -b, 0)
	for i := 1; i <= rings; i++ {
		t := math.Pi * float64(i) / float64(rings+1)
		for j := 0; j < segs; j++ {
			f := 2 * math.Pi * float64(j) / float64(segs)
			add(a*math.Sin(t)*math.Cos(f), -b*math.Cos(t), a*math.Sin(t)*math.Sin(f))
		}
	}
	add(0, b, 0)
	ring := func(i, j int) uint32 { return uint32(1 + (i-1)*segs + j%segs) }
	bottom := uint32(1 + rings*segs)
	for j := 0; j < segs; j++ {
		m.Faces = append(m.Faces, 0, ring(1, j), ring(1, j+1))
	}
	for i := 1; i < rings; i++ {
		for j := 0; j < segs; j++ {
			a0, b0 := ring(i, j), ring(i, j+1)
			c0, d0 := ring(i+1, j), ring(i+1, j+1)
			m.Faces = append(m.Faces, a0, c0, b0, b0, c0, d0)
		}
	}
	for j := 0; j < segs; j++ {
		m.Faces = append(m.Faces, ring(rings, j), bottom, ring(rings, j+1))
	}
	return m
}

// Body is a body-sized ellipsoid with the MHR mesh's vertex and face
// counts, standing at (x, 0, z).
func Body(x, z float64) *scene.Mesh {
	return Ellipsoid(179, 103, 0.3, 0.85, [3]float64{x, 0, z}, 0)
}
