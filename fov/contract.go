package fov

import "github.com/body4d/body4d/engine"

// Contracts returns the I/O contract of the MoGe-2 engine: its raw
// forward() (reference notes, mesh-fov.md C). The image is RGB in [0,1]
// at 14·base_h × 14·base_w for the token grid chosen by num_tokens;
// points come after the exp remap (xy·e^z, e^z), mask after the sigmoid.
// The focal/shift recovery that infer() adds is Go (this package).
func Contracts() []engine.Contract {
	const dyn = engine.Dynamic
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	return []engine.Contract{{
		Stage: "fov", Engine: "moge",
		Inputs: []engine.TensorInfo{
			f32(tensorImage, 1, 3, dyn, dyn),
			{Name: tensorNumTokens, DType: engine.Int64, Shape: engine.Shape{}},
		},
		Outputs: []engine.TensorInfo{
			f32(tensorPoints, 1, dyn, dyn, 3), f32("normal", 1, dyn, dyn, 3),
			f32(tensorMask, 1, dyn, dyn), f32(tensorMetricScale, 1),
		},
	}}
}
