package video

import (
	"context"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/scene"
)

const sampleClip = "../testdata/clip/sample.mp4"

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

// synthFrame draws a frame with smooth gradients and a moving disc, the
// kind of content H.264 keeps at high PSNR.
func synthFrame(w, h, t int) *scene.RGB {
	img := scene.NewRGB(image.Rect(0, 0, w, h))
	cx := float64(w) * (0.2 + 0.6*float64(t%30)/30)
	cy, r := float64(h)/2, float64(h)/5
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(255 * x / w)
			img.Pix[i+1] = uint8(255 * y / h)
			img.Pix[i+2] = uint8(128 + 60*math.Sin(float64(x+y+4*t)/40))
			if math.Hypot(float64(x)-cx, float64(y)-cy) < r {
				img.Pix[i], img.Pix[i+1], img.Pix[i+2] = 230, 200, 40
			}
		}
	}
	return img
}

// writeClip encodes n synthetic frames to path with the ffmpeg encoder.
func writeClip(tb testing.TB, tools Tools, path string, w, h, n int, fps scene.Rational) {
	tb.Helper()
	enc, err := Create(context.Background(), path, EncodeOptions{FPS: fps, Tools: tools, Preset: "veryfast"})
	if err != nil {
		tb.Fatal(err)
	}
	for t := 0; t < n; t++ {
		if err := enc.Write(synthFrame(w, h, t)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
}

// readAll decodes every frame of r and closes it.
func readAll(tb testing.TB, r Reader) []*scene.RGB {
	tb.Helper()
	defer r.Close()
	var frames []*scene.RGB
	for {
		img, err := r.Next()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, img)
	}
}

// psnr returns the peak signal-to-noise ratio of b against a over a's
// bounds (b may be larger, as after even-size padding); +Inf when equal.
func psnr(a, b *scene.RGB) float64 {
	var se float64
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		ra := a.Pix[y*a.Stride : y*a.Stride+3*w]
		rb := b.Pix[y*b.Stride : y*b.Stride+3*w]
		for i := range ra {
			d := float64(ra[i]) - float64(rb[i])
			se += d * d
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(3*w*h)))
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
		r.frames = append(r.frames, synthFrame(w, h, t))
	}
	return r
}

// dirNames lists the names in dir.
func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
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
