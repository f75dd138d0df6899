// Package mesh is SAM-3D-Body mesh recovery: per person and frame, body
// parameters from a crop, turned into a mesh by the MHR body model. The
// backbone and decoder run as engines. Today the package declares their
// I/O contracts; the stage itself is not built yet.
package mesh

import "github.com/body4d/body4d/engine"

const dyn = engine.Dynamic

// Contracts returns the I/O contract of each engine of the stage
// (reference notes, mesh-fov.md A). B is the number of crops in a batch
// and N the number of keypoint prompts ((x, y, label) in crop-normalised
// coordinates). rays is the ray map already at the 32×32 token grid.
//
// This decoder cut is provisional: the real decoder refreshes its
// keypoint tokens from an MHR forward pass between layers, so the mesh
// stage will either trace MHR into the decoder graph or split the decoder
// per layer with MHR in Go; that choice, and this contract with it,
// belongs to the mesh stage's own work.
func Contracts() []engine.Contract {
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	return []engine.Contract{
		{
			Stage: "mesh", Engine: "backbone",
			Inputs:  []engine.TensorInfo{f32("image", dyn, 3, 512, 512)},
			Outputs: []engine.TensorInfo{f32("features", dyn, 1280, 32, 32)},
		},
		{
			Stage: "mesh", Engine: "decoder",
			Inputs: []engine.TensorInfo{
				f32("features", dyn, 1280, 32, 32), f32("condition", dyn, 3),
				f32("rays", dyn, 2, 32, 32), f32("prompt", dyn, dyn, 3),
			},
			Outputs: []engine.TensorInfo{f32("pose", dyn, 519), f32("camera", dyn, 3), f32("hand_boxes", dyn, 2, 4)},
		},
	}
}
