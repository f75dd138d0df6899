//go:build x264

package x264

import (
	"context"
	"encoding/binary"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
	"github.com/body4d/body4d/video/internal/videotest"
)

const sampleClip = "../../sample/clip/sample.mp4"

func requireFFmpeg(tb testing.TB) video.Tools {
	tb.Helper()
	if os.Getenv("BODY4D_SKIP_FFMPEG") == "1" {
		tb.Skip("BODY4D_SKIP_FFMPEG=1: skipping a test that needs ffmpeg")
	}
	t, err := video.FindTools()
	if err != nil {
		tb.Fatalf("%v\n(run scripts/setup.sh, or set BODY4D_SKIP_FFMPEG=1 to skip ffmpeg tests)", err)
	}
	return t
}

func decodeAll(tb testing.TB, path string, tools video.Tools) (scene.VideoInfo, []*scene.RGB) {
	tb.Helper()
	dec, err := video.OpenFile(context.Background(), path, tools)
	if err != nil {
		tb.Fatal(err)
	}
	defer dec.Close()
	return dec.Info(), videotest.ReadAll(tb, dec.Next)
}

// topBoxes lists the top-level MP4 box types of a file.
func topBoxes(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for len(b) >= 8 {
		size := uint64(binary.BigEndian.Uint32(b))
		types = append(types, string(b[4:8]))
		if size == 1 {
			size = binary.BigEndian.Uint64(b[8:])
		}
		if size < 8 || size > uint64(len(b)) {
			t.Fatalf("%s: box %q has size %d, %d bytes left", path, b[4:8], size, len(b))
		}
		b = b[size:]
	}
	return types
}

// TestRoundTrip encodes the decoded sample clip in-process and decodes the
// result with ffmpeg: same count, exact rate, PSNR ≥ 38 dB, faststart.
func TestRoundTrip(t *testing.T) {
	tools := requireFFmpeg(t)
	info, src := decodeAll(t, sampleClip, tools)
	for _, tc := range []struct {
		name string
		crop image.Rectangle // sub-image to encode; odd sizes test padding
	}{
		{"640x360", image.Rect(0, 0, 640, 360)},
		{"odd 301x167", image.Rect(0, 0, 301, 167)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "x264.mp4")
			enc, err := Create(context.Background(), out, video.EncodeOptions{FPS: info.FPS})
			if err != nil {
				t.Fatal(err)
			}
			var want []*scene.RGB
			for _, f := range src {
				sub := crop(f, tc.crop)
				want = append(want, sub)
				if err := enc.Write(sub); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if names := videotest.DirNames(t, dir); len(names) != 1 {
				t.Errorf("output folder holds %v, want only x264.mp4", names)
			}
			if got := strings.Join(topBoxes(t, out), ","); got != "ftyp,moov,mdat" {
				t.Errorf("top-level boxes %s, want ftyp,moov,mdat (faststart)", got)
			}
			gotInfo, got := decodeAll(t, out, tools)
			ew, eh := video.EvenSize(tc.crop.Dx(), tc.crop.Dy())
			if wantInfo := (scene.VideoInfo{Width: ew, Height: eh, FPS: info.FPS, Frames: len(src)}); gotInfo != wantInfo {
				t.Errorf("info %+v, want %+v", gotInfo, wantInfo)
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d frames, want %d", len(got), len(want))
			}
			lo := math.Inf(1)
			for i := range got {
				p := videotest.PSNR(want[i], got[i])
				lo = min(lo, p)
				if p < 38 {
					t.Errorf("frame %d PSNR %.2f dB < 38", i, p)
				}
			}
			st, _ := os.Stat(out)
			t.Logf("%d frames at %v fps, %d bytes, min PSNR %.2f dB", len(got), gotInfo.FPS, st.Size(), lo)
		})
	}
}

func crop(f *scene.RGB, r image.Rectangle) *scene.RGB {
	out := scene.NewRGB(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		copy(out.Pix[y*out.Stride:(y+1)*out.Stride], f.Pix[f.PixOffset(r.Min.X, r.Min.Y+y):])
	}
	return out
}

func TestErrors(t *testing.T) {
	fps := scene.Rational{Num: 30, Den: 1}
	frame := func(w, h int) *scene.RGB { return scene.NewRGB(image.Rect(0, 0, w, h)) }
	for _, tc := range []struct {
		name   string
		opt    video.EncodeOptions
		frames []*scene.RGB
		cancel bool
		want   string
	}{
		{"zero fps", video.EncodeOptions{}, nil, false, "frame rate"},
		{"bad preset", video.EncodeOptions{FPS: fps, Preset: "warp"}, []*scene.RGB{frame(64, 48)}, false, `unknown x264 preset "warp"`},
		{"no frames", video.EncodeOptions{FPS: fps}, nil, false, "no frames"},
		{"size change", video.EncodeOptions{FPS: fps}, []*scene.RGB{frame(64, 48), frame(64, 50)}, false, "frame 1 is 64x50, but the video is 64x48"},
		{"cancelled", video.EncodeOptions{FPS: fps}, []*scene.RGB{frame(64, 48)}, true, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			videotest.EncodeFailure(t, func(ctx context.Context, path string) (videotest.Writer, error) {
				return Create(ctx, path, tc.opt)
			}, tc.frames, tc.cancel, tc.want)
		})
	}
}

// BenchmarkEncodeX264 measures the in-process encoder (preset medium,
// CRF 18, no B-frames) including RGB→I420 and muxing, as frames/s.
func BenchmarkEncodeX264(b *testing.B) {
	videotest.BenchEncode(b, []image.Point{{640, 360}, {1280, 720}}, 30, func(path string) (videotest.Writer, error) {
		return Create(context.Background(), path, video.EncodeOptions{FPS: scene.Rational{Num: 30, Den: 1}})
	})
}
