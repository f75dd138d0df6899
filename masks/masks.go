// Package masks reads and writes per-frame person masks as label
// images: one 8-bit PNG per frame whose pixel values are person ids (0 is
// background), the format video segmentation tools (DAVIS, SAM-2's
// demos, the reference tool) exchange masks in. A folder of them feeds
// body4d's later stages with masks made elsewhere, and body4d writes its
// own masks the same way.
//
// A label image holds one id per pixel, so where two people's masks
// overlap (amodal masks do) the higher id wins in a written file.
package masks

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/body4d/body4d/scene"
)

// FileName is the name of frame i's label image in a folder.
func FileName(i int) string { return fmt.Sprintf("%06d.png", i) }

// Folder is a folder of label images read as a scene.MaskSource. A frame
// without a file has no one on it. It decodes one frame at a time and
// keeps only the last, so memory does not grow with the video; Mask is
// safe for concurrent use.
type Folder struct {
	dir    string
	info   scene.VideoInfo
	files  map[int]string
	people []scene.PersonID

	mu       sync.Mutex
	cached   int // frame whose labels are in labels; -1 for none
	labels   []uint8
	cacheErr error
}

// OpenFolder opens a folder of label images for a video. File names
// must be a frame number (as FileName writes them: 000012.png is frame
// 12; any zero padding) with extension .png. Every file is checked once
// here — size, format, frame number — so a bad folder fails before any
// work starts, with the file named.
func OpenFolder(dir string, info scene.VideoInfo) (*Folder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("masks: %w", err)
	}
	f := &Folder{dir: dir, info: info, files: map[int]string{}, cached: -1}
	seen := map[scene.PersonID]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		num, ok := strings.CutSuffix(strings.ToLower(name), ".png")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("masks: %s: want a frame number, e.g. %s", path, FileName(12))
		}
		if n >= info.Frames {
			return nil, fmt.Errorf("masks: %s: frame %d does not exist (the video has %d frames)", path, n, info.Frames)
		}
		if prev, dup := f.files[n]; dup {
			return nil, fmt.Errorf("masks: %s and %s are both frame %d", prev, name, n)
		}
		f.files[n] = name
		labels, err := f.read(n)
		if err != nil {
			return nil, err
		}
		for _, v := range labels {
			if v != 0 && !seen[scene.PersonID(v)] {
				seen[scene.PersonID(v)] = true
				f.people = append(f.people, scene.PersonID(v))
			}
		}
	}
	if len(f.files) == 0 {
		return nil, fmt.Errorf("masks: %s holds no label images (want %s, ...)", dir, FileName(0))
	}
	if len(f.people) == 0 {
		return nil, fmt.Errorf("masks: every label image in %s is empty: no person to follow", dir)
	}
	slices.Sort(f.people)
	return f, nil
}

// read decodes frame n's label image.
func (f *Folder) read(n int) ([]uint8, error) {
	path := filepath.Join(f.dir, f.files[n])
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("masks: %w", err)
	}
	defer r.Close()
	img, err := png.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("masks: %s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dx() != f.info.Width || b.Dy() != f.info.Height {
		return nil, fmt.Errorf("masks: %s is %dx%d, the video is %dx%d", path, b.Dx(), b.Dy(), f.info.Width, f.info.Height)
	}
	out := make([]uint8, b.Dx()*b.Dy())
	switch m := img.(type) {
	case *image.Paletted:
		// The index is the label, whatever colour the palette shows.
		for y := range b.Dy() {
			copy(out[y*b.Dx():(y+1)*b.Dx()], m.Pix[y*m.Stride:])
		}
	case *image.Gray:
		for y := range b.Dy() {
			copy(out[y*b.Dx():(y+1)*b.Dx()], m.Pix[y*m.Stride:])
		}
	default:
		return nil, fmt.Errorf("masks: %s is a %T image; want 8-bit grey or paletted labels", path, img)
	}
	return out, nil
}

// People implements scene.MaskSource.
func (f *Folder) People() []scene.PersonID { return slices.Clone(f.people) }

// Mask implements scene.MaskSource: nil when the person is not on the
// frame.
func (f *Folder) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	if frame < 0 || frame >= f.info.Frames {
		return nil, fmt.Errorf("masks: frame %d does not exist (the video has %d frames)", frame, f.info.Frames)
	}
	if _, ok := f.files[frame]; !ok || id < 1 || id > 255 {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cached != frame {
		f.labels, f.cacheErr = f.read(frame)
		f.cached = frame
	}
	if f.cacheErr != nil {
		return nil, f.cacheErr
	}
	m := scene.NewMask(f.info.Width, f.info.Height)
	found := false
	for i, v := range f.labels {
		if v == uint8(id) {
			m.Pix[i] = 1
			found = true
		}
	}
	if !found {
		return nil, nil
	}
	return m, nil
}

// Write writes src's masks of frames [0, frames) into dir as label
// images, with a palette that shows each person in colorOf(id), so the
// files are readable as labels and viewable as pictures. Person ids must
// be 1..255.
func Write(dir string, src scene.MaskSource, frames int, colorOf func(scene.PersonID) color.Color) error {
	people := src.People()
	for _, id := range people {
		if id < 1 || id > 255 {
			return fmt.Errorf("masks: person id %d does not fit an 8-bit label image (1..255)", id)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pal := make(color.Palette, 256)
	pal[0] = color.Gray{}
	for i := 1; i < 256; i++ {
		pal[i] = colorOf(scene.PersonID(i))
	}
	for fr := range frames {
		var img *image.Paletted
		for _, id := range people {
			m, err := src.Mask(fr, id)
			if err != nil {
				return fmt.Errorf("masks: person %d, frame %d: %w", id, fr, err)
			}
			if m == nil {
				continue
			}
			if img == nil {
				img = image.NewPaletted(image.Rect(0, 0, m.W, m.H), pal)
			} else if m.W != img.Rect.Dx() || m.H != img.Rect.Dy() {
				return fmt.Errorf("masks: frame %d: person %d's mask is %dx%d, another's %dx%d", fr, id, m.W, m.H, img.Rect.Dx(), img.Rect.Dy())
			}
			for i, v := range m.Pix {
				if v != 0 {
					img.Pix[i] = uint8(id)
				}
			}
		}
		if img == nil {
			continue // no one on this frame: no file
		}
		if err := writePNG(filepath.Join(dir, FileName(fr)), img); err != nil {
			return err
		}
	}
	return nil
}

func writePNG(path string, img image.Image) error {
	tmp := path + ".tmp"
	w, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = png.Encode(w, img)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return errors.Join(fmt.Errorf("masks: writing %s", path), err)
	}
	return os.Rename(tmp, path)
}
