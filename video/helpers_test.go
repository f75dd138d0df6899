package video

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video/internal/videotest"
)

const sampleClip = "../sample/clip/sample.mp4"

// requireFFmpeg returns the tools, failing the test with a clear message
// when ffmpeg is missing: CI installs it, so a missing ffmpeg is a broken
// setup, not a reason to pass. BODY4D_SKIP_FFMPEG=1 skips explicitly.
func requireFFmpeg(tb testing.TB) Tools {
	tb.Helper()
	if os.Getenv("BODY4D_SKIP_FFMPEG") == "1" {
		tb.Skip("BODY4D_SKIP_FFMPEG=1: skipping a test that needs ffmpeg")
	}
	t, err := FindTools()
	if err != nil {
		tb.Fatalf("%v\n(run scripts/setup.sh, or set BODY4D_SKIP_FFMPEG=1 to skip ffmpeg tests)", err)
	}
	return t
}

// writeClip encodes n synthetic frames to path with the ffmpeg encoder.
func writeClip(tb testing.TB, tools Tools, path string, w, h, n int, fps scene.Rational) {
	tb.Helper()
	enc, err := Create(context.Background(), path, EncodeOptions{FPS: fps, Tools: tools, Preset: "veryfast"})
	if err != nil {
		tb.Fatal(err)
	}
	for t := 0; t < n; t++ {
		if err := enc.Write(videotest.Frame(w, h, t)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
}

// sliceReader is a Reader over frames in memory; cancel, when set, is
// called before frame cancelAt is returned.
type sliceReader struct {
	info     scene.VideoInfo
	frames   []*scene.RGB
	next     int
	cancelAt int
	cancel   func()
}

func (s *sliceReader) Info() scene.VideoInfo { return s.info }
func (s *sliceReader) Close() error          { return nil }
func (s *sliceReader) Next() (*scene.RGB, error) {
	if s.next >= len(s.frames) {
		return nil, io.EOF
	}
	if s.cancel != nil && s.next == s.cancelAt {
		s.cancel()
	}
	s.next++
	return s.frames[s.next-1], nil
}

func newSliceReader(w, h, n int) *sliceReader {
	r := &sliceReader{info: scene.VideoInfo{Width: w, Height: h, FPS: scene.Rational{Num: 25, Den: 1}, Frames: n}}
	for t := 0; t < n; t++ {
		r.frames = append(r.frames, videotest.Frame(w, h, t))
	}
	return r
}

// ffmpegMake runs ffmpeg to build a test input.
func ffmpegMake(tb testing.TB, tools Tools, args ...string) {
	tb.Helper()
	out, err := exec.Command(tools.FFmpeg, append([]string{"-nostdin", "-v", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

func tempPath(tb testing.TB, name string) string { return filepath.Join(tb.TempDir(), name) }
