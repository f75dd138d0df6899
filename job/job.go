// Package job runs the whole body4d workflow on one video: it checks and
// loads a model directory, decodes the video into a frame store, runs the
// pipeline's stages, renders the meshes over the frames, and writes the
// MP4, the per-person outputs and a JSON summary into an output
// directory. The command line (body4d run) and the web UI (body4d serve)
// are both thin layers over Run.
package job

import (
	"github.com/body4d/body4d"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/world"
)

// Spec says what one job does.
type Spec struct {
	Video string         // a video file or a folder of images
	FPS   scene.Rational // frame rate of an image folder; zero for video files
	// Untrusted decodes Video with video.Options.Untrusted: for files
	// from a source that is not trusted (only MP4/MOV, Matroska/WebM and
	// AVI; ffmpeg opens no other file or URL).
	Untrusted bool
	Models    string // model directory; "" is the built-in tiny models
	Out       string // output directory (created)
	Prompts   scene.Prompts
	// Auto, when not nil, finds people with the concept detector on top
	// of Prompts (which may be empty): see Auto.
	Auto *Auto
	// Masks, when not empty, is a folder of label images (package
	// masks) used as the people's masks instead of tracking them from
	// Prompts; the segment stage does not run.
	Masks  string
	Stages Stages
	CRF    int // x264 quality of the output MP4; 0 is the encoder's default
	// Frames, when > 0, processes only the video's first Frames frames.
	Frames int
	// Export lists animation files to write with the run: "glb"
	// (people/<id>/motion.glb and scene.glb) and "bvh"
	// (people/<id>/motion.bvh). They need the body model.
	Export []string
	// Device is where the engines run: "cpu" (default: ONNX Runtime on
	// the CPU), "cuda" (ONNX Runtime's CUDA provider, where the installed
	// library has it) or "tensorrt" (body4d's own TensorRT backend for the
	// manifest's trt entries, built with the tag tensorrt). With cuda or
	// tensorrt, the GPU kernels (build tag cuda) draw the overlays, skin
	// MHR and cut the mesh crops. A device that cannot run is a one-line
	// error, never a fallback.
	Device string
	// DropWork removes the work directory (frame index, tracker, depth
	// and occlusion caches under Out/work) after a successful run,
	// leaving only the outputs; the default keeps it so that a rerun
	// resumes. A failed run always keeps it.
	DropWork bool

	// open replaces the device openers in tests.
	open *openers
}

func (s Spec) openers() openers {
	if s.open != nil {
		return *s.open
	}
	return defaultOpeners()
}

// Stages chooses the optional stages and their settings. The zero value
// runs every stage the model directory offers with the defaults.
type Stages struct {
	NoAmodal       bool    // skip occlusion recovery
	NoCamera       bool    // skip camera estimation: focal = image diagonal
	FOVX           float64 // known horizontal field of view in degrees (skips estimation)
	CameraPerFrame bool    // estimate intrinsics on every frame, not once per video
	Smooth         string  // "kalman" (default), "oneeuro", "reference" or "off"
	// Mesh is "body" (default: one pass, hands from the body decoder) or
	// "full": the reference's hand refinement (hand crops, the hand
	// decoder, wrist and elbow re-prompts); about 3 backbone and 4
	// decoder passes per person instead of 1 and 1.
	Mesh string
	// Quick trades fidelity for speed where a stage allows it: occlusion
	// recovery with 4 denoising steps at 128×256 instead of 25 at
	// 512×1024. For a first look, and for tests on the tiny models.
	Quick bool
	// AmodalFast runs occlusion recovery in fast mode (amodal.FastOptions):
	// a person's window is skipped when a cheap test on the masks shows
	// them fully in view, and denoising takes 10 steps instead of 25.
	AmodalFast bool
	// World is "" (camera frame) or "static": fit the ground to MoGe's
	// point maps of a static camera and write world-frame trajectories.
	World string
	// NoFootContact turns world mode's foot contact off.
	NoFootContact bool
}

// Summary is what a finished job reports; it is also written to
// summary.json in the output directory.
type Summary struct {
	Video         string            `json:"video"`
	Width         int               `json:"width"`
	Height        int               `json:"height"`
	Frames        int               `json:"frames"`
	FPS           string            `json:"fps"`
	Rate          scene.Rational    `json:"rate"` // the exact frame rate (body4d export reads it)
	Models        string            `json:"models"`
	ModelSet      string            `json:"model_set"`
	Clicks        []scene.Click     `json:"clicks"`
	Camera        *scene.Intrinsics `json:"camera_frame0,omitempty"`
	Auto          *AutoSummary      `json:"auto,omitempty"` // what auto mode found
	StagesRan     []string          `json:"stages_ran"`
	StagesSkipped []string          `json:"stages_skipped"`
	Notes         []string          `json:"notes,omitempty"`
	// AmodalWindows counts occlusion recovery's windows, one per person
	// and window of frames; nil when the stage did not run.
	AmodalWindows *AmodalWindows     `json:"amodal_windows,omitempty"`
	Output        string             `json:"output"`            // the MP4
	Masks         string             `json:"masks,omitempty"`   // folder of the people's masks (label images)
	People        []PersonOutput     `json:"people"`            // per-person output folders
	Exports       []string           `json:"exports,omitempty"` // animation files written (--export), relative to the output directory
	Profile       []body4d.StageTime `json:"profile"`

	// CameraIllConditioned lists the frames whose focal/shift solve was
	// ill-conditioned (fov.Solution.IllConditioned: nearly constant
	// depth, so the focal follows the point map's errors); a note then
	// says so. Empty when none was, or no focal was estimated.
	CameraIllConditioned []int `json:"camera_ill_conditioned_frames,omitempty"`

	// World is the ground fit of --world static; nil otherwise or when
	// no ground was found (a note then says so).
	World *world.Ground `json:"world,omitempty"`

	// Cache says, per stage that keeps its results in the work
	// directory, how many units this run computed and how many it read
	// back from an earlier run (a rerun after an interruption resumes).
	// The tracker does not resume: its frames are always computed.
	Cache []CacheUse `json:"cache"`

	// Work is the run's work directory and its size when the run ended.
	Work WorkDir `json:"work"`
}

// CacheUse counts one stage's units (frames, person-windows) computed
// by this run and loaded from the work directory.
type CacheUse struct {
	Stage    string `json:"stage"`
	Unit     string `json:"unit"`
	Computed int    `json:"computed"`
	Loaded   int    `json:"loaded"`
}

// WorkDir describes a run's work directory: its path, its size in bytes
// at the end of the run (before any removal), and whether it was kept.
type WorkDir struct {
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
	Kept  bool   `json:"kept"`
}

// PersonOutput names where one person's per-frame outputs were written.
type PersonOutput struct {
	ID     scene.PersonID `json:"id"`
	Dir    string         `json:"dir"`
	Frames int            `json:"frames"` // frames with a mesh
}

// AmodalWindows counts the person-windows of occlusion recovery: Run
// went through the amodal pass (Completed of them had an occluded span
// completed), Skipped passed fast mode's in-view test, Absent had the
// person on none of their frames.
type AmodalWindows struct {
	Run       int `json:"run"`
	Completed int `json:"completed"`
	Skipped   int `json:"skipped"`
	Absent    int `json:"absent"`
}
