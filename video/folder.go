package video

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/body4d/body4d/scene"
)

// imageDecoders are the formats an image folder may hold, by extension
// (lower case). Files with other extensions are ignored, so a folder may
// carry notes, masks in a subfolder or a thumbnail database alongside.
var imageDecoders = map[string]struct {
	decode func(io.Reader) (image.Image, error)
	config func(io.Reader) (image.Config, error)
}{
	".png":  {png.Decode, png.DecodeConfig},
	".jpg":  {jpeg.Decode, jpeg.DecodeConfig},
	".jpeg": {jpeg.Decode, jpeg.DecodeConfig},
}

// Folder reads a folder of PNG/JPEG images as a video, one frame per file
// in natural name order ("frame2.png" before "frame10.png").
type Folder struct {
	ctx   context.Context
	dir   string
	files []string
	info  scene.VideoInfo
	next  int
}

// OpenFolder lists dir's images and checks, from their headers, that they
// all have the size of the first; fps is the rate to report (the folder
// has none), 30/1 when zero. Files whose extension is not .png, .jpg or
// .jpeg (any case) are ignored, as are subfolders; an image file that
// cannot be decoded is an error naming it.
func OpenFolder(ctx context.Context, dir string, fps scene.Rational) (*Folder, error) {
	if fps == (scene.Rational{}) {
		fps = scene.Rational{Num: 30, Den: 1}
	}
	if fps.Num <= 0 || fps.Den <= 0 {
		return nil, fmt.Errorf("image folder %s: frame rate %v must be positive", dir, fps)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image folder %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		if _, ok := imageDecoders[strings.ToLower(filepath.Ext(e.Name()))]; ok && !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("image folder %s: zero frames (no .png, .jpg or .jpeg files)", dir)
	}
	sort.Slice(files, func(i, j int) bool { return naturalLess(files[i], files[j]) })
	f := &Folder{ctx: ctx, dir: dir, info: scene.VideoInfo{FPS: fps, Frames: len(files)}}
	for i, name := range files {
		path := filepath.Join(dir, name)
		files[i] = path
		cfg, err := decodeFile(path, true)
		if err != nil {
			return nil, err
		}
		w, h := cfg.Bounds().Dx(), cfg.Bounds().Dy()
		if i == 0 {
			f.info.Width, f.info.Height = w, h
		} else if w != f.info.Width || h != f.info.Height {
			return nil, fmt.Errorf("image folder %s: %s is %dx%d but %s is %dx%d; all frames must have one size",
				dir, name, w, h, filepath.Base(files[0]), f.info.Width, f.info.Height)
		}
	}
	f.files = files
	return f, nil
}

// decodeFile decodes an image file, or only its header when headerOnly
// (the returned image is then empty with the right bounds).
func decodeFile(path string, headerOnly bool) (image.Image, error) {
	dec := imageDecoders[strings.ToLower(filepath.Ext(path))]
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	defer fh.Close()
	if headerOnly {
		cfg, err := dec.config(fh)
		if err != nil {
			return nil, fmt.Errorf("image %s: cannot decode: %w", path, err)
		}
		return image.Rectangle{Max: image.Pt(cfg.Width, cfg.Height)}, nil
	}
	img, err := dec.decode(fh)
	if err != nil {
		return nil, fmt.Errorf("image %s: cannot decode: %w", path, err)
	}
	return img, nil
}

// Info implements Reader.
func (f *Folder) Info() scene.VideoInfo { return f.info }

// Files returns the image paths in frame order.
func (f *Folder) Files() []string { return append([]string(nil), f.files...) }

// Next implements Reader.
func (f *Folder) Next() (*scene.RGB, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, fmt.Errorf("image folder %s: %w", f.dir, err)
	}
	if f.next >= len(f.files) {
		return nil, io.EOF
	}
	path := f.files[f.next]
	img, err := decodeFile(path, false)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Dx() != f.info.Width || b.Dy() != f.info.Height {
		// The header said otherwise; the file changed since OpenFolder.
		return nil, fmt.Errorf("image %s: decoded as %dx%d, want %dx%d", path, b.Dx(), b.Dy(), f.info.Width, f.info.Height)
	}
	f.next++
	return toRGB(img), nil
}

// toRGB converts a decoded image to an RGB frame at the origin. JPEG
// (YCbCr) and opaque PNG (RGBA, Gray) take direct loops, several times
// faster than scene.FromImage's per-pixel interface calls; other models
// go through scene.FromImage, so alpha is handled the same way.
func toRGB(img image.Image) *scene.RGB {
	b := img.Bounds()
	dst := scene.NewRGB(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			d := dst.Pix[(y-b.Min.Y)*dst.Stride:]
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := src.YOffset(x, y), src.COffset(x, y)
				r, g, bb := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				i := 3 * (x - b.Min.X)
				d[i], d[i+1], d[i+2] = r, g, bb
			}
		}
	case *image.RGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, y):]
			d := dst.Pix[(y-b.Min.Y)*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				d[3*x], d[3*x+1], d[3*x+2] = s[4*x], s[4*x+1], s[4*x+2]
			}
		}
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, y):]
			d := dst.Pix[(y-b.Min.Y)*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				d[3*x], d[3*x+1], d[3*x+2] = s[x], s[x], s[x]
			}
		}
	default:
		rgb := scene.FromImage(img)
		for y := 0; y < b.Dy(); y++ {
			copy(dst.Pix[y*dst.Stride:(y+1)*dst.Stride], rgb.Pix[(y)*rgb.Stride:])
		}
	}
	return dst
}

// Close implements Reader.
func (f *Folder) Close() error { return nil }

// naturalLess orders names so that runs of digits compare by value:
// "f2.png" < "f10.png". Equal values with different zero padding fall back
// to plain string order so the order is total.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			continue
		}
		if ca != cb {
			return ca < cb
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
