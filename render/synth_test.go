package render

import (
	"github.com/body4d/body4d/internal/synthmesh"
	"github.com/body4d/body4d/scene"
)

// ellipsoidMesh is synthmesh.Ellipsoid: a UV ellipsoid mirroring
// ellipsoid() in tools/golden/render/make_golden.py.
func ellipsoidMesh(rings, segs int, a, b float64, centre [3]float64, tilt float64) *scene.Mesh {
	return synthmesh.Ellipsoid(rings, segs, a, b, centre, tilt)
}

// bodyMesh is a body-sized ellipsoid with the MHR mesh's vertex and face
// counts, standing at (x, 0, z).
func bodyMesh(x, z float64) *scene.Mesh { return synthmesh.Body(x, z) }
