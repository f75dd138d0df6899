package video

import (
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video/internal/videotest"
)

// writeImage writes a w×h image of one grey level v as PNG or JPEG
// according to name's extension.
func writeImage(t *testing.T, path string, w, h int, v uint8) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(strings.ToLower(path), ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	// Names whose natural order (f1, f2, f10, f11) differs from byte order;
	// grey level encodes the expected position.
	writeImage(t, filepath.Join(dir, "f10.png"), 8, 6, 30)
	writeImage(t, filepath.Join(dir, "f2.JPG"), 8, 6, 20)
	writeImage(t, filepath.Join(dir, "f1.png"), 8, 6, 10)
	writeImage(t, filepath.Join(dir, "f11.jpeg"), 8, 6, 40)
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "sub.png"), 0o755)) // a folder, ignored

	for _, fps := range []scene.Rational{{}, {Num: 30000, Den: 1001}} {
		r, err := Open(context.Background(), dir, Options{FPS: fps})
		if err != nil {
			t.Fatal(err)
		}
		want := fps
		if want == (scene.Rational{}) {
			want = scene.Rational{Num: 30, Den: 1}
		}
		if info := r.Info(); info != (scene.VideoInfo{Width: 8, Height: 6, FPS: want, Frames: 4}) {
			t.Errorf("info = %+v", info)
		}
		frames := videotest.ReadAll(t, r.Next)
		if len(frames) != 4 {
			t.Fatalf("%d frames, want 4", len(frames))
		}
		for i, f := range frames {
			// JPEG at quality 100 keeps a flat grey within ±1.
			if got, want := int(f.RGBAAt(3, 3).R), 10*(i+1); got < want-1 || got > want+1 {
				t.Errorf("frame %d has grey %d, want %d (wrong order?)", i, got, want)
			}
		}
	}
}

func TestFolderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		fps   scene.Rational
		want  []string
	}{
		{"mixed sizes", func(t *testing.T, dir string) {
			writeImage(t, filepath.Join(dir, "a1.png"), 8, 6, 0)
			writeImage(t, filepath.Join(dir, "a2.png"), 8, 6, 0)
			writeImage(t, filepath.Join(dir, "a3.png"), 6, 8, 0)
		}, scene.Rational{}, []string{"a3.png is 6x8", "a1.png is 8x6"}},
		{"undecodable png", func(t *testing.T, dir string) {
			writeImage(t, filepath.Join(dir, "a1.png"), 8, 6, 0)
			must(t, os.WriteFile(filepath.Join(dir, "a2.png"), []byte("not a png"), 0o644))
		}, scene.Rational{}, []string{"a2.png", "cannot decode"}},
		{"no images", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "readme.txt"), nil, 0o644))
		}, scene.Rational{}, []string{"zero frames"}},
		{"negative fps", func(t *testing.T, dir string) {
			writeImage(t, filepath.Join(dir, "a1.png"), 8, 6, 0)
		}, scene.Rational{Num: -1, Den: 1}, []string{"frame rate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, err := Open(context.Background(), dir, Options{FPS: tc.fps})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range append(tc.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestFolderTruncatedImage(t *testing.T) {
	// A PNG whose header is fine but whose data is cut: OpenFolder accepts
	// it (headers only), Next must fail naming it.
	dir := t.TempDir()
	path := filepath.Join(dir, "a1.png")
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	f, err := os.Create(path)
	must(t, err)
	must(t, png.Encode(f, img))
	must(t, f.Close())
	b, err := os.ReadFile(path)
	must(t, err)
	must(t, os.WriteFile(path, b[:len(b)/2], 0o644))
	r, err := OpenFolder(context.Background(), dir, scene.Rational{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Next error = %v, want one naming %s", err, path)
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"f2.png", "f10.png", true},
		{"f10.png", "f2.png", false},
		{"00000009.jpg", "00000010.jpg", true},
		{"a.png", "b.png", true},
		{"f02.png", "f2.png", true}, // same value: byte order decides
		{"f2.png", "f02.png", false},
		{"img1_5.png", "img1_10.png", true},
		{"x.png", "x.png", false},
	} {
		if got := naturalLess(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestToRGB checks the fast conversion paths against scene.FromImage,
// including sub-images whose bounds do not start at the origin.
func TestToRGB(t *testing.T) {
	const w, h = 13, 9
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 37)
		if i%4 == 3 {
			rgba.Pix[i] = 255
		}
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 13)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*29), uint8(255-i*17)
	}
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(i * 11)
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"rgba", rgba}, {"ycbcr", ycc}, {"gray", gray}, {"nrgba", nrgba},
		{"rgba sub", rgba.SubImage(image.Rect(2, 3, 11, 8))},
		{"ycbcr sub", ycc.SubImage(image.Rect(3, 1, 12, 8))},
		{"gray sub", gray.SubImage(image.Rect(1, 1, 5, 5))},
	} {
		got := toRGB(tc.img)
		b := tc.img.Bounds()
		if got.Rect != image.Rect(0, 0, b.Dx(), b.Dy()) {
			t.Errorf("%s: bounds %v, want origin-based %dx%d", tc.name, got.Rect, b.Dx(), b.Dy())
			continue
		}
		want := scene.FromImage(tc.img)
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				if g, w := got.RGBAAt(x, y), want.RGBAAt(b.Min.X+x, b.Min.Y+y); g != w {
					t.Fatalf("%s: pixel (%d,%d) = %v, scene.FromImage gives %v", tc.name, x, y, g, w)
				}
			}
		}
	}
}
