package job

import (
	"math"

	"github.com/body4d/body4d/scene"
)

// drawClicks marks the clicks of one frame the way the reference UI does:
// a disc of radius max(6, 1.5% of the short side), green with a "+" for a
// positive click, red with a "−" for a negative one, ringed in white.
func drawClicks(img *scene.RGB, clicks []scene.Click, frame int) {
	b := img.Bounds()
	r := math.Max(6, 0.015*float64(min(b.Dx(), b.Dy())))
	for _, c := range clicks {
		if c.Frame != frame {
			continue
		}
		fill := [3]uint8{40, 200, 60}
		if c.Negative {
			fill = [3]uint8{220, 40, 40}
		}
		x0, x1 := int(math.Floor(c.X-r-1)), int(math.Ceil(c.X+r+1))
		y0, y1 := int(math.Floor(c.Y-r-1)), int(math.Ceil(c.Y+r+1))
		arm, bar := 0.6*r, math.Max(1, 0.12*r)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				dx, dy := float64(x)+0.5-c.X, float64(y)+0.5-c.Y
				d := math.Hypot(dx, dy)
				switch {
				case d > r:
					continue
				case d > r-math.Max(1.5, 0.15*r):
					img.SetRGB(x, y, 255, 255, 255) // border
				case math.Abs(dy) <= bar && math.Abs(dx) <= arm,
					!c.Negative && math.Abs(dx) <= bar && math.Abs(dy) <= arm:
					img.SetRGB(x, y, 255, 255, 255) // the sign
				default:
					img.SetRGB(x, y, fill[0], fill[1], fill[2])
				}
			}
		}
	}
}
