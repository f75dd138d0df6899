package mesh

import (
	"fmt"

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

// RefineEngine names the engine of decoder layer i (1 ≤ i < Layers).
func RefineEngine(i int) string { return fmt.Sprintf("decoder_layer%d", i) }

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
	for i := 1; i < Layers; i++ {
		cs = append(cs, engine.Contract{
			Stage: "mesh", Engine: RefineEngine(i),
			Inputs: []engine.TensorInfo{
				f32("prev_tokens", dyn, dyn, TokenDim), f32("prev_augment", dyn, dyn, TokenDim),
				f32("context", dyn, FeatureDim, Grid, Grid),
				f32("keypoints_2d", dyn, NumKeypoints, 2), f32("keypoints_valid", dyn, NumKeypoints),
				f32("keypoints_3d", dyn, NumKeypoints, 3),
			},
			Outputs: heads,
		})
	}
	return cs
}
