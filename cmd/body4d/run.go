package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/scene"
)

// clickList collects repeated --click flags.
type clickList []scene.Click

func (c *clickList) String() string { return fmt.Sprint(len(*c), " clicks") }
func (c *clickList) Set(s string) error {
	click, err := parseClick(s)
	if err != nil {
		return err
	}
	*c = append(*c, click)
	return nil
}

type runFlags struct {
	clicks        clickList
	clicksFile    string
	models        string
	out           string
	fps           string
	crf           int
	profile       bool
	quiet         bool
	export        string
	exportFormats []string

	noAmodal       bool
	noCamera       bool
	fovX           float64
	perFrameCamera bool
	worldMode      string
	noFootContact  bool
	smooth         string
	meshMode       string
	device         string
	quick          bool
	amodalFast     bool
	masks          string
	frames         int
	progressAll    bool
	auto           bool
	redetect       int
	concept        string
	keepWork       bool
	untrusted      bool
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fset := flag.NewFlagSet("run", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Var(&f.clicks, "click", "a click FRAME:X,Y[:PERSON[:neg]] in pixels (repeatable); X,Y alone is frame 0, person 1")
	fset.StringVar(&f.clicksFile, "clicks", "", "JSON file of clicks: [{\"frame\":0,\"x\":420,\"y\":310,\"person\":1,\"negative\":false}]")
	fset.StringVar(&f.models, "models", "", "model directory (default: the built-in tiny models, whose output is not meaningful)")
	fset.StringVar(&f.out, "out", "", "output directory (default: out/<video name>)")
	fset.StringVar(&f.fps, "fps", "", "frame rate of an image folder, e.g. 30 or 30000/1001 (video files keep their own)")
	fset.IntVar(&f.crf, "crf", 0, "x264 quality of the output MP4 (0-51, lower is better; 0: default)")
	fset.StringVar(&f.device, "device", "cpu", "where engines run: cpu (ONNX Runtime), cuda (ONNX Runtime's CUDA provider) or tensorrt (TensorRT plans from body4d engines build; a build with the tags cuda,tensorrt)")
	fset.StringVar(&f.masks, "masks", "", "folder of label images (000000.png, ...; pixel value = person id) to use instead of tracking clicks")
	fset.BoolVar(&f.auto, "auto", false, "find the people with SAM-3's concept detector on frame 0 (clicks, if any, add or correct people)")
	fset.IntVar(&f.redetect, "redetect", 0, "with --auto: look for new people every K frames (0: frame 0 only)")
	fset.StringVar(&f.concept, "concept", "person", "with --auto: what to find (the model directory ships the \"person\" embedding only)")
	fset.IntVar(&f.frames, "frames", 0, "process only the first N frames (0: all)")
	fset.BoolVar(&f.keepWork, "keep-work", true, "keep the work directory (OUT/work) after a successful run, so a rerun resumes; --keep-work=false leaves only the outputs")
	fset.BoolVar(&f.quick, "quick", false, "faster, rougher occlusion recovery (4 denoising steps at 128x256): for a first look")
	fset.BoolVar(&f.amodalFast, "amodal-fast", false, "faster occlusion recovery: skip people a cheap mask test shows fully in view, 10 denoising steps instead of 25")
	fset.BoolVar(&f.noAmodal, "no-amodal", false, "skip occlusion recovery (Diffusion-VAS)")
	fset.StringVar(&f.smooth, "smooth", "kalman", "temporal smoothing: kalman, oneeuro, reference (the reference tool's method) or off")
	fset.StringVar(&f.meshMode, "mesh-mode", "body", "mesh recovery: body (one pass) or full (the reference's hand refinement: hand crops, hand decoder, wrist re-prompts; needs the full-mode engines)")
	fset.BoolVar(&f.noCamera, "no-camera", false, "skip camera estimation; use the default camera (focal = image diagonal)")
	fset.Float64Var(&f.fovX, "fovx", 0, "known horizontal field of view in degrees (skips camera estimation)")
	fset.StringVar(&f.worldMode, "world", "", "static: fit the ground to MoGe's point maps of a static camera and write world.json and per-person trajectory.json (world metres, Y up)")
	fset.BoolVar(&f.noFootContact, "no-foot-contact", false, "with --world static: let feet go below the ground (default: the lowest mesh vertex is kept on or above it, the lift smoothed over ±5 frames)")
	fset.BoolVar(&f.perFrameCamera, "camera-per-frame", false, "estimate the camera on every frame (default: once per video, median of 8 frames)")
	fset.StringVar(&f.export, "export", "", "also write animation files: glb (people/<id>/motion.glb and scene.glb, skinned glTF), bvh (people/<id>/motion.bvh), e.g. glb,bvh")
	fset.BoolVar(&f.untrusted, "untrusted", false, "the video file comes from a source you do not trust: accept only MP4/MOV, Matroska/WebM and AVI, and let ffmpeg open no other file or URL")
	fset.BoolVar(&f.profile, "profile", false, "print the per-stage time and memory table")
	fset.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fset.BoolVar(&f.progressAll, "progress-all", false, "a progress line on stderr for every unit done (for scripts that watch it; default: at most one every few seconds when stderr is not a terminal)")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: body4d run [VIDEO] [flags]\n\nRuns the pipeline on VIDEO (a video file or a folder of images; default: the built-in sample clip).")
		fset.PrintDefaults()
	}
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{fmt.Errorf("want one VIDEO, got %d arguments: %q", len(pos), pos)}
	}
	if !f.auto && (f.redetect != 0 || f.concept != "person") {
		return usageError{fmt.Errorf("--redetect and --concept need --auto")}
	}
	if f.redetect < 0 {
		return usageError{fmt.Errorf("--redetect %d: want a frame interval ≥ 0", f.redetect)}
	}
	if f.export != "" {
		if f.exportFormats, err = job.ParseFormats(f.export, "glb", "bvh"); err != nil {
			return usageError{fmt.Errorf("--export: %w", err)}
		}
	}
	var rate scene.Rational
	if f.fps != "" {
		if rate, err = parseRate(f.fps); err != nil {
			return usageError{err}
		}
	}

	prompts := scene.Prompts{Clicks: f.clicks}
	if f.clicksFile != "" {
		more, err := readClicks(f.clicksFile)
		if err != nil {
			return err
		}
		prompts.Clicks = append(prompts.Clicks, more...)
	}

	var sampleDir string
	if len(pos) == 0 || f.models == "" {
		if sampleDir, err = job.SampleDir(); err != nil {
			return err
		}
	}
	videoPath := ""
	if len(pos) == 1 {
		videoPath = pos[0]
	} else {
		videoPath = filepath.Join(sampleDir, "clip", sample.Clip)
		if len(prompts.Clicks) == 0 && f.masks == "" && !f.auto {
			if prompts.Clicks, err = readClicks(filepath.Join(sampleDir, "clip", sample.Clicks)); err != nil {
				return err
			}
		}
	}
	modelDir := f.models
	if modelDir == "" {
		modelDir = filepath.Join(sampleDir, "models", "tiny")
		fmt.Fprintln(stderr, "body4d: using the built-in tiny models (random weights): their output is not meaningful; use --models DIR for real results")
	}
	if f.out == "" {
		name := strings.TrimSuffix(filepath.Base(videoPath), filepath.Ext(videoPath))
		if len(pos) == 0 {
			name = "sample"
		}
		f.out = filepath.Join("out", name)
	}
	return runPipeline(ctx, f, videoPath, rate, modelDir, prompts, stdout, stderr)
}

func runPipeline(ctx context.Context, f runFlags, videoPath string, rate scene.Rational, modelDir string,
	prompts scene.Prompts, stdout, stderr io.Writer) error {
	prog := newProgress(stderr, f.quiet)
	if f.progressAll && !prog.tty {
		prog.interval = 0
	}
	defer prog.done()
	spec := job.Spec{
		Video: videoPath, FPS: rate, Untrusted: f.untrusted, Models: modelDir, Out: f.out, Prompts: prompts, Masks: f.masks, Frames: f.frames, CRF: f.crf, Device: f.device, Export: f.exportFormats,
		Auto:     autoSpec(f),
		DropWork: !f.keepWork,
		Stages:   job.Stages{NoAmodal: f.noAmodal, NoCamera: f.noCamera, FOVX: f.fovX, CameraPerFrame: f.perFrameCamera, Smooth: f.smooth, Quick: f.quick, AmodalFast: f.amodalFast, Mesh: f.meshMode, World: f.worldMode, NoFootContact: f.noFootContact},
	}
	sum, err := job.Run(ctx, spec, func(e body4d.Event) { prog.update(e.Stage, e.Done, e.Total) })
	prog.done()
	if sum != nil {
		for _, n := range sum.Notes {
			fmt.Fprintln(stderr, "body4d:", n)
		}
		if f.profile {
			printProfile(stdout, sum.Profile)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d frames, %dx%d, %s fps) and %s\n", sum.Output, sum.Frames, sum.Width, sum.Height, sum.FPS,
		filepath.Join(f.out, "summary.json"))
	if a := sum.Auto; a != nil {
		fmt.Fprintf(stdout, "auto: %q detected on %d frame(s)\n", a.Concept, len(a.Detected))
		for _, p := range a.People {
			how := fmt.Sprintf("found on frame %d, score %.3f", p.FirstFrame, p.Score)
			if p.Clicked {
				how = fmt.Sprintf("clicked on frame %d, best matching detection score %.3f", p.FirstFrame, p.Score)
			}
			fmt.Fprintf(stdout, "person %d: %s\n", p.ID, how)
		}
	}
	for _, p := range sum.People {
		fmt.Fprintf(stdout, "person %d: %d meshes in %s\n", p.ID, p.Frames, p.Dir)
	}
	for _, e := range sum.Exports {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(f.out, e))
	}
	if w := sum.AmodalWindows; w != nil {
		fmt.Fprintf(stdout, "occlusion recovery: %d person-windows run (%d with an occluded span completed), %d skipped as fully in view\n", w.Run, w.Completed, w.Skipped)
	}
	if sum.Work.Kept {
		fmt.Fprintf(stdout, "work directory %s: %s (kept for resuming; --keep-work=false removes it)\n", sum.Work.Dir, humanBytes(sum.Work.Bytes))
	} else {
		fmt.Fprintf(stdout, "work directory %s: %s, removed\n", sum.Work.Dir, humanBytes(sum.Work.Bytes))
	}
	if len(sum.StagesSkipped) > 0 {
		fmt.Fprintf(stdout, "stages not run: %s\n", strings.Join(sum.StagesSkipped, "; "))
	}
	return nil
}

// autoSpec is the job's auto mode from the flags; nil without --auto.
func autoSpec(f runFlags) *job.Auto {
	if !f.auto {
		return nil
	}
	return &job.Auto{Redetect: f.redetect, Concept: f.concept}
}

func printProfile(w io.Writer, profile []body4d.StageTime) {
	gpu := false
	for _, st := range profile {
		gpu = gpu || st.GPUUsed > 0
	}
	fmt.Fprintf(w, "%-8s %10s %12s", "stage", "wall", "peak RSS")
	if gpu {
		fmt.Fprintf(w, " %12s", "GPU used")
	}
	fmt.Fprintln(w)
	for _, st := range profile {
		if !st.Ran {
			fmt.Fprintf(w, "%-8s %10s %12s  skipped: %s\n", st.Stage, "-", "-", st.Skipping)
			continue
		}
		fmt.Fprintf(w, "%-8s %10s %8.1f MiB", st.Stage, st.Wall.Round(time.Millisecond), float64(st.PeakRSS)/(1<<20))
		if gpu {
			fmt.Fprintf(w, " %8.1f MiB", float64(st.GPUUsed)/(1<<20))
		}
		fmt.Fprintln(w)
	}
}

// parseRate parses "30", "29.97" or "30000/1001".
func parseRate(s string) (scene.Rational, error) {
	if n, d, ok := strings.Cut(s, "/"); ok {
		num, err1 := strconv.Atoi(n)
		den, err2 := strconv.Atoi(d)
		if err1 != nil || err2 != nil || num <= 0 || den <= 0 {
			return scene.Rational{}, fmt.Errorf("--fps %q: want N or N/D with positive integers", s)
		}
		return scene.Rational{Num: num, Den: den}, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v < 1000) {
		return scene.Rational{}, fmt.Errorf("--fps %q: want a positive frame rate", s)
	}
	// Keep three decimals exactly: 29.97 becomes 29970/1000.
	return scene.Rational{Num: int(v*1000 + 0.5), Den: 1000}, nil
}

// humanBytes writes a size in the largest binary unit that keeps it ≥ 1.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v, i = v/unit, i+1
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
