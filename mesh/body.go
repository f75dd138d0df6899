package mesh

import (
	"errors"
	"fmt"

	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

// Body turns body parameters into camera-frame meshes with the MHR body
// model.
type Body struct {
	Model *mhr.Model
}

// Mesh poses p's body: MHR's vertices in metres with y and z negated
// (the OpenCV camera axes, as the reference's pred_vertices), plus the
// camera translation CamT.
func (b *Body) Mesh(p scene.Params) (*scene.Mesh, error) {
	m, _, err := b.Pose(p)
	return m, err
}

// Pose poses p's body like Mesh and also returns its keypoints in the
// same camera frame (K×3, metres), from the same forward pass.
func (b *Body) Pose(p scene.Params) (*scene.Mesh, []float32, error) {
	if b == nil || b.Model == nil {
		return nil, nil, errors.New("mesh: body has no MHR model")
	}
	var expr []float32
	if p.Expr != ([72]float32{}) {
		expr = p.Expr[:]
	}
	out, err := b.Model.Forward([]mhr.Input{{Identity: p.Shape[:], Model: p.Model[:], Expr: expr}})
	if err != nil {
		return nil, nil, fmt.Errorf("mesh: %w", err)
	}
	v, kp := out[0].Verts, out[0].Keypoints
	for _, pts := range [][]float32{v, kp} {
		mhr.CameraFrame(pts)
		for i := 0; i+2 < len(pts); i += 3 {
			pts[i] += float32(p.CamT[0])
			pts[i+1] += float32(p.CamT[1])
			pts[i+2] += float32(p.CamT[2])
		}
	}
	faces := b.Model.Faces()
	f := make([]uint32, len(faces))
	for i, x := range faces {
		f[i] = uint32(x)
	}
	return &scene.Mesh{Vertices: v, Faces: f}, kp, nil
}
