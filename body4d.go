// Package body4d turns a video of people into temporally smooth 3D body
// meshes, following the SAM-Body4D pipeline:
//
//	frames ─► segment ─► amodal ─► camera ─► mesh ─► smooth ─► render ─► MP4
//
// Each stage is a small interface implemented in its own package, so a
// caller can swap, skip or reuse one. A Pipeline composes the stages it is
// given; a nil stage is skipped, and Run says which ones ran. Stages meet
// only through the types of package scene, re-exported here.
package body4d

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/body4d/body4d/internal/proc"
	"github.com/body4d/body4d/scene"
)

// The data the stages pass to each other (see package scene).
type (
	RGB         = scene.RGB
	Mask        = scene.Mask
	PersonID    = scene.PersonID
	Click       = scene.Click
	Box         = scene.Box
	Prompts     = scene.Prompts
	Intrinsics  = scene.Intrinsics
	Params      = scene.Params
	Mesh        = scene.Mesh
	Person      = scene.Person
	Track       = scene.Track
	VideoInfo   = scene.VideoInfo
	FrameSource = scene.FrameSource
	MaskSource  = scene.MaskSource
	Amodal      = scene.Amodal
	MeshInput   = scene.MeshInput
)

// Segmenter follows prompted people through a video and returns a mask per
// person per frame (the SAM-3 tracker).
type Segmenter interface {
	Segment(ctx context.Context, frames FrameSource, prompts Prompts) (MaskSource, error)
}

// AmodalCompleter recovers occluded body parts (Diffusion-VAS).
type AmodalCompleter interface {
	Complete(ctx context.Context, frames FrameSource, masks MaskSource) (*Amodal, error)
}

// CameraEstimator estimates the camera intrinsics of every frame (MoGe-2).
type CameraEstimator interface {
	Intrinsics(ctx context.Context, frames FrameSource) ([]Intrinsics, error)
}

// MeshRecoverer recovers each person's body parameters on each frame
// (SAM-3D-Body). It calls emit once per frame in frame order.
type MeshRecoverer interface {
	Recover(ctx context.Context, in MeshInput, emit func(frame int, people []Person) error) error
}

// Smoother smooths one person's parameters over time in place. It is
// cheap next to the other stages (milliseconds per track), so it takes
// no context; Run checks for cancellation between people.
type Smoother interface {
	Smooth(tr *Track) error
}

// Event reports progress: Done of Total units of work in Stage.
type Event struct {
	Stage       string
	Done, Total int
}

// StageTime is one stage's entry in a run's profile.
type StageTime struct {
	Stage    string        `json:"stage"`
	Ran      bool          `json:"ran"`
	Wall     time.Duration `json:"wall_ns"`
	PeakRSS  int64         `json:"peak_rss_bytes"`           // process high-water mark after the stage; 0 where unknown
	GPUUsed  int64         `json:"gpu_used_bytes,omitempty"` // device memory in use after the stage, when Pipeline.DeviceMemory is set
	Skipping string        `json:"skipped_because,omitempty"`
}

// WorldEstimator puts a static camera's results into a gravity-aligned
// world frame (package world fits it to MoGe's point maps). It returns an
// error, and no world, when the camera moved or no ground is supported.
type WorldEstimator interface {
	World(ctx context.Context, frames FrameSource, res *Result) (*World, error)
}

// World is a static camera's world frame: Y up, the ground at y = 0.
type World struct {
	// ToWorld maps camera coordinates to world ones: w = R·c + t, rows
	// of R first then t as the last column.
	ToWorld [3][4]float64
	// CameraHeight is in metres; pitch (down positive) and roll (right
	// side up positive) in degrees.
	CameraHeight, PitchDeg, RollDeg float64
	// FootLift is each track's per-frame upward correction (metres)
	// that keeps its feet on the ground; nil when foot contact is off.
	FootLift [][]float64
}

// Result is what a pipeline run produced.
type Result struct {
	Info    VideoInfo
	Masks   MaskSource   // nil when no segmenter ran
	Amodal  *Amodal      // nil when occlusion recovery did not run
	Cameras []Intrinsics // one per frame
	Tracks  []Track      // one per person, after smoothing
	World   *World       // nil unless a WorldEstimator ran and found a ground
	Profile []StageTime
}

// Pipeline composes the stages it is given. A nil stage is skipped; Run
// records why in the profile. It holds no state between runs and may be
// used by several goroutines at once if its stages may.
type Pipeline struct {
	// Masks, when not nil, are people's masks made elsewhere: they are
	// used instead of running the Segmenter, and prompts are optional.
	Masks MaskSource

	Segmenter Segmenter
	Amodal    AmodalCompleter
	Camera    CameraEstimator
	Mesh      MeshRecoverer
	Smoother  Smoother
	// World, if not nil, runs after smoothing. World mode is opt-in, so
	// the profile lists a "world" stage only when one is given.
	World WorldEstimator

	// Progress, if not nil, is called as work completes.
	Progress func(Event)
	// DeviceMemory, if not nil, is sampled after each stage for the
	// profile: the bytes in use on the GPU the engines run on (NVML
	// reports the whole device's use, other processes included).
	DeviceMemory func() (int64, error)
}

// Run runs the pipeline's stages over frames with the given prompts.
// It stops at the first error and returns the results computed so far
// alongside it, so that nothing already computed is lost.
func (p *Pipeline) Run(ctx context.Context, frames FrameSource, prompts Prompts) (*Result, error) {
	info := frames.Info()
	if info.Frames <= 0 {
		return nil, errors.New("body4d: video has no frames")
	}
	// Without a tracker to follow them, prompts are optional, but
	// prompts given are always checked.
	if p.Masks == nil || len(prompts.Clicks)+len(prompts.Boxes) > 0 {
		if err := prompts.Validate(info); err != nil {
			return nil, fmt.Errorf("body4d: %w", err)
		}
	}
	res := &Result{Info: info}
	stage := func(name string, present bool, why string, run func() error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := StageTime{Stage: name, Ran: present && why == ""}
		if !present {
			st.Skipping = "no " + name + " stage in this pipeline"
		} else if why != "" {
			st.Skipping = why
		}
		if st.Ran {
			p.report(Event{Stage: name})
			t0 := time.Now()
			err := run()
			st.Wall = time.Since(t0)
			st.PeakRSS = proc.PeakRSS()
			if p.DeviceMemory != nil {
				if used, merr := p.DeviceMemory(); merr == nil {
					st.GPUUsed = used
				}
			}
			if err != nil {
				res.Profile = append(res.Profile, st)
				return fmt.Errorf("body4d: %s: %w", name, err)
			}
		}
		res.Profile = append(res.Profile, st)
		return nil
	}

	given := ""
	if p.Masks != nil {
		given = "masks given"
		res.Masks = p.Masks
	}
	if err := stage("segment", p.Segmenter != nil || p.Masks != nil, given, func() (err error) {
		res.Masks, err = p.Segmenter.Segment(ctx, frames, prompts)
		return err
	}); err != nil {
		return res, err
	}
	noMasks := ""
	if res.Masks == nil {
		noMasks = "no masks: the segment stage did not run"
	}
	if err := stage("amodal", p.Amodal != nil, noMasks, func() (err error) {
		res.Amodal, err = p.Amodal.Complete(ctx, frames, res.Masks)
		return err
	}); err != nil {
		return res, err
	}
	if err := stage("camera", p.Camera != nil, "", func() error {
		cams, err := p.Camera.Intrinsics(ctx, frames)
		if err == nil && len(cams) != info.Frames {
			err = fmt.Errorf("got intrinsics for %d frames, video has %d", len(cams), info.Frames)
		}
		res.Cameras = cams
		return err
	}); err != nil {
		return res, err
	}
	if res.Cameras == nil {
		// The camera SAM-3D-Body assumes without an estimate.
		res.Cameras = make([]Intrinsics, info.Frames)
		for i := range res.Cameras {
			res.Cameras[i] = scene.DefaultIntrinsics(info.Width, info.Height)
		}
	}
	if err := stage("mesh", p.Mesh != nil, noMasks, func() error {
		tracks := map[PersonID]*Track{}
		// Keep what was recovered even when recovery fails part way.
		defer func() { res.Tracks = collectTracks(tracks) }()
		in := MeshInput{Frames: frames, Masks: res.Masks, Cameras: res.Cameras, Amodal: res.Amodal}
		return p.Mesh.Recover(ctx, in, func(frame int, people []Person) error {
			for _, pp := range people {
				tr := tracks[pp.ID]
				if tr == nil {
					tr = &Track{ID: pp.ID, Start: frame}
					tracks[pp.ID] = tr
				}
				if want := tr.Start + len(tr.Params); frame != want {
					return fmt.Errorf("person %d: frame %d emitted out of order (want %d)", pp.ID, frame, want)
				}
				tr.Params = append(tr.Params, pp.Params)
				tr.Present = append(tr.Present, pp.Present)
				tr.Visible = append(tr.Visible, pp.Present && res.Amodal.Seen(pp.ID, frame))
			}
			p.report(Event{Stage: "mesh", Done: frame + 1, Total: info.Frames})
			return nil
		})
	}); err != nil {
		return res, err
	}
	noTracks := ""
	if len(res.Tracks) == 0 {
		noTracks = "no body tracks: the mesh stage did not run"
	}
	if err := stage("smooth", p.Smoother != nil, noTracks, func() error {
		for i := range res.Tracks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := p.Smoother.Smooth(&res.Tracks[i]); err != nil {
				return fmt.Errorf("person %d: %w", res.Tracks[i].ID, err)
			}
		}
		return nil
	}); err != nil {
		return res, err
	}
	if p.World != nil {
		if err := stage("world", true, noTracks, func() (err error) {
			res.World, err = p.World.World(ctx, frames, res)
			return err
		}); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (p *Pipeline) report(e Event) {
	if p.Progress != nil {
		p.Progress(e)
	}
}

func collectTracks(m map[PersonID]*Track) []Track {
	ids := make([]PersonID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Track, len(ids))
	for i, id := range ids {
		out[i] = *m[id]
	}
	return out
}
