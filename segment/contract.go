package segment

import "github.com/body4d/body4d/engine"

const dyn = engine.Dynamic

// Engine names in the model directory's manifest (stage "segment").
const (
	engineImage   = "image_encoder"
	engineMemAttn = "memory_attention"
	engineDecoder = "mask_decoder"
	engineMemEnc  = "memory_encoder"
)

// Contracts returns the I/O contract of each engine the tracker runs, as
// the SAM-3 tracker splits into networks (reference notes,
// segment-amodal.md A.3 and D). B is the number of objects tracked
// together, N the number of prompt points, Nk the number of memory tokens
// (5184 per memory frame plus 4 per object pointer).
//
// The mask decoder fuses the prompt encoder and mask decoder. Its points
// are exactly those the prompt encoder embeds: the host appends the
// padding point (label -1) that the reference's prompt encoder adds when
// there is no box input, so the engine adds none; a frame without clicks
// is two padding points. Coordinates are model pixels (the +0.5 pixel
// centre shift is inside the engine). The mask prompt is always given;
// has_mask_input = 0 makes the engine use its no-mask embedding instead.
// It returns its four masks (0: single-mask output, 1-3: multimask), their
// IoU predictions (sigmoid), the object pointer of each of the four output
// tokens (obj_ptr_proj applied, not yet gated) so the host can pick the
// one of the chosen mask, and the object score logit. Nothing is gated
// inside the engine.
//
// The memory encoder takes the mask already scaled (×20−10 of the
// binarised or sigmoid mask) at the model size and the raw image
// features; the host adds the no-object embedding.
//
// The small learned constants the host needs (temporal position table,
// no-memory and no-object embeddings, pointer position projection) are
// the model directory's file segment/constants (see Constants).
//
// The concept detector of auto mode (see Detector) is Optional: a model
// directory without it tracks clicked people only.
func Contracts() []engine.Contract {
	c := SAM3()
	return append(contractsFor(c), detectorContract(c))
}

func contractsFor(c Config) []engine.Contract {
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	s, g, l := int64(c.ImageSize), int64(c.featSize()), int64(c.lowResSize())
	return []engine.Contract{
		{
			Stage: "segment", Engine: engineImage,
			Inputs: []engine.TensorInfo{f32("img", 1, 3, s, s)},
			Outputs: []engine.TensorInfo{
				f32("fpn0", 1, 32, l, l), f32("fpn1", 1, 64, l/2, l/2),
				f32("fpn2", 1, hiddenDim, g, g), f32("pos2", 1, hiddenDim, g, g),
			},
		},
		{
			Stage: "segment", Engine: engineMemAttn,
			Inputs: []engine.TensorInfo{
				f32("src", g*g, dyn, hiddenDim), f32("src_pos", g*g, dyn, hiddenDim),
				f32("prompt", dyn, dyn, memDim), f32("prompt_pos", dyn, dyn, memDim),
				{Name: "num_obj_ptr_tokens", DType: engine.Int64, Shape: engine.Shape{}},
			},
			Outputs: []engine.TensorInfo{f32("pix_feat_with_mem", dyn, hiddenDim, g, g)},
		},
		{
			Stage: "segment", Engine: engineDecoder,
			Inputs: []engine.TensorInfo{
				f32("image_embed", dyn, hiddenDim, g, g), f32("fpn0", dyn, 32, l, l), f32("fpn1", dyn, 64, l/2, l/2),
				f32("point_coords", dyn, dyn, 2),
				{Name: "point_labels", DType: engine.Int32, Shape: engine.Shape{dyn, dyn}},
				f32("mask_input", dyn, 1, l, l), f32("has_mask_input", 1),
			},
			Outputs: []engine.TensorInfo{
				f32("masks", dyn, 4, l, l), f32("iou", dyn, 4),
				f32("obj_ptr", dyn, 4, hiddenDim), f32("obj_score", dyn, 1),
			},
		},
		{
			Stage: "segment", Engine: engineMemEnc,
			Inputs:  []engine.TensorInfo{f32("pix_feat", dyn, hiddenDim, g, g), f32("mask", dyn, 1, s, s)},
			Outputs: []engine.TensorInfo{f32("maskmem", dyn, memDim, g, g), f32("maskmem_pos", dyn, memDim, g, g)},
		},
	}
}
