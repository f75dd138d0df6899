package masks

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

type memMasks map[int]map[scene.PersonID]*scene.Mask

func (m memMasks) People() []scene.PersonID { return []scene.PersonID{1, 3} }
func (m memMasks) Mask(f int, id scene.PersonID) (*scene.Mask, error) {
	return m[f][id], nil
}

func grey(id scene.PersonID) color.Color { return color.Gray{Y: uint8(60 * id)} }

func TestRoundTrip(t *testing.T) {
	const w, h = 5, 4
	info := scene.VideoInfo{Width: w, Height: h, Frames: 3}
	a, b := scene.NewMask(w, h), scene.NewMask(w, h)
	a.Pix[0], a.Pix[6] = 1, 1
	b.Pix[19] = 1
	src := memMasks{0: {1: a, 3: b}, 2: {3: b}}
	dir := t.TempDir()
	if err := Write(dir, src, 3, grey); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName(1))); err == nil {
		t.Error("frame 1 has no one on it but got a file")
	}
	f, err := OpenFolder(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.People(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("People() = %v, want [1 3]", got)
	}
	for fr := range 3 {
		for _, id := range []scene.PersonID{1, 2, 3} {
			got, err := f.Mask(fr, id)
			if err != nil {
				t.Fatal(err)
			}
			want := src[fr][id]
			if (got == nil) != (want == nil) {
				t.Fatalf("frame %d person %d: got %v, want %v", fr, id, got, want)
			}
			if got != nil && string(got.Pix) != string(want.Pix) {
				t.Errorf("frame %d person %d: %v, want %v", fr, id, got.Pix, want.Pix)
			}
		}
	}
}

func writeLabels(t *testing.T, path string, img image.Image) {
	t.Helper()
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := png.Encode(w, img); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFolderErrors(t *testing.T) {
	info := scene.VideoInfo{Width: 4, Height: 2, Frames: 10}
	lab := image.NewGray(image.Rect(0, 0, 4, 2))
	lab.Pix[3] = 2
	for _, tc := range []struct {
		name  string
		files map[string]image.Image
		want  string
	}{
		{"empty folder", nil, "holds no label images"},
		{"bad name", map[string]image.Image{"frame.png": lab}, "want a frame number"},
		{"beyond video", map[string]image.Image{"000010.png": lab}, "frame 10 does not exist"},
		{"duplicate", map[string]image.Image{"1.png": lab, "001.png": lab}, "are both frame 1"},
		{"wrong size", map[string]image.Image{"0.png": image.NewGray(image.Rect(0, 0, 3, 2))}, "is 3x2, the video is 4x2"},
		{"colour", map[string]image.Image{"0.png": image.NewRGBA(image.Rect(0, 0, 4, 2))}, "want 8-bit grey or paletted"},
		{"all empty", map[string]image.Image{"0.png": image.NewGray(image.Rect(0, 0, 4, 2))}, "no person to follow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, img := range tc.files {
				writeLabels(t, filepath.Join(dir, name), img)
			}
			_, err := OpenFolder(dir, info)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := OpenFolder(filepath.Join(t.TempDir(), "missing"), info); err == nil {
		t.Error("a missing folder opened")
	}
}

func TestWriteRejectsBigIDs(t *testing.T) {
	err := Write(t.TempDir(), bigIDs{}, 1, grey)
	if err == nil || !strings.Contains(err.Error(), "person id 300") {
		t.Fatalf("err %v", err)
	}
}

type bigIDs struct{}

func (bigIDs) People() []scene.PersonID                      { return []scene.PersonID{300} }
func (bigIDs) Mask(int, scene.PersonID) (*scene.Mask, error) { return nil, nil }
