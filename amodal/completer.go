package amodal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// Options configure a Completer. The zero value runs as the reference
// (SAM-Body4D with completion on) does.
type Options struct {
	// Dir is the work directory. Depth and each finished window are
	// written there, so a run that stops part-way resumes from the last
	// finished window. Empty means a temporary directory that
	// Result.Close removes. Results live in a subdirectory named for
	// the video size and these options (and, with Open, the model
	// files), and a window is reused only when the masks it was made
	// from are unchanged; the frames themselves are not checked, so a
	// Dir belongs to one video. Two runs must not share a Dir at once.
	Dir string
	// Seed seeds the noise (Go's PCG, not PyTorch's generator: results
	// match the reference statistically, not bit for bit).
	Seed uint64
	// Steps is the number of denoising steps; 0 means 25. Fewer steps
	// are faster and less faithful.
	Steps int
	// Window is the number of frames processed together; 0 means 64
	// (SAM-Body4D's sam_3d_body.batch_size, which sets its chunks).
	Window int
	// Height and Width are the amodal segmentation resolution
	// (detection_resolution); 0 means 512×1024. Multiples of 8.
	Height, Width int
	// CompletionHeight and CompletionWidth are the content completion
	// resolution (completion_resolution); 0 means 512×1024.
	CompletionHeight, CompletionWidth int
	// DecodeChunk is how many frames the VAE decodes at once (and the
	// unit in which conditions are encoded); 0 means 8.
	DecodeChunk int
	// Occlusion selects reference quirks of the occlusion test.
	Occlusion OcclusionOptions
	// Fast, if set, turns on fast mode: windows where a person is fully
	// in view by a cheap test on the modal masks skip the amodal pass,
	// and the sampler runs fewer steps (see FastOptions). nil, the
	// default, is the full mode.
	Fast *FastOptions
	// Progress, if set, is called after each depth frame and each
	// person-window with the work done so far.
	Progress func(done, total int)
}

func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int, name string) error {
		if *v < 0 {
			return fmt.Errorf("amodal: Options.%s is %d, must not be negative", name, *v)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	for _, f := range []struct {
		v    *int
		d    int
		name string
	}{
		{&o.Steps, 25, "Steps"}, {&o.Window, 64, "Window"}, {&o.Height, 512, "Height"}, {&o.Width, 1024, "Width"},
		{&o.CompletionHeight, 512, "CompletionHeight"}, {&o.CompletionWidth, 1024, "CompletionWidth"}, {&o.DecodeChunk, 8, "DecodeChunk"},
	} {
		if err := def(f.v, f.d, f.name); err != nil {
			return o, err
		}
	}
	if o.Steps < 2 {
		return o, fmt.Errorf("amodal: Options.Steps is %d, the sampler needs at least 2", o.Steps)
	}
	if o.Fast != nil {
		f, err := o.Fast.withDefaults(o.Steps)
		if err != nil {
			return o, err
		}
		o.Fast = &f // a copy: the caller's later changes do not apply
	}
	for _, r := range [][3]any{{"Height×Width", o.Height, o.Width}, {"CompletionHeight×CompletionWidth", o.CompletionHeight, o.CompletionWidth}} {
		h, w := r[1].(int), r[2].(int)
		if h%8 != 0 || w%8 != 0 {
			return o, fmt.Errorf("amodal: Options.%s %dx%d must be multiples of 8 (the VAE's factor)", r[0], w, h)
		}
	}
	return o, nil
}

// Engines are the stage's networks (see Contracts). The two passes share
// the CLIP encoder and the VAE (frozen when Diffusion-VAS was trained)
// but each has its own fine-tuned UNet: UNet segments amodal masks,
// UNetCompletion completes the occluded content.
type Engines struct {
	CLIP, VAEEncoder, UNet, UNetCompletion, VAEDecoder, Depth engine.Engine
}

func (e Engines) list() []struct {
	name string
	eng  engine.Engine
} {
	return []struct {
		name string
		eng  engine.Engine
	}{{"clip_vision", e.CLIP}, {"vae_encoder", e.VAEEncoder}, {"unet", e.UNet}, {"unet_completion", e.UNetCompletion}, {"vae_decoder", e.VAEDecoder}, {"depth", e.Depth}}
}

// A Completer runs Diffusion-VAS occlusion recovery over videos. It
// holds no mutable state: Complete may run concurrently (with different
// work directories) when its engines allow concurrent Run calls.
type Completer struct {
	eng     Engines
	opts    Options
	sampler Sampler
	own     bool   // Close closes the engines
	models  string // identifies the model files, for the work directory key
	// newNoise makes a noise stream; tests replace it to replay the
	// reference's noise.
	newNoise func(noiseKey) normalSource
}

// New returns a Completer that runs the given engines. It checks them
// against Contracts; the caller keeps ownership (Close does not close
// them). The work directory cannot tell these engines from others: give
// other engines another Options.Dir.
func New(eng Engines, opts Options) (*Completer, error) {
	return newCompleter(eng, opts, false, "")
}

func newCompleter(eng Engines, opts Options, own bool, modelKey string) (*Completer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	contracts := map[string]engine.Contract{}
	for _, c := range Contracts() {
		contracts[c.Engine] = c
	}
	var errs []error
	for _, e := range eng.list() {
		if e.eng == nil {
			errs = append(errs, fmt.Errorf("amodal: no %s engine (occlusion recovery needs all six: clip_vision, vae_encoder, unet, unet_completion, vae_decoder, depth)", e.name))
			continue
		}
		errs = append(errs, contracts[e.name].Check(e.eng.Info())...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := defaultSampler()
	s.Steps = opts.Steps
	if opts.Fast != nil {
		s.Steps = opts.Fast.Steps
	}
	c := &Completer{eng: eng, opts: opts, sampler: s, own: own, models: modelKey, newNoise: newPCGNormal}
	return c, nil
}

// Open loads the stage's six engines from a model directory with load
// (a backend's Load) and checks them against Contracts. Close closes
// them.
func Open(dir *models.Dir, load func(path string) (engine.Engine, error), opts Options) (*Completer, error) {
	var eng Engines
	slots := []*engine.Engine{&eng.CLIP, &eng.VAEEncoder, &eng.UNet, &eng.UNetCompletion, &eng.VAEDecoder, &eng.Depth}
	closeAll := func() {
		for _, s := range slots {
			if *s != nil {
				(*s).Close()
			}
		}
	}
	key := sha256.New()
	for i, e := range eng.list() {
		path, err := dir.EnginePath("amodal", e.name)
		if err != nil {
			closeAll()
			return nil, err
		}
		if m, ok := dir.Manifest.Engine("amodal", e.name); ok {
			fmt.Fprintf(key, "%s=%s\n", e.name, m.SHA256)
		}
		loaded, err := load(path)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("amodal/%s: %w", e.name, err)
		}
		*slots[i] = loaded
	}
	c, err := newCompleter(eng, opts, true, hex.EncodeToString(key.Sum(nil)))
	if err != nil {
		closeAll()
		return nil, err
	}
	return c, nil
}

// Close closes the engines when Open loaded them.
func (c *Completer) Close() error {
	if !c.own {
		return nil
	}
	var errs []error
	for _, e := range c.eng.list() {
		if err := e.eng.Close(); err != nil {
			errs = append(errs, fmt.Errorf("amodal/%s: %w", e.name, err))
		}
	}
	return errors.Join(errs...)
}

// Result is the stage's output for one video.
type Result struct {
	// Masks are the masks the mesh stage should use: on each person's
	// completed frames the amodal mask (hidden parts included), on all
	// other frames the modal mask passed in; nil where the person is
	// absent. People() lists the same people as the input.
	Masks scene.MaskSource
	// Visible marks, per person and frame, whether the person was seen
	// unoccluded (score > 0.7); false where the person is absent.
	Visible map[scene.PersonID][]bool
	// Images returns the completed frame (video size, the person painted
	// in full on white, as the content completion model draws it) for a
	// frame of the person's occluded span, and nil with no error on every
	// other frame, where the original frame applies.
	Images func(id scene.PersonID, frame int) (*scene.RGB, error)
	// Spans lists each person's completed frame ranges (video frame
	// indices, End inclusive), in order.
	Spans map[scene.PersonID][]Span
	// Windows reports each person's windows, in order of window then
	// person: whether fast mode skipped it and why not.
	Windows []WindowReport

	tempDir string
}

// WindowReport describes one person's window of frames in a run.
type WindowReport struct {
	Person        scene.PersonID
	Start, Frames int // video frames Start..Start+Frames-1
	// Absent: the person is on no frame of the window; nothing ran.
	Absent bool
	// Skipped: fast mode's in-view test passed; the amodal pass did not
	// run and the modal masks are handed on.
	Skipped bool
	// NotSkipped is fast mode's reason for running the window (the test
	// failed, on the video frame it names); empty in the full mode and
	// for skipped windows.
	NotSkipped string
	// Occluded: a span was completed: Span, in video frame indices, End
	// inclusive (zero when not Occluded).
	Occluded bool
	Span     Span
	// Reused: the window's result was read back from Options.Dir (an
	// earlier run computed it).
	Reused bool
}

// Close removes the temporary work directory when Options.Dir was empty.
// Masks and Images must not be used after Close.
func (r *Result) Close() error {
	if r.tempDir == "" {
		return nil
	}
	err := os.RemoveAll(r.tempDir)
	r.tempDir = ""
	return err
}

// Complete recovers occluded people in a video. It finds the range of
// depth over the whole video, then runs each window of frames for each
// person (computing the window's depth again, see depth):
// amodal segmentation, occlusion detection and content completion on
// the occluded span. Finished windows in the work directory are reused
// when they were computed from the same masks; a window whose person is
// absent throughout runs no engine.
//
// It follows SAM-Body4D's app.py except where that is a bug:
//   - the completed span includes its last frame (app.py slices
//     [start:end] with an inclusive end and never completes frame end);
//   - where the amodal mask looks like a fake completion, the completion
//     pass gets the person's modal mask for every person id (app.py's
//     resize_mask_with_unique_label and is_super_long_or_wide compare a
//     0/1 mask with the id, so they only work for id 1; see
//     OcclusionOptions), and the mask handed on is the modal one (app.py
//     hands on the raw amodal mask, which can be empty);
//   - a person absent from a frame (nil mask) conditions the model as an
//     empty mask, as the reference's mask files do, but gets no mask, no
//     completed image and no visibility on that frame;
//   - the noise is Go's (PCG, one stream per condition frame), so results
//     match the reference statistically, not bit for bit.
//
// With Options.Fast, a person-window that the cheap in-view test passes
// runs no engine and hands on the modal masks (see FastOptions), and the
// sampler runs fewer steps; Result.Windows says which windows it skipped.
//
// Memory holds one window's latents and one decode chunk's pixels; one
// window's depth (4 bytes a pixel at the model resolution per frame),
// amodal masks and completed frames go to the work directory.
func (c *Completer) Complete(ctx context.Context, frames scene.FrameSource, masks scene.MaskSource) (*Result, error) {
	if frames == nil || masks == nil {
		return nil, errors.New("amodal: Complete needs frames and masks")
	}
	info := frames.Info()
	if info.Frames <= 0 {
		return nil, fmt.Errorf("amodal: video has %d frames", info.Frames)
	}
	if info.Width <= 0 || info.Height <= 0 {
		return nil, fmt.Errorf("amodal: video is %dx%d", info.Width, info.Height)
	}
	people := slices.Clone(masks.People())
	if len(people) == 0 {
		return nil, errors.New("amodal: the mask source has no people to recover")
	}
	slices.Sort(people)
	for i, id := range people {
		if id < 1 {
			return nil, fmt.Errorf("amodal: person id %d must be ≥ 1", id)
		}
		if i > 0 && people[i-1] == id {
			return nil, fmt.Errorf("amodal: the mask source lists person %d twice", id)
		}
	}
	res := &Result{}
	dir := c.opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "body4d-amodal-")
		if err != nil {
			return nil, fmt.Errorf("amodal: %w", err)
		}
		dir, res.tempDir = tmp, tmp
	}
	fail := func(err error) (*Result, error) {
		res.Close()
		return nil, err
	}
	st, err := openStore(dir, c.storeKey(info))
	if err != nil {
		return fail(err)
	}
	windows := (info.Frames + c.opts.Window - 1) / c.opts.Window
	total, done := info.Frames+windows*len(people), 0
	progress := func() {
		done++
		if c.opts.Progress != nil {
			c.opts.Progress(done, total)
		}
	}
	lo, hi, err := c.depth(ctx, frames, st, progress)
	if err != nil {
		return fail(err)
	}
	run := &videoRun{c: c, frames: frames, masks: masks, st: st, info: info, lo: lo, hi: hi}
	metas := map[scene.PersonID][]*windowMeta{}
	for start := 0; start < info.Frames; start += c.opts.Window {
		n := min(c.opts.Window, info.Frames-start)
		var stats map[scene.PersonID][]maskStat
		if f := c.opts.Fast; f != nil && !f.NoSkip {
			if stats, err = run.windowStats(people, start, n); err != nil {
				return fail(err)
			}
		}
		for _, id := range people {
			m, err := run.window(ctx, id, start, n, stats)
			if err != nil {
				return fail(err)
			}
			metas[id] = append(metas[id], m)
			wr := WindowReport{Person: id, Start: start, Frames: n, Absent: !slices.Contains(m.Present, true),
				Skipped: m.Skipped, NotSkipped: m.NotSkipped, Occluded: m.Occluded, Reused: m.loaded}
			if m.Occluded {
				wr.Span = Span{start + m.Span.Start, start + m.Span.End}
			}
			res.Windows = append(res.Windows, wr)
			progress()
		}
		// Every person's window is on disk: its depth is needed no more.
		if err := st.releaseDepth(); err != nil {
			return fail(err)
		}
	}
	res.Visible = map[scene.PersonID][]bool{}
	res.Spans = map[scene.PersonID][]Span{}
	for _, id := range people {
		vis := make([]bool, 0, info.Frames)
		for _, m := range metas[id] {
			for i, p := range m.Present {
				vis = append(vis, p && m.Scores[i] > VisibleAbove)
			}
			if m.Occluded {
				res.Spans[id] = append(res.Spans[id], Span{m.Start + m.Span.Start, m.Start + m.Span.End})
			}
		}
		res.Visible[id] = vis
	}
	out := &resultMasks{modal: masks, people: people, st: st, metas: metas, window: c.opts.Window, info: info}
	res.Masks = out
	res.Images = out.image
	return res, nil
}

// storeKey names the work directory's subdirectory for this video and
// these settings, so results of other settings or models are not reused.
func (c *Completer) storeKey(info scene.VideoInfo) string {
	o := c.opts
	h := sha256.New()
	fmt.Fprintf(h, "amodal v2\nvideo %dx%d %d\nres %dx%d %dx%d\nwindow %d steps %d seed %d chunk %d\nocc %+v\nmodels %s\n",
		info.Width, info.Height, info.Frames, o.Width, o.Height, o.CompletionWidth, o.CompletionHeight,
		o.Window, o.Steps, o.Seed, o.DecodeChunk, o.Occlusion, c.models)
	if o.Fast != nil { // only then, so full-mode work directories stay valid
		fmt.Fprintf(h, "fast %+v\n", *o.Fast)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// PipelineStage is a Completer as the pipeline's occlusion stage
// (body4d.AmodalCompleter): it hands on what the later stages read.
// Windows, if set, receives the run's per-person-window report.
type PipelineStage struct {
	C       *Completer
	Windows func([]WindowReport)
}

// Complete runs the Completer and returns its masks, visibility and
// completed images.
func (s PipelineStage) Complete(ctx context.Context, frames scene.FrameSource, masks scene.MaskSource) (*scene.Amodal, error) {
	res, err := s.C.Complete(ctx, frames, masks)
	if err != nil {
		return nil, err
	}
	if s.Windows != nil {
		s.Windows(res.Windows)
	}
	return &scene.Amodal{Masks: res.Masks, Visible: res.Visible, Images: res.Images}, nil
}
