// Command track uses the SAM-3 tracker on its own: it follows the people
// clicked on the first frame through a video and writes the video with
// their masks painted over it.
//
//	go run ./examples/track                                  # built-in clip and tiny models
//	go run ./examples/track -video V -click 420,310 -click 600,300 -models MODELS
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

	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/render"
	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/segment"
	"github.com/body4d/body4d/video"
)

// clickFlags collects -click X,Y; the n-th click is person n on frame 0.
type clickFlags []scene.Click

func (c *clickFlags) String() string { return fmt.Sprint(len(*c)) }
func (c *clickFlags) Set(s string) error {
	xs, ys, ok := strings.Cut(s, ",")
	x, errX := strconv.ParseFloat(xs, 64)
	y, errY := strconv.ParseFloat(ys, 64)
	if !ok || errX != nil || errY != nil {
		return fmt.Errorf("want X,Y in pixels, got %q", s)
	}
	*c = append(*c, scene.Click{X: x, Y: y, Person: scene.PersonID(len(*c) + 1)})
	return nil
}

func main() {
	sampleDir, err := job.SampleDir()
	if err != nil {
		log.Fatal(err)
	}
	var clicks clickFlags
	clip := flag.String("video", filepath.Join(sampleDir, "clip", sample.Clip), "video file")
	flag.Var(&clicks, "click", "X,Y of a person on frame 0 (repeat for more people; default: the sample's)")
	modelDir := flag.String("models", filepath.Join(sampleDir, "models", "tiny"), "model directory (default: tiny random-weight models)")
	out := flag.String("out", filepath.Join("out", "track"), "output folder")
	flag.Parse()
	if len(clicks) == 0 {
		clicks = clickFlags{{X: 90, Y: 175, Person: 1}, {X: 520, Y: 172, Person: 2}, {X: 560, Y: 163, Person: 3}}
	}
	if err := run(context.Background(), *clip, clicks, *modelDir, *out); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, clip string, clicks []scene.Click, modelDir, out string) error {
	os.RemoveAll(filepath.Join(out, "frames"))
	frames, err := video.ImportFile(ctx, clip, video.Options{}, filepath.Join(out, "frames"), video.StoreOptions{})
	if err != nil {
		return err
	}
	defer frames.Close()

	dir, err := models.Open(modelDir)
	if err != nil {
		return err
	}
	rt, err := ort.Open(ort.Options{}) // the library ort.FindLibrary finds
	if err != nil {
		return err
	}
	defer rt.Close()
	os.RemoveAll(filepath.Join(out, "masks"))
	tracker, err := segment.Open(dir, rt.Load, segment.Options{Dir: filepath.Join(out, "masks")})
	if err != nil {
		return err
	}
	defer tracker.Close()
	masks, err := tracker.Segment(ctx, frames, scene.Prompts{Clicks: clicks})
	if err != nil {
		return err
	}

	encCtx, abort := context.WithCancel(ctx) // cancelled on error: no partial file
	defer abort()
	path := filepath.Join(out, "track.mp4")
	enc, err := video.Create(encCtx, path, video.EncodeOptions{FPS: frames.Info().FPS})
	if err != nil {
		return err
	}
	for i := range frames.Info().Frames {
		src, err := frames.Frame(i)
		if err != nil {
			return err
		}
		img := &scene.RGB{Pix: append([]byte(nil), src.Pix...), Stride: src.Stride, Rect: src.Rect}
		for _, id := range masks.People() {
			m, err := masks.Mask(i, id) // nil: the person is not in view
			if err != nil {
				return err
			}
			if m != nil {
				paint(img, m, id)
			}
		}
		if err := enc.Write(img); err != nil {
			return err
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}

// paint blends a person's mask into img in the person's colour.
func paint(img *scene.RGB, m *scene.Mask, id scene.PersonID) {
	c, err := render.PersonColor(id)
	if err != nil {
		return
	}
	for y := range m.H {
		for x := range m.W {
			if m.Pix[y*m.W+x] != 0 {
				p := img.Pix[y*img.Stride+3*x:]
				for k, v := range [3]uint8{c.R, c.G, c.B} {
					p[k] = uint8((uint16(p[k]) + uint16(v) + 1) / 2)
				}
			}
		}
	}
}
