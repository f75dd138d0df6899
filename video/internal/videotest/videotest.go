// Package videotest holds what the tests of package video and of its
// encoders share: synthetic frames, picture comparison, and the checks
// every encoder must pass. It does not import package video, so that
// video's own tests can use it.
package videotest

import (
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

// Writer is an encoder as package video defines it.
type Writer interface {
	Write(*scene.RGB) error
	Close() error
}

// Frame draws frame t of a w×h clip with smooth gradients and a moving
// disc, the kind of content H.264 keeps at high PSNR.
func Frame(w, h, t int) *scene.RGB {
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

// ReadAll reads frames from next until io.EOF.
func ReadAll(tb testing.TB, next func() (*scene.RGB, error)) []*scene.RGB {
	tb.Helper()
	var frames []*scene.RGB
	for {
		img, err := next()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, img)
	}
}

// PSNR returns the peak signal-to-noise ratio of b against a over a's
// bounds (b may be larger, as after even-size padding); +Inf when equal.
func PSNR(a, b *scene.RGB) float64 {
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

// DirNames lists the names in dir.
func DirNames(tb testing.TB, dir string) []string {
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

// EncodeFailure writes frames to a fresh encoder from create (cancelling
// its context after the frames when cancel is set) and checks that the
// encode fails with an error naming the output path and saying want, and
// that nothing is left in the output's folder.
func EncodeFailure(t *testing.T, create func(ctx context.Context, path string) (Writer, error),
	frames []*scene.RGB, cancel bool, want string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.mp4")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	enc, err := create(ctx, path)
	if err == nil {
		for _, f := range frames {
			if err = enc.Write(f); err != nil {
				break
			}
		}
		if cancel {
			stop()
		}
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s and saying %q", err, path, want)
	}
	if names := DirNames(t, dir); len(names) != 0 {
		t.Errorf("failed encode left %v behind", names)
	}
}

// BenchEncode runs an encoder from create over n synthetic frames per
// iteration at each size, reporting frames/s.
func BenchEncode(b *testing.B, sizes []image.Point, n int, create func(path string) (Writer, error)) {
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("%dx%d", sz.X, sz.Y), func(b *testing.B) {
			frames := make([]*scene.RGB, n)
			for i := range frames {
				frames[i] = Frame(sz.X, sz.Y, i)
			}
			path := filepath.Join(b.TempDir(), "bench.mp4")
			done := 0
			for b.Loop() {
				enc, err := create(path)
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range frames {
					if err := enc.Write(f); err != nil {
						b.Fatal(err)
					}
					done++
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
