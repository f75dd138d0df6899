package amodal

import (
	"context"
	"image"
	"testing"

	"github.com/body4d/body4d/scene"
)

// sampleLike is the shipped sample's shape: 90 frames of 640×360 with
// three people (two crossing, one leaving the frame at 50).
func sampleLike() (testVideo, boxMasks) {
	v := testVideo{w: 640, h: 360, n: 90}
	m := boxMasks{w: v.w, h: v.h, boxes: map[scene.PersonID][]*image.Rectangle{}}
	for i := range v.n {
		m.boxes[1] = append(m.boxes[1], rect(60+3*i, 100, 140+3*i, 320))
		m.boxes[2] = append(m.boxes[2], rect(500-3*i, 110, 580-3*i, 330))
		var b *image.Rectangle
		if i < 50 {
			b = rect(560, 90, 620, 300)
		}
		m.boxes[3] = append(m.boxes[3], b)
	}
	return v, m
}

func benchComplete(b *testing.B, opts Options) {
	eng := tinyEngines(b)
	video, masks := sampleLike()
	for range b.N {
		opts.Dir = b.TempDir() // nothing to resume
		c, err := New(eng, opts)
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.Complete(context.Background(), video, masks)
		if err != nil {
			b.Fatal(err)
		}
		res.Close()
	}
}

// BenchmarkCompleteSample runs the whole stage on a sample-sized video
// with the tiny engines: the reference settings, and a fast demo setting.
func BenchmarkCompleteSample(b *testing.B) {
	b.Run("reference", func(b *testing.B) { benchComplete(b, Options{}) })
	b.Run("demo", func(b *testing.B) {
		benchComplete(b, Options{Steps: 4, Height: 128, Width: 256, CompletionHeight: 128, CompletionWidth: 256})
	})
}

// BenchmarkWindow runs one 64-frame window of one person (depth already
// computed) at the reference resolution and steps on the tiny engines.
func BenchmarkWindow(b *testing.B) {
	eng := tinyEngines(b)
	video, masks := sampleLike()
	video.n = 64
	c, err := New(eng, Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	st, err := openStore(c.opts.Dir, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lo, hi, err := c.depth(ctx, video, st, func() {})
	if err != nil {
		b.Fatal(err)
	}
	run := &videoRun{c: c, frames: video, masks: masks, st: st, info: video.Info(), lo: lo, hi: hi}
	modal := make([]*scene.Mask, video.n)
	for i := range modal {
		modal[i], _ = masks.Mask(i, 1)
	}
	b.ResetTimer()
	for range b.N {
		am, err := run.amodalPass(ctx, 1, 0, modal)
		if err != nil {
			b.Fatal(err)
		}
		// Complete the whole window, as if every frame were occluded.
		if err := run.completionPass(ctx, 1, 0, Span{0, video.n - 1}, modal, am.com, func(int, []uint8) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
