package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/smooth"
	"github.com/body4d/body4d/video"
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
	clicks     clickList
	clicksFile string
	models     string
	out        string
	fps        string
	crf        int
	profile    bool
	quiet      bool

	noCamera       bool
	fovX           float64
	perFrameCamera bool
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
	fset.BoolVar(&f.noCamera, "no-camera", false, "skip camera estimation; use the default camera (focal = image diagonal)")
	fset.Float64Var(&f.fovX, "fovx", 0, "known horizontal field of view in degrees (skips camera estimation)")
	fset.BoolVar(&f.perFrameCamera, "camera-per-frame", false, "estimate the camera on every frame (default: once per video, median of 8 frames)")
	fset.BoolVar(&f.profile, "profile", false, "print the per-stage time and memory table")
	fset.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: body4d run [VIDEO] [flags]\n\nRuns the pipeline on VIDEO (a video file or a folder of images; default: the built-in sample clip).")
		fset.PrintDefaults()
	}
	pos, err := parseArgs(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if len(pos) > 1 {
		return usageError{fmt.Errorf("want one VIDEO, got %d arguments: %q", len(pos), pos)}
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

	var sample string
	if len(pos) == 0 || f.models == "" {
		if sample, err = sampleDir(); err != nil {
			return err
		}
	}
	videoPath := ""
	if len(pos) == 1 {
		videoPath = pos[0]
	} else {
		videoPath = filepath.Join(sample, "clip", body4d.SampleClip)
		if len(prompts.Clicks) == 0 {
			if prompts.Clicks, err = readClicks(filepath.Join(sample, "clip", body4d.SampleClicks)); err != nil {
				return err
			}
		}
	}
	modelDir := f.models
	if modelDir == "" {
		modelDir = filepath.Join(sample, "models", "tiny")
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
	defer prog.done()
	var profile []body4d.StageTime
	timed := func(name string, fn func() error) error {
		t0 := time.Now()
		err := fn()
		profile = append(profile, body4d.StageTime{Stage: name, Ran: true, Wall: time.Since(t0), PeakRSS: body4d.PeakRSS()})
		return err
	}

	// Models first: a broken model directory should fail before minutes
	// of decoding.
	var dir *models.Dir
	var rt *ort.Runtime
	if err := timed("models", func() (err error) {
		if dir, err = models.Open(modelDir); err != nil {
			return err
		}
		if errs := dir.Verify(); len(errs) > 0 {
			return fmt.Errorf("model directory %s: %w", modelDir, errors.Join(errs...))
		}
		lib, err := ort.FindLibrary()
		if err != nil {
			return err
		}
		rt, err = ort.Open(ort.Options{Library: lib})
		return err
	}); err != nil {
		return err
	}
	defer rt.Close()

	// Decode once into the frame store. Its folder is named for the
	// video's content, so a different video never reuses old frames.
	id, err := videoID(videoPath)
	if err != nil {
		return err
	}
	workDir := filepath.Join(f.out, "work", id)
	var store *video.Store
	if err := timed("decode", func() error {
		var err error
		store, err = openOrImport(ctx, videoPath, rate, filepath.Join(workDir, "frames"), prog)
		return err
	}); err != nil {
		return err
	}
	defer store.Close()
	info := store.Info()

	pipe, notes, closeEngines, err := buildPipeline(dir, rt, f)
	defer closeEngines()
	if err != nil {
		return err
	}
	pipe.Progress = func(e body4d.Event) { prog.update(e.Stage, e.Done, e.Total) }
	for _, n := range notes {
		fmt.Fprintln(stderr, "body4d:", n)
	}
	res, runErr := pipe.Run(ctx, store, prompts)
	if res != nil {
		profile = append(profile, res.Profile...)
	}
	if runErr != nil {
		return runErr
	}

	outMP4 := filepath.Join(f.out, "result.mp4")
	if err := timed("encode", func() error {
		return writeResult(ctx, store, prompts, outMP4, f.crf, prog)
	}); err != nil {
		return err
	}
	prog.done()

	sum := summary{
		Video: videoPath, Width: info.Width, Height: info.Height, Frames: info.Frames, FPS: info.FPS.String(),
		Models: modelDir, ModelSet: dir.Manifest.Name, Clicks: prompts.Clicks, Output: outMP4, Profile: profile,
	}
	if len(res.Cameras) > 0 {
		sum.Camera = &res.Cameras[0]
	}
	for _, st := range res.Profile {
		if st.Ran {
			sum.StagesRan = append(sum.StagesRan, st.Stage)
		} else {
			sum.StagesSkipped = append(sum.StagesSkipped, st.Stage+": "+st.Skipping)
		}
	}
	sumPath := filepath.Join(f.out, "summary.json")
	if err := writeJSON(sumPath, sum); err != nil {
		return err
	}
	if f.profile {
		printProfile(stdout, profile)
	}
	fmt.Fprintf(stdout, "wrote %s (%d frames, %dx%d, %s fps) and %s\n", outMP4, info.Frames, info.Width, info.Height, info.FPS, sumPath)
	if len(sum.StagesSkipped) > 0 {
		fmt.Fprintf(stdout, "stages not run: %s\n", strings.Join(sum.StagesSkipped, "; "))
	}
	return nil
}

// buildPipeline makes the stages this build offers from a model
// directory. Stages that are not built yet are not offered; the notes say
// so. The returned func closes the engines.
func buildPipeline(dir *models.Dir, rt *ort.Runtime, f runFlags) (*body4d.Pipeline, []string, func(), error) {
	// Kalman/RTS with every improvement over the reference on (whole
	// tracks, camera translation smoothed, median shape, rotation-safe).
	p := &body4d.Pipeline{Smoother: smooth.Options{Mode: smooth.Kalman, CamT: true}}
	var notes []string
	var engines []engine.Engine
	closeAll := func() {
		for _, e := range engines {
			e.Close()
		}
	}
	switch {
	case f.noCamera:
		notes = append(notes, "camera stage off: default camera (focal = image diagonal)")
	case f.fovX != 0:
		est, err := fov.New(nil, fov.Options{FOVX: f.fovX})
		if err != nil {
			return nil, nil, closeAll, err
		}
		p.Camera = est
	default:
		path, err := dir.EnginePath("fov", "moge")
		if err != nil {
			notes = append(notes, "no fov/moge engine in the model directory: default camera (focal = image diagonal)")
			break
		}
		eng, err := rt.Load(path)
		if err != nil {
			return nil, nil, closeAll, fmt.Errorf("fov/moge: %w", err)
		}
		engines = append(engines, eng)
		est, err := fov.New(eng, fov.Options{PerFrame: f.perFrameCamera})
		if err != nil {
			return nil, nil, closeAll, err
		}
		p.Camera = est
	}
	notes = append(notes, "not built yet: the segment, amodal and mesh stages, so there are no masks or meshes; "+
		"the output is the video with your clicks drawn")
	return p, notes, closeAll, nil
}

func openOrImport(ctx context.Context, videoPath string, rate scene.Rational, dir string, prog *progress) (*video.Store, error) {
	if s, err := video.OpenStore(dir, video.StoreOptions{}); err == nil {
		return s, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	r, err := video.Open(ctx, videoPath, video.Options{FPS: rate})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return video.Import(ctx, r, dir, video.StoreOptions{
		Progress: func(done, total int) { prog.update("decode", done, total) },
	})
}

// writeResult encodes the output video: each frame with the clicks drawn.
func writeResult(ctx context.Context, frames scene.FrameSource, prompts scene.Prompts, path string, crf int, prog *progress) error {
	info := frames.Info()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Cancelling the encoder's context makes Close discard the partial
	// file, so a failed run never leaves a half-written MP4.
	encCtx, abort := context.WithCancel(ctx)
	defer abort()
	enc, err := video.Create(encCtx, path, video.EncodeOptions{FPS: info.FPS, CRF: crf})
	if err != nil {
		return err
	}
	for i := 0; i < info.Frames; i++ {
		src, err := frames.Frame(i)
		if err != nil {
			abort()
			enc.Close()
			return err
		}
		img := &scene.RGB{Pix: append([]uint8(nil), src.Pix...), Stride: src.Stride, Rect: src.Rect}
		drawClicks(img, prompts.Clicks, i)
		if err := enc.Write(img); err != nil {
			abort()
			enc.Close()
			return fmt.Errorf("encoding frame %d: %w", i, err)
		}
		prog.update("encode", i+1, info.Frames)
	}
	return enc.Close()
}

type summary struct {
	Video         string             `json:"video"`
	Width         int                `json:"width"`
	Height        int                `json:"height"`
	Frames        int                `json:"frames"`
	FPS           string             `json:"fps"`
	Models        string             `json:"models"`
	ModelSet      string             `json:"model_set"`
	Clicks        []scene.Click      `json:"clicks"`
	Camera        *scene.Intrinsics  `json:"camera_frame0,omitempty"`
	StagesRan     []string           `json:"stages_ran"`
	StagesSkipped []string           `json:"stages_skipped"`
	Output        string             `json:"output"`
	Profile       []body4d.StageTime `json:"profile"`
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func printProfile(w io.Writer, profile []body4d.StageTime) {
	fmt.Fprintf(w, "%-8s %10s %12s  %s\n", "stage", "wall", "peak RSS", "")
	for _, st := range profile {
		if !st.Ran {
			fmt.Fprintf(w, "%-8s %10s %12s  skipped: %s\n", st.Stage, "-", "-", st.Skipping)
			continue
		}
		fmt.Fprintf(w, "%-8s %10s %9.1f MiB\n", st.Stage, st.Wall.Round(time.Millisecond), float64(st.PeakRSS)/(1<<20))
	}
}

// videoID names a video by its content: a hash of every file's name,
// size and bytes (a folder's images in order), so a changed or different
// video gets a fresh work directory.
func videoID(path string) (string, error) {
	h := sha256.New()
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("video %s: %w", path, err)
	}
	add := func(p string) error {
		file, err := os.Open(p)
		if err != nil {
			return err
		}
		defer file.Close()
		fmt.Fprintf(h, "%s\x00", filepath.Base(p))
		_, err = io.Copy(h, file)
		return err
	}
	if !st.IsDir() {
		err = add(path)
	} else {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if err == nil && p != path {
					return filepath.SkipDir
				}
				return err
			}
			return add(p)
		})
	}
	if err != nil {
		return "", fmt.Errorf("video %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
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
