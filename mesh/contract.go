package mesh

import (
	"fmt"
	"slices"

	"github.com/body4d/body4d/engine"
)

const dyn = engine.Dynamic

// Sizes of the real model that the engine contracts fix.
const (
	// Layers is the decoder depth (DECODER.DEPTH): the decoder engine
	// runs layer 0 and one refine engine runs each later layer.
	Layers = 6
	// TokenDim is the decoder's token width (DECODER.DIM).
	TokenDim = 1024
	// FeatureDim is the backbone's embedding width (DINOv3-H+).
	FeatureDim = 1280
	// NumKeypoints is the MHR-70 keypoint set the decoder refreshes.
	NumKeypoints = 70
)

// Engine names in a model directory's manifest (stage "mesh").
const (
	EngineBackbone = "backbone"
	EngineDecoder  = "decoder"
)

// refineEngine names the engine of decoder layer i (1 ≤ i < Layers).
func refineEngine(i int) string { return fmt.Sprintf("decoder_layer%d", i) }

// Engines of "full" mode (Options.Mode = ModeFull). A model directory
// may leave them out: body mode does not read them, and full mode names
// the first one missing.
const (
	// EngineDecoderPrompt is the body decoder started from a previous
	// estimate with keypoint prompts (run_keypoint_prompt): the decoder
	// engine plus a prev_estimate input. Its later layers are the body's
	// decoder_layerI engines.
	EngineDecoderPrompt = "decoder_prompt"
	// EngineHandDecoder is the hand decoder (decoder_hand with its own
	// ray encoder, keypoint embeddings and heads) up to its layer 0.
	EngineHandDecoder = "hand_decoder"
)

// handRefineEngine names the engine of hand decoder layer i (1 ≤ i < Layers).
func handRefineEngine(i int) string { return fmt.Sprintf("hand_decoder_layer%d", i) }

// fullEngines lists the engines only full mode needs.
func fullEngines() []string {
	names := []string{EngineDecoderPrompt, EngineHandDecoder}
	for i := 1; i < Layers; i++ {
		names = append(names, handRefineEngine(i))
	}
	return names
}

// PrevEstimateDim is the width of decoder_prompt's prev_estimate: the
// previous pass's 519 head outputs ([pred_pose_raw 266, shape 45, scale
// 28, hand 108, face 72·0]) and its 3 raw camera values.
const PrevEstimateDim = NumPose + 3

// Contracts returns the I/O contract of each engine of the stage
// (reference notes, mesh-fov.md A). B is the number of crops in a batch,
// N the number of keypoint prompts ((x, y, label) in crop-normalised
// coordinates, one dummy [0,0,−2] in the first pass) and T the number of
// decoder tokens (2 + N + 2 + 2·70). The decoder is cut per layer with
// MHR run in Go between layers; the package documentation says why.
//
//	backbone        image → features
//	decoder         tokens built from the CLIFF condition, the initial
//	                estimate and the prompt; ray- and mask-conditioned
//	                context; layer 0; heads on the normed tokens
//	decoder_layerI  keypoint-token refresh from the previous layer's
//	                MHR keypoints, layer I, heads
//
// pose is the MHR head's 519 outputs with init_pose added, camera the
// camera head's raw (s, tx, ty) with init_camera added, hand_boxes the
// two hand tokens' boxes (cx, cy, w, h as fractions of the crop, after
// the sigmoid). keypoints_2d are crop-normalised to [−0.5, 0.5].
// A layer reads the previous tokens and augment as prev_tokens and
// prev_augment (ONNX names a tensor once). keypoints_valid is 1 where a
// keypoint lies inside the crop and in front of the camera, keypoints_3d
// are pelvis-centred metres.
//
// Full mode adds the following, marked Optional: a model directory may
// leave them out and still serve body mode:
//
//	decoder_prompt       decoder with prev_estimate [B, 522] (the previous
//	                     pass's pose and raw camera) and N = 1..4 prompts
//	hand_decoder         decoder_hand up to layer 0: context and heads
//	hand_decoder_layerI  decoder_hand's layer I with its own keypoint
//	                     refresh and heads
//
// The hand path reuses the backbone on the 512² hand crops.
func Contracts() []engine.Contract {
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	heads := []engine.TensorInfo{
		f32("tokens", dyn, dyn, TokenDim), f32("augment", dyn, dyn, TokenDim),
		f32("pose", dyn, NumPose), f32("camera", dyn, 3), f32("hand_boxes", dyn, 2, 4),
	}
	cs := []engine.Contract{
		{
			Stage: "mesh", Engine: EngineBackbone,
			Inputs:  []engine.TensorInfo{f32("image", dyn, 3, CropSize, CropSize)},
			Outputs: []engine.TensorInfo{f32("features", dyn, FeatureDim, Grid, Grid)},
		},
		{
			Stage: "mesh", Engine: EngineDecoder,
			Inputs: []engine.TensorInfo{
				f32("features", dyn, FeatureDim, Grid, Grid),
				f32("mask", dyn, 1, CropSize, CropSize), f32("mask_score", dyn, 1),
				f32("condition", dyn, 3), f32("rays", dyn, 2, Grid, Grid), f32("prompt", dyn, dyn, 3),
			},
			Outputs: append([]engine.TensorInfo{f32("context", dyn, FeatureDim, Grid, Grid)}, heads...),
		},
	}
	layerIn := []engine.TensorInfo{
		f32("prev_tokens", dyn, dyn, TokenDim), f32("prev_augment", dyn, dyn, TokenDim),
		f32("context", dyn, FeatureDim, Grid, Grid),
		f32("keypoints_2d", dyn, NumKeypoints, 2), f32("keypoints_valid", dyn, NumKeypoints),
		f32("keypoints_3d", dyn, NumKeypoints, 3),
	}
	for i := 1; i < Layers; i++ {
		cs = append(cs, engine.Contract{Stage: "mesh", Engine: refineEngine(i), Inputs: layerIn, Outputs: heads})
	}
	// Full mode. decoder_prompt is the decoder with the previous
	// estimate as input; the hand engines have the body engines' inputs
	// (a hand crop has no mask: mask 0 and mask_score 0, which selects
	// the no-mask embedding as in the reference) and no hand boxes.
	cs = append(cs, engine.Contract{
		Stage: "mesh", Engine: EngineDecoderPrompt,
		Inputs:  append(append([]engine.TensorInfo(nil), cs[1].Inputs...), f32("prev_estimate", dyn, PrevEstimateDim)),
		Outputs: cs[1].Outputs,
	})
	handHeads := heads[:4]
	cs = append(cs, engine.Contract{
		Stage: "mesh", Engine: EngineHandDecoder, Inputs: cs[1].Inputs,
		Outputs: append([]engine.TensorInfo{f32("context", dyn, FeatureDim, Grid, Grid)}, handHeads...),
	})
	for i := 1; i < Layers; i++ {
		cs = append(cs, engine.Contract{Stage: "mesh", Engine: handRefineEngine(i), Inputs: layerIn, Outputs: handHeads})
	}
	for i := range cs {
		cs[i].Optional = slices.Contains(fullEngines(), cs[i].Engine)
	}
	return cs
}
