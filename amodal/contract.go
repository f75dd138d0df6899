// Package amodal is Diffusion-VAS occlusion recovery: amodal masks and
// content completion for occluded people, with depth from Depth Anything
// V2 (reference notes segment-amodal.md C, app-pipeline.md §1c).
//
// A Completer (Open, or New with loaded engines) runs the stage over a
// video: depth for every frame with one global min/max; then, per window
// of frames and per person, amodal segmentation conditioned on the modal
// mask and the depth, the occlusion score of each frame, and content
// completion on the occluded span. The networks run as engines
// (Contracts); the sampler, the resizes and all bookkeeping are Go. Each
// finished window is written to the work directory, so a stopped run
// resumes where it stopped.
package amodal

import "github.com/body4d/body4d/engine"

const dyn = engine.Dynamic

// Contracts returns the I/O contract of each engine of the stage
// (reference notes, segment-amodal.md C). The UNet takes both guidance
// halves in one call: sample [2,F,12,h,w] is [uncond; cond] over F frames
// (noisy latent 4 + condition A 4 + condition B 4 channels), and
// encoder_hidden_states [2F,1,1024] is interleaved [neg0,pos0,neg1,...]
// as the reference pipeline builds it. The VAE decoder decodes a chunk of
// F frames together (temporal decoder).
func Contracts() []engine.Contract {
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	// The amodal-segmentation and the content-completion UNets are two
	// fine-tunes of the same network.
	unet := func(name string) engine.Contract {
		return engine.Contract{
			Stage: "amodal", Engine: name,
			Inputs: []engine.TensorInfo{
				f32("sample", 2, dyn, 12, dyn, dyn), f32("timestep", 1),
				f32("encoder_hidden_states", dyn, 1, 1024), f32("added_time_ids", 2, 3),
			},
			Outputs: []engine.TensorInfo{f32("noise_pred", 2, dyn, 4, dyn, dyn)},
		}
	}
	return []engine.Contract{
		{
			Stage: "amodal", Engine: "clip_vision",
			Inputs:  []engine.TensorInfo{f32("pixel_values", dyn, 3, 224, 224)},
			Outputs: []engine.TensorInfo{f32("image_embeds", dyn, 1024)},
		},
		{
			Stage: "amodal", Engine: "vae_encoder",
			Inputs:  []engine.TensorInfo{f32("sample", dyn, 3, dyn, dyn)},
			Outputs: []engine.TensorInfo{f32("latent", dyn, 4, dyn, dyn)},
		},
		unet("unet"),
		unet("unet_completion"),
		{
			Stage: "amodal", Engine: "vae_decoder",
			Inputs:  []engine.TensorInfo{f32("latent", dyn, 4, dyn, dyn)},
			Outputs: []engine.TensorInfo{f32("sample", dyn, 3, dyn, dyn)},
		},
		{
			Stage: "amodal", Engine: "depth",
			Inputs:  []engine.TensorInfo{f32("image", dyn, 3, dyn, dyn)},
			Outputs: []engine.TensorInfo{f32("depth", dyn, dyn, dyn)},
		},
	}
}
