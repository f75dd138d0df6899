package video

import (
	"context"
	"errors"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video/internal/videotest"
)

// TestRoundTrip decodes the shipped clip, encodes it, decodes the result:
// same frame count, the exact 30000/1001 rate (the reference truncates to
// 29), and every frame within 38 dB PSNR of the first decode.
func TestRoundTrip(t *testing.T) {
	tools := requireFFmpeg(t)
	ctx := context.Background()
	dec, err := OpenFile(ctx, sampleClip, tools)
	if err != nil {
		t.Fatal(err)
	}
	want := scene.VideoInfo{Width: 640, Height: 360, FPS: scene.Rational{Num: 30000, Den: 1001}, Frames: 90}
	if got := dec.Info(); got != want {
		t.Fatalf("sample info = %+v, want %+v", got, want)
	}
	src := videotest.ReadAll(t, dec.Next)
	if len(src) != want.Frames {
		t.Fatalf("decoded %d frames, probe said %d", len(src), want.Frames)
	}

	out := tempPath(t, "round.mp4")
	enc, err := Create(ctx, out, EncodeOptions{FPS: dec.Info().FPS, Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range src {
		if err := enc.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if names := videotest.DirNames(t, filepath.Dir(out)); len(names) != 1 || names[0] != "round.mp4" {
		t.Errorf("output folder holds %v, want only round.mp4 (temp file left behind?)", names)
	}
	checkSameVideo(t, tools, out, src, want, 38)
}

// checkSameVideo decodes path and compares it with want frame by frame.
func checkSameVideo(t *testing.T, tools Tools, path string, want []*scene.RGB, info scene.VideoInfo, minPSNR float64) {
	t.Helper()
	dec, err := OpenFile(context.Background(), path, tools)
	if err != nil {
		t.Fatal(err)
	}
	if got := dec.Info(); got != info {
		t.Errorf("%s: info = %+v, want %+v", path, got, info)
	}
	got := videotest.ReadAll(t, dec.Next)
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", path, len(got), len(want))
	}
	lo := math.Inf(1)
	for i := range got {
		p := videotest.PSNR(want[i], got[i])
		lo = min(lo, p)
		if p < minPSNR {
			t.Errorf("%s: frame %d PSNR %.2f dB < %.0f dB", path, i, p, minPSNR)
		}
	}
	t.Logf("%s: %d frames at %v fps, min PSNR %.2f dB", filepath.Base(path), len(got), info.FPS, lo)
}

// TestOddSizePadded checks the even-size rule: an odd-sized video is
// written one pixel larger with the last column/row repeated.
func TestOddSizePadded(t *testing.T) {
	tools := requireFFmpeg(t)
	out := tempPath(t, "odd.mp4")
	writeClip(t, tools, out, 161, 91, 3, scene.Rational{Num: 24, Den: 1})
	dec, err := OpenFile(context.Background(), out, tools)
	if err != nil {
		t.Fatal(err)
	}
	if info := dec.Info(); info.Width != 162 || info.Height != 92 {
		t.Fatalf("odd 161x91 video decoded as %dx%d, want 162x92", info.Width, info.Height)
	}
	got := videotest.ReadAll(t, dec.Next)
	if p := videotest.PSNR(videotest.Frame(161, 91, 0), got[0]); p < 30 {
		t.Errorf("padded frame content PSNR %.1f dB, want ≥ 30", p)
	}
}

func TestOpenErrors(t *testing.T) {
	tools := requireFFmpeg(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.mp4")
	corrupt := filepath.Join(dir, "corrupt.mp4")
	text := filepath.Join(dir, "notes.mp4")
	audio := filepath.Join(dir, "audio.mp4")
	zero := filepath.Join(dir, "zero.mp4")
	must(t, os.WriteFile(empty, nil, 0o644))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/13)
	}
	must(t, os.WriteFile(corrupt, garbage, 0o644))
	must(t, os.WriteFile(text, []byte("this is not a video\n"), 0o644))
	ffmpegMake(t, tools, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.5", "-c:a", "aac", audio)
	ffmpegMake(t, tools, "-f", "lavfi", "-i", "color=c=red:s=64x48:r=30", "-frames:v", "0", "-c:v", "libx264", zero)

	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.mp4"), "no such file"},
		{"empty file", empty, "not a readable video"},
		{"corrupt file", corrupt, "not a readable video"},
		{"text file", text, "not a readable video"},
		{"audio only", audio, "no video stream"},
		{"zero frames", zero, "no video stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(context.Background(), tc.path, Options{Tools: tools})
			if err == nil {
				r.Close()
				t.Fatalf("Open(%s) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name %s and say %q", err, tc.path, tc.want)
			}
		})
	}
}

// TestTruncatedFile cuts the sample clip in half: it opens (the index is
// at the front), but reading must fail naming the file instead of quietly
// ending early.
func TestTruncatedFile(t *testing.T) {
	tools := requireFFmpeg(t)
	b, err := os.ReadFile(sampleClip)
	must(t, err)
	path := tempPath(t, "half.mp4")
	must(t, os.WriteFile(path, b[:len(b)/2], 0o644))
	dec, err := OpenFile(context.Background(), path, tools)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	n := 0
	for {
		_, err = dec.Next()
		if err != nil {
			break
		}
		n++
	}
	if err == io.EOF || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("after %d frames: error %v, want one naming %s as truncated", n, err, path)
	}
	t.Log(err)
}

// TestMissingFFmpeg points BODY4D_FFMPEG at a path that does not exist:
// the error must say how to fix it, for both decoding and encoding.
func TestMissingFFmpeg(t *testing.T) {
	t.Setenv("BODY4D_FFMPEG", filepath.Join(t.TempDir(), "no-ffmpeg"))
	_, err := Open(context.Background(), sampleClip, Options{})
	if !errors.Is(err, ErrFFmpegNotFound) || !strings.Contains(err.Error(), "BODY4D_FFMPEG") {
		t.Errorf("Open error = %v, want ErrFFmpegNotFound naming BODY4D_FFMPEG", err)
	}
	_, err = Create(context.Background(), tempPath(t, "x.mp4"), EncodeOptions{FPS: scene.Rational{Num: 30, Den: 1}})
	if !errors.Is(err, ErrFFmpegNotFound) {
		t.Errorf("Create error = %v, want ErrFFmpegNotFound", err)
	}
}

func TestDecodeCancel(t *testing.T) {
	tools := requireFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dec, err := OpenFile(ctx, sampleClip, tools)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if _, err := dec.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for i := 0; ; i++ { // frames already in the pipe may still arrive
		_, err := dec.Next()
		if err == nil && i < 90 {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("after cancel: Next error = %v, want context.Canceled", err)
		}
		break
	}
}

func TestEncodeErrors(t *testing.T) {
	tools := requireFFmpeg(t)
	fps := scene.Rational{Num: 30, Den: 1}
	frame := func(w, h int) *scene.RGB { return videotest.Frame(w, h, 0) }
	for _, tc := range []struct {
		name   string
		opt    EncodeOptions
		frames []*scene.RGB
		cancel bool // cancel the context before Close
		want   string
	}{
		{"zero fps", EncodeOptions{}, nil, false, "frame rate"},
		{"bad crf", EncodeOptions{FPS: fps, CRF: 60}, nil, false, "CRF 60"},
		{"no frames", EncodeOptions{FPS: fps}, nil, false, "no frames"},
		{"size change", EncodeOptions{FPS: fps}, []*scene.RGB{frame(64, 48), frame(64, 48), frame(32, 48)}, false, "frame 2 is 32x48, but the video is 64x48"},
		{"cancelled", EncodeOptions{FPS: fps}, []*scene.RGB{frame(64, 48), frame(64, 48)}, true, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Tools = tools
			videotest.EncodeFailure(t, func(ctx context.Context, path string) (videotest.Writer, error) {
				return Create(ctx, path, tc.opt)
			}, tc.frames, tc.cancel, tc.want)
		})
	}
}

func TestRotation(t *testing.T) {
	tools := requireFFmpeg(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.mp4")
	rot := filepath.Join(dir, "rot.mp4")
	writeClip(t, tools, src, 64, 32, 2, scene.Rational{Num: 25, Den: 1})
	// ffmpeg 5.1 turns the legacy rotate tag into a display matrix.
	ffmpegMake(t, tools, "-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", rot)
	p, err := ProbeFile(context.Background(), rot, tools)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rotation%180 != 90 || p.Width != 32 || p.Height != 64 {
		t.Fatalf("rotated probe: rotation %d, %dx%d; want ±90 and 32x64", p.Rotation, p.Width, p.Height)
	}
	frames := videotest.ReadAll(t, mustOpen(t, rot, tools).Next)
	if b := frames[0].Rect; b.Dx() != 32 || b.Dy() != 64 {
		t.Errorf("rotated frame is %v, want 32x64", b)
	}
}

func mustOpen(t *testing.T, path string, tools Tools) Reader {
	r, err := Open(context.Background(), path, Options{Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPadEven(t *testing.T) {
	src := videotest.Frame(3, 3, 0)
	dst := PadEven(src)
	if dst.Rect != image.Rect(0, 0, 4, 4) {
		t.Fatalf("PadEven 3x3 → %v", dst.Rect)
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			if got, want := dst.RGBAAt(x, y), src.RGBAAt(min(x, 2), min(y, 2)); got != want {
				t.Errorf("(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	if even := videotest.Frame(4, 2, 0); PadEven(even) != even {
		t.Error("PadEven copied an even-sized frame")
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want scene.Rational
		ok   bool
	}{
		{"30000/1001", scene.Rational{Num: 30000, Den: 1001}, true},
		{"60/2", scene.Rational{Num: 30, Den: 1}, true},
		{"25", scene.Rational{Num: 25, Den: 1}, true},
		{"0/0", scene.Rational{}, false},
		{"x/1", scene.Rational{}, false},
	} {
		got, err := parseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseRate: no rate string panics, and an accepted rate is positive
// and reduced.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"30000/1001", "60/2", "25", "0/0", "/", "-1/-1", "9223372036854775807/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRate(s)
		if err != nil {
			return
		}
		if r.Num <= 0 || r.Den <= 0 || gcd(r.Num, r.Den) != 1 {
			t.Fatalf("parseRate(%q) accepted %v", s, r)
		}
	})
}

func TestRotationAngle(t *testing.T) {
	for _, tc := range []struct {
		name string
		tag  string
		side float64 // counter-clockwise display-matrix angle; 0: none
		want int
	}{
		{"none", "", 0, 0},
		{"tag 90", "90", 0, 90},
		{"tag -90", "-90", 0, 270},
		{"tag 450", "450", 0, 90},
		{"tag junk", "x", 0, 0},
		{"matrix -90 is 90 clockwise", "", -90, 90},
		{"matrix 90", "", 90, 270},
		{"matrix with rounding", "", -89.99, 90},
		{"matrix 180", "", 180, 180},
		{"matrix wins over tag", "180", -90, 90},
		{"odd angle rounds to a quarter turn", "", -30, 0},
	} {
		var sd []sideData
		if tc.side != 0 {
			sd = []sideData{{Rotation: &tc.side}}
		}
		if got := rotation(tc.tag, sd); got != tc.want {
			t.Errorf("%s: rotation(%q, %v) = %d, want %d", tc.name, tc.tag, tc.side, got, tc.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
