package video

import (
	"context"
	"fmt"
	"image"
	"io"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video/internal/videotest"
)

var benchSizes = []image.Point{{640, 360}, {1280, 720}}

const benchFrames = 30

// BenchmarkDecode measures ffmpeg decoding of an H.264 MP4 to rgb24 frames
// in Go memory, reported as frames/s.
func BenchmarkDecode(b *testing.B) {
	tools := requireFFmpeg(b)
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", sz.X, sz.Y), func(b *testing.B) {
			path := tempPath(b, "bench.mp4")
			writeClip(b, tools, path, sz.X, sz.Y, benchFrames, scene.Rational{Num: 30, Den: 1})
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
	videotest.BenchEncode(b, benchSizes, benchFrames, func(path string) (videotest.Writer, error) {
		return Create(context.Background(), path, EncodeOptions{FPS: scene.Rational{Num: 30, Den: 1}, Tools: tools})
	})
}

// BenchmarkRGBToI420 measures the Go colour conversion that feeds the
// in-process encoder.
func BenchmarkRGBToI420(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", sz.X, sz.Y), func(b *testing.B) {
			img := videotest.Frame(sz.X, sz.Y, 0)
			dst := make([]byte, sz.X*sz.Y*3/2)
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
