package world

import (
	"math"
	"math/rand/v2"
)

// Synthetic static-camera scenes with a known ground: the camera stands
// height metres above the plane y = 0 of a Y-up world, pitched down by
// pitch and rolled by roll (degrees), and sees the ground (and an optional
// box) through a pinhole; depth gets relative Gaussian noise.
type synthCam struct {
	height, pitch, roll float64
	w, h                int
	focal               float64 // pixels
	noise               float64 // relative depth noise (σ)
	pos                 vec     // camera centre in world (x, z; y = height)
}

// axes returns the camera's x, y, z axes in world coordinates.
func (c synthCam) axes() (x, y, z vec) {
	p, r := c.pitch*math.Pi/180, c.roll*math.Pi/180
	// Level camera: x = +X, y = −Y (down), z = −Z (forward).
	x, y, z = vec{1, 0, 0}, vec{0, -1, 0}, vec{0, 0, -1}
	// Pitch down about x: the forward axis dips towards −Y.
	y, z = y.scale(math.Cos(p)).add(z.scale(-math.Sin(p))), z.scale(math.Cos(p)).add(y.scale(math.Sin(p)))
	// Roll about z: right side up for positive roll.
	x, y = x.scale(math.Cos(r)).add(y.scale(-math.Sin(r))), y.scale(math.Cos(r)).add(x.scale(math.Sin(r)))
	return x, y, z
}

func (c synthCam) centre() vec { return vec{c.pos[0], c.height, c.pos[2]} }

// toCam maps a world point to camera coordinates.
func (c synthCam) toCam(p vec) vec {
	x, y, z := c.axes()
	d := p.sub(c.centre())
	return vec{x.dot(d), y.dot(d), z.dot(d)}
}

// up is the world's up in camera coordinates: the true ground normal.
func (c synthCam) up() vec {
	x, y, z := c.axes()
	return vec{x[1], y[1], z[1]}
}

// render ray-casts the ground plane (and, when planeless, random depths
// instead) into a point map; people marks pixels to mask out.
func (c synthCam) render(rng *rand.Rand, planeless bool) PointMap {
	x, y, z := c.axes()
	m := PointMap{Width: c.w, Height: c.h, Points: make([]float32, 3*c.w*c.h), Valid: make([]bool, c.w*c.h)}
	for v := 0; v < c.h; v++ {
		for u := 0; u < c.w; u++ {
			dc := vec{(float64(u) + 0.5 - float64(c.w)/2) / c.focal, (float64(v) + 0.5 - float64(c.h)/2) / c.focal, 1}
			dw := x.scale(dc[0]).add(y.scale(dc[1])).add(z.scale(dc[2]))
			var t float64
			switch {
			case planeless:
				t = 1 + 6*rng.Float64() // a depth cloud: no plane anywhere
			case dw[1] < -1e-3:
				t = c.height / -dw[1]
				if t > 40 {
					continue // beyond MoGe's useful range: invalid
				}
			default:
				continue // sky
			}
			t *= 1 + c.noise*rng.NormFloat64()
			i := v*c.w + u
			p := dc.scale(t)
			m.Points[3*i], m.Points[3*i+1], m.Points[3*i+2] = float32(p[0]), float32(p[1]), float32(p[2])
			m.Valid[i] = true
		}
	}
	return m
}
