// Command golf runs the whole body4d pipeline through the SDK: it tracks
// the clicked people in a video, recovers occluded parts, estimates the
// camera, recovers and smooths their bodies, and writes the video with
// the meshes drawn over it.
//
//	go run ./examples/golf                                   # built-in clip and tiny models
//	go run ./examples/golf -video swing.mp4 -click 420,310 -models MODELS
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/amodal"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/render"
	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/segment"
	"github.com/body4d/body4d/smooth"
	"github.com/body4d/body4d/video"
)

func main() {
	sampleDir, err := job.SampleDir()
	if err != nil {
		log.Fatal(err)
	}
	clip := flag.String("video", filepath.Join(sampleDir, "clip", sample.Clip), "video file")
	click := flag.String("click", "90,175", "a click X,Y on the golfer in frame 0 (pixels)")
	modelDir := flag.String("models", filepath.Join(sampleDir, "models", "tiny"), "model directory (default: tiny random-weight models)")
	out := flag.String("out", filepath.Join("out", "golf"), "output folder")
	flag.Parse()
	if err := run(context.Background(), *clip, *click, *modelDir, *out); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, clip, click, modelDir, out string) error {
	xs, ys, ok := strings.Cut(click, ",")
	x, errX := strconv.ParseFloat(xs, 64)
	y, errY := strconv.ParseFloat(ys, 64)
	if !ok || errX != nil || errY != nil {
		return fmt.Errorf("-click %q: want X,Y", click)
	}
	prompts := body4d.Prompts{Clicks: []body4d.Click{{Frame: 0, X: x, Y: y, Person: 1}}}

	// Frames go to an on-disk store once; every stage reads from it.
	os.RemoveAll(filepath.Join(out, "frames"))
	frames, err := video.ImportFile(ctx, clip, video.Options{}, filepath.Join(out, "frames"), video.StoreOptions{})
	if err != nil {
		return err
	}
	defer frames.Close()

	// Each stage opens its engines from the model directory.
	dir, err := models.Open(modelDir)
	if err != nil {
		return err
	}
	rt, err := ort.Open(ort.Options{}) // the library ort.FindLibrary finds
	if err != nil {
		return err
	}
	defer rt.Close()
	tracker, err := segment.Open(dir, rt.Load, segment.Options{Dir: filepath.Join(out, "segment")})
	if err != nil {
		return err
	}
	defer tracker.Close()
	completer, err := amodal.Open(dir, rt.Load, amodal.Options{Dir: filepath.Join(out, "amodal"), Steps: 4, Height: 128, Width: 256, CompletionHeight: 128, CompletionWidth: 256})
	if err != nil {
		return err
	}
	defer completer.Close()
	mogePath, err := dir.EnginePath("fov", "moge")
	if err != nil {
		return err
	}
	moge, err := rt.Load(mogePath)
	if err != nil {
		return err
	}
	defer moge.Close()
	camera, err := fov.New(moge, fov.Options{})
	if err != nil {
		return err
	}
	recoverer, err := mesh.Open(dir, rt.Load, mesh.Options{MaxBatch: 8})
	if err != nil {
		return err
	}
	defer recoverer.Close()

	p := &body4d.Pipeline{
		Segmenter: tracker, Amodal: amodal.PipelineStage{C: completer}, Camera: camera, Mesh: recoverer,
		Smoother: smooth.Options{Mode: smooth.Kalman, CamT: true},
	}
	res, err := p.Run(ctx, frames, prompts)
	if err != nil {
		return err
	}

	// Draw each frame's meshes over it and encode the MP4.
	rend, err := render.New(render.Options{Opacity: 0.85})
	if err != nil {
		return err
	}
	// Cancelling the encoder's context on an error leaves no partial file.
	encCtx, abort := context.WithCancel(ctx)
	defer abort()
	enc, err := video.Create(encCtx, filepath.Join(out, "golf.mp4"), video.EncodeOptions{FPS: frames.Info().FPS})
	if err != nil {
		return err
	}
	body := recoverer.Body()
	for i := range frames.Info().Frames {
		src, err := frames.Frame(i)
		if err != nil {
			return err
		}
		img := &body4d.RGB{Pix: append([]byte(nil), src.Pix...), Stride: src.Stride, Rect: src.Rect}
		var items []render.Item
		for _, tr := range res.Tracks {
			if k := i - tr.Start; k >= 0 && k < len(tr.Params) && tr.Present[k] {
				m, err := body.Mesh(tr.Params[k])
				if err != nil {
					return err
				}
				items = append(items, render.Item{Person: tr.ID, Mesh: m})
			}
		}
		if err := rend.Render(img, items, res.Cameras[i]); err != nil {
			return err
		}
		if err := enc.Write(img); err != nil {
			return err
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	fmt.Println("wrote", filepath.Join(out, "golf.mp4"))
	return nil
}
