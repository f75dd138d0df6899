package video

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/body4d/body4d/scene"
)

var benchSizes = []struct{ w, h int }{{640, 360}, {1280, 720}}

const benchFrames = 30

// BenchmarkDecode measures ffmpeg decoding of an H.264 MP4 to rgb24 frames
// in Go memory, reported as frames/s.
func BenchmarkDecode(b *testing.B) {
	tools := requireFFmpeg(b)
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			path := tempPath(b, "bench.mp4")
			writeClip(b, tools, path, sz.w, sz.h, benchFrames, scene.Rational{Num: 30, Den: 1})
			b.ResetTimer()
			n := 0
			for b.Loop() {
				dec, err := OpenFile(context.Background(), path, tools)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := dec.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				dec.Close()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// BenchmarkEncode measures the ffmpeg encoder (libx264 preset medium,
// CRF 18) from Go frames to a finished MP4, reported as frames/s.
func BenchmarkEncode(b *testing.B) {
	tools := requireFFmpeg(b)
	benchEncode(b, func(path string) (Writer, error) {
		return Create(context.Background(), path, EncodeOptions{FPS: scene.Rational{Num: 30, Den: 1}, Tools: tools})
	})
}

// benchEncode runs an encoder over benchFrames synthetic frames per
// iteration at each benchmark size.
func benchEncode(b *testing.B, create func(path string) (Writer, error)) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			frames := make([]*scene.RGB, benchFrames)
			for i := range frames {
				frames[i] = synthFrame(sz.w, sz.h, i)
			}
			path := tempPath(b, "bench.mp4")
			b.ResetTimer()
			n := 0
			for b.Loop() {
				enc, err := create(path)
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range frames {
					if err := enc.Write(f); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// BenchmarkRGBToI420 measures the Go colour conversion that feeds the
// in-process encoder.
func BenchmarkRGBToI420(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			img := synthFrame(sz.w, sz.h, 0)
			dst := make([]byte, sz.w*sz.h*3/2)
			n := 0
			for b.Loop() {
				if err := RGBToI420(img, dst); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
