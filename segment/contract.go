// Package segment is the SAM-3 point-prompt video tracker. The networks
// run as engines; the tracking logic (memory bank, prompts, propagation)
// is Go. Today the package declares its engines' I/O contracts; the
// tracker itself is not built yet.
package segment

import "github.com/body4d/body4d/engine"

const dyn = engine.Dynamic

// Contracts returns the I/O contract of each engine the tracker runs, as
// the SAM-3 tracker splits into networks (reference notes,
// segment-amodal.md A.3 and D). B is the number of objects tracked
// together, N the number of prompt points (clicks plus one padding
// point), Nk the number of memory tokens (5184 per memory frame plus 4
// per object pointer).
//
// The mask decoder fuses the prompt encoder and mask decoder. Its mask
// prompt is always given; has_mask_input = 0 makes the engine use its
// no-mask embedding instead. It returns an object pointer for each of
// its four output tokens so the host can pick the one of the chosen mask.
// The small learned constants the host needs (temporal position table,
// no-memory and no-object embeddings, pointer position projection) are
// the model directory's file segment/constants.
func Contracts() []engine.Contract {
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	return []engine.Contract{
		{
			Stage: "segment", Engine: "image_encoder",
			Inputs: []engine.TensorInfo{f32("img", 1, 3, 1008, 1008)},
			Outputs: []engine.TensorInfo{
				f32("fpn0", 1, 32, 288, 288), f32("fpn1", 1, 64, 144, 144),
				f32("fpn2", 1, 256, 72, 72), f32("pos2", 1, 256, 72, 72),
			},
		},
		{
			Stage: "segment", Engine: "memory_attention",
			Inputs: []engine.TensorInfo{
				f32("src", 5184, dyn, 256), f32("src_pos", 5184, dyn, 256),
				f32("prompt", dyn, dyn, 64), f32("prompt_pos", dyn, dyn, 64),
				{Name: "num_obj_ptr_tokens", DType: engine.Int64, Shape: engine.Shape{}},
			},
			Outputs: []engine.TensorInfo{f32("pix_feat_with_mem", dyn, 256, 72, 72)},
		},
		{
			Stage: "segment", Engine: "mask_decoder",
			Inputs: []engine.TensorInfo{
				f32("image_embed", dyn, 256, 72, 72), f32("fpn0", dyn, 32, 288, 288), f32("fpn1", dyn, 64, 144, 144),
				f32("point_coords", dyn, dyn, 2),
				{Name: "point_labels", DType: engine.Int32, Shape: engine.Shape{dyn, dyn}},
				f32("mask_input", dyn, 1, 288, 288), f32("has_mask_input", 1),
			},
			Outputs: []engine.TensorInfo{
				f32("masks", dyn, 4, 288, 288), f32("iou", dyn, 4),
				f32("obj_ptr", dyn, 4, 256), f32("obj_score", dyn, 1),
			},
		},
		{
			Stage: "segment", Engine: "memory_encoder",
			Inputs:  []engine.TensorInfo{f32("pix_feat", dyn, 256, 72, 72), f32("mask", dyn, 1, 1008, 1008)},
			Outputs: []engine.TensorInfo{f32("maskmem", dyn, 64, 72, 72), f32("maskmem_pos", dyn, 64, 72, 72)},
		},
	}
}
