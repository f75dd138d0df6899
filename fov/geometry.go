package fov

import (
	"context"
	"fmt"

	"github.com/body4d/body4d/scene"
)

// Geometry is one frame's metric point map in camera coordinates (OpenCV
// axes) at the engine's output resolution: MoGe's points with the recovered
// shift added to z, times its metric scale.
type Geometry struct {
	Width, Height int
	Points        []float32 // xyz per pixel, row-major
	Valid         []bool    // MoGe's mask above 0.5 and positive depth
}

// Geometry runs the engine on one frame and returns its metric point map.
func (e *Estimator) Geometry(ctx context.Context, img *scene.RGB) (Geometry, error) {
	r, m, err := e.run(ctx, img)
	if err != nil {
		return Geometry{}, err
	}
	g := Geometry{Width: m.w, Height: m.h, Points: make([]float32, len(m.points)), Valid: make([]bool, m.w*m.h)}
	sh, sc := float32(r.Shift), float32(m.scale)
	for i := range g.Valid {
		x, y, z := m.points[3*i], m.points[3*i+1], m.points[3*i+2]+sh
		g.Points[3*i], g.Points[3*i+1], g.Points[3*i+2] = x*sc, y*sc, z*sc
		g.Valid[i] = m.mask[i] > 0.5 && z > 0
	}
	if g.Width <= 0 || g.Height <= 0 {
		return Geometry{}, fmt.Errorf("fov: moge point map is %dx%d", g.Width, g.Height)
	}
	return g, nil
}
