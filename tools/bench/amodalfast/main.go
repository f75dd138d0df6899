// Command amodalfast reports what the amodal stage's fast mode
// (amodal.FastOptions) costs and buys: it runs the stage on the sample
// clip with its true masks, once in the full mode and then in fast-mode
// variants, and prints each run's wall time and speed-up against the
// full run, every person-window's skip decision, and how far each
// variant's hand-off strays from the full mode's: the IoU of the masks
// the mesh stage would get (per person-window, mean and worst over the
// frames), frames completed by one run and not the other, and the mean
// absolute difference of frames both completed. It also counts the UNet
// frame-steps (frames denoised per UNet call, summed): with real weights
// the UNet dominates the stage's cost, so their ratio is the speed-up to
// expect there, which the tiny engines' wall times do not show (their
// UNet is nearly free; depth and the Go resizes dominate).
//
// With the tiny random-weight models (the default) the amodal masks and
// completed frames are meaningless, so the IoU measures the plumbing
// (what fast mode hands on where it skips, and how the step count moves
// the sampler's output), not real quality. Run it with -models on real
// weights for a quality figure.
//
//	go run ./tools/bench/amodalfast     # from the repo: sample/clip, its true masks, tiny models, 256×512
//	go run ./tools/bench/amodalfast -steps 25 -fast-steps 10 -window 64 -height 512 -width 1024
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/body4d/body4d/amodal"
	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/masks"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

func main() {
	root, err := moduleRoot()
	if err != nil {
		log.Fatal(err)
	}
	clip := flag.String("video", filepath.Join(root, "sample", "clip", "sample.mp4"), "video file")
	maskDir := flag.String("masks", filepath.Join(root, "sample", "clip", "masks"), "folder of label images (the sample's true masks)")
	modelDir := flag.String("models", filepath.Join(root, "sample", "models", "tiny"), "model directory (default: tiny random-weight models)")
	steps := flag.Int("steps", 25, "full mode's denoising steps")
	fastSteps := flag.Int("fast-steps", amodal.DefaultFastSteps, "fast mode's denoising steps")
	window := flag.Int("window", 64, "frames per window")
	height := flag.Int("height", 256, "amodal and completion height (reference: 512)")
	width := flag.Int("width", 512, "amodal and completion width (reference: 1024)")
	threads := flag.Int("threads", 0, "ONNX Runtime intra-op threads (0: its default)")
	flag.Parse()
	if err := run(context.Background(), *clip, *maskDir, *modelDir, *threads, amodal.Options{
		Steps: *steps, Window: *window, Height: *height, Width: *width, CompletionHeight: *height, CompletionWidth: *width,
	}, *fastSteps); err != nil {
		log.Fatal(err)
	}
}

// moduleRoot finds the repository (go.mod) from the working directory
// upwards: the sample lives in its testdata.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s: run from the body4d repository", dir)
		}
		dir = parent
	}
}

type variant struct {
	name string
	fast *amodal.FastOptions
}

type outcome struct {
	res         *amodal.Result
	wall, depth time.Duration
	unetFrames  int64 // UNet frame-steps: frames per call, summed over calls
}

// unetCounter counts the frames the UNet denoises, call by call: the
// cost that dominates with real weights (segment-amodal.md D), which the
// tiny engines do not show in wall time.
type unetCounter struct {
	engine.Engine
	frames *atomic.Int64
}

func (u unetCounter) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	if t, ok := in["sample"]; ok && len(t.Shape()) == 5 {
		u.frames.Add(t.Shape()[1])
	}
	return u.Engine.Run(ctx, in)
}

func run(ctx context.Context, clip, maskDir, modelDir string, threads int, base amodal.Options, fastSteps int) error {
	tmp, err := os.MkdirTemp("", "body4d-amodalfast-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	frames, err := video.ImportFile(ctx, clip, video.Options{}, filepath.Join(tmp, "frames"), video.StoreOptions{})
	if err != nil {
		return err
	}
	defer frames.Close()
	info := frames.Info()
	people, err := masks.OpenFolder(maskDir, info)
	if err != nil {
		return err
	}
	dir, err := models.Open(modelDir)
	if err != nil {
		return err
	}
	rt, err := ort.Open(ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer rt.Close()

	variants := []variant{
		{fmt.Sprintf("full, %d steps", base.Steps), nil},
		{fmt.Sprintf("fast: skip, %d steps", base.Steps), &amodal.FastOptions{Steps: base.Steps}},
		{fmt.Sprintf("fast: no skip, %d steps", fastSteps), &amodal.FastOptions{Steps: fastSteps, NoSkip: true}},
		{fmt.Sprintf("fast: skip, %d steps", fastSteps), &amodal.FastOptions{Steps: fastSteps}},
	}
	fmt.Printf("clip %s: %d frames %dx%d, %d people; models %s; amodal %dx%d, window %d\n",
		filepath.Base(clip), info.Frames, info.Width, info.Height, len(people.People()), dir.Manifest.Name, base.Width, base.Height, base.Window)
	if dir.Manifest.Name == "tiny" {
		fmt.Println("tiny random-weight models: the masks and frames are meaningless; the IoU below measures the plumbing, not quality")
	}
	outs := make([]outcome, len(variants))
	for i, v := range variants {
		opts := base
		opts.Dir = filepath.Join(tmp, fmt.Sprint("work", i))
		opts.Fast = v.fast
		var t0 time.Time
		var depth time.Duration
		opts.Progress = func(done, total int) {
			if done == info.Frames { // depth comes first, one step a frame
				depth = time.Since(t0)
			}
		}
		var unetFrames atomic.Int64
		load := func(path string) (engine.Engine, error) {
			e, err := rt.Load(path)
			if err == nil && strings.Contains(filepath.Base(path), "unet") {
				e = unetCounter{e, &unetFrames}
			}
			return e, err
		}
		c, err := amodal.Open(dir, load, opts)
		if err != nil {
			return err
		}
		t0 = time.Now()
		res, err := c.Complete(ctx, frames, people)
		wall := time.Since(t0)
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		defer res.Close()
		outs[i] = outcome{res, wall, depth, unetFrames.Load()}
	}

	full := outs[0]
	fmt.Printf("\n%-26s %9s %9s %9s %13s %8s %12s %12s %s\n", "run", "wall", "(depth)", "speed-up", "UNet fr-steps", "skipped", "mask IoU", "worst IoU", "completed frames: both / only full / only this, mean |diff| on both")
	for i, v := range variants {
		o := outs[i]
		skipped, windows := 0, 0
		for _, w := range o.res.Windows {
			if !w.Absent {
				windows++
			}
			if w.Skipped {
				skipped++
			}
		}
		cmp, err := compare(full.res, o.res, info)
		if err != nil {
			return err
		}
		fmt.Printf("%-26s %8.2fs %8.2fs %8.2fx %6d %5.2fx %4d/%-3d %12.4f %12.4f %d / %d / %d, %.2f\n", v.name, o.wall.Seconds(), o.depth.Seconds(), full.wall.Seconds()/o.wall.Seconds(),
			o.unetFrames, float64(full.unetFrames)/float64(o.unetFrames),
			skipped, windows, cmp.meanIoU(), cmp.worst, cmp.both, cmp.onlyA, cmp.onlyB, cmp.meanDiff())
	}

	fmt.Printf("\nper person-window (the fast runs' in-view decision; IoU of the hand-off against the full run, mean/worst over present frames):\n")
	for k, w := range full.res.Windows {
		if w.Absent {
			fmt.Printf("  person %d frames %d-%d: absent, nothing runs in any mode\n", w.Person, w.Start, w.Start+w.Frames-1)
			continue
		}
		line := fmt.Sprintf("  person %d frames %d-%d: full occluded=%v", w.Person, w.Start, w.Start+w.Frames-1, w.Occluded)
		if w.Occluded {
			line += fmt.Sprintf(" span %d-%d", w.Span.Start, w.Span.End)
		}
		fmt.Println(line)
		for i := 1; i < len(variants); i++ {
			fw := outs[i].res.Windows[k]
			why := "skipped"
			if !fw.Skipped {
				why = "ran"
				if fw.NotSkipped != "" {
					why += " (" + fw.NotSkipped + ")"
				}
			}
			cmp, err := compareWindow(full.res, outs[i].res, info, w)
			if err != nil {
				return err
			}
			fmt.Printf("    %-26s IoU %.4f / %.4f; %s\n", variants[i].name, cmp.meanIoU(), cmp.worst, why)
		}
	}
	return nil
}

type comparison struct {
	sumIoU, worst      float64
	frames             int
	both, onlyA, onlyB int
	sumDiff            float64
	diffPix            int
}

func (c comparison) meanIoU() float64 {
	if c.frames == 0 {
		return math.NaN()
	}
	return c.sumIoU / float64(c.frames)
}

func (c comparison) meanDiff() float64 {
	if c.diffPix == 0 {
		return math.NaN()
	}
	return c.sumDiff / float64(c.diffPix)
}

func compare(a, b *amodal.Result, info scene.VideoInfo) (comparison, error) {
	c := comparison{worst: 1}
	for _, w := range a.Windows {
		if err := c.add(a, b, info, w); err != nil {
			return c, err
		}
	}
	return c, nil
}

func compareWindow(a, b *amodal.Result, info scene.VideoInfo, w amodal.WindowReport) (comparison, error) {
	c := comparison{worst: 1}
	return c, c.add(a, b, info, w)
}

// add compares the hand-off of a person-window: masks by IoU (two empty
// masks count 1), completed frames by mean absolute byte difference.
func (c *comparison) add(a, b *amodal.Result, info scene.VideoInfo, w amodal.WindowReport) error {
	for f := w.Start; f < w.Start+w.Frames; f++ {
		ma, err := a.Masks.Mask(f, w.Person)
		if err != nil {
			return err
		}
		mb, err := b.Masks.Mask(f, w.Person)
		if err != nil {
			return err
		}
		if ma == nil && mb == nil {
			continue
		}
		if (ma == nil) != (mb == nil) {
			return fmt.Errorf("person %d frame %d: present in one run only", w.Person, f)
		}
		iou, err := scene.IoU(ma, mb)
		if err != nil {
			return fmt.Errorf("person %d frame %d: %w", w.Person, f, err)
		}
		c.sumIoU += iou
		c.worst = min(c.worst, iou)
		c.frames++
		ia, err := a.Images(w.Person, f)
		if err != nil {
			return err
		}
		ib, err := b.Images(w.Person, f)
		if err != nil {
			return err
		}
		switch {
		case ia != nil && ib != nil:
			c.both++
			for i := range ia.Pix[:3*info.Width*info.Height] {
				c.sumDiff += math.Abs(float64(ia.Pix[i]) - float64(ib.Pix[i]))
			}
			c.diffPix += 3 * info.Width * info.Height
		case ia != nil:
			c.onlyA++
		case ib != nil:
			c.onlyB++
		}
	}
	return nil
}
