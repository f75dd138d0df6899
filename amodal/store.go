package amodal

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/body4d/body4d/scene"
)

// store is the stage's part of the work directory:
//
//	<dir>/amodal-<key>/depth/<frame>.f32z  depth at the model size, lossless:
//	    float32 bytes split into four planes, then deflated
//	<dir>/amodal-<key>/depth/range.json    the video's min and max
//	<dir>/amodal-<key>/p<id>-<start>/      one finished window of a person:
//	    meta.json, mask-<frame>.bin (packed amodal masks of the span),
//	    rgb-<frame>.bin (completed frames of the span)
//
// Every file and window directory appears by rename, so a directory
// either is complete or does not exist; a stopped run leaves only
// "*.tmp*" names, which the next run deletes.
type store struct{ root string }

func openStore(dir, key string) (*store, error) {
	root := filepath.Join(dir, "amodal-"+key)
	if err := os.MkdirAll(filepath.Join(root, "depth"), 0o755); err != nil {
		return nil, fmt.Errorf("amodal: work directory: %w", err)
	}
	// Leftovers of a run that stopped mid-write.
	for _, d := range []string{root, filepath.Join(root, "depth")} {
		ents, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("amodal: work directory: %w", err)
		}
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp") {
				if err := os.RemoveAll(filepath.Join(d, e.Name())); err != nil {
					return nil, fmt.Errorf("amodal: work directory: %w", err)
				}
			}
		}
	}
	return &store{root: root}, nil
}

// writeFile writes data to path through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (s *store) depthPath(frame int) string {
	return filepath.Join(s.root, "depth", fmt.Sprintf("%06d.f32z", frame))
}

func (s *store) rangePath() string { return filepath.Join(s.root, "depth", "range.json") }

// depthRange is the video's raw depth range: in range.json when every
// frame is in it, in range-partial.json while the range pass runs (Frames
// says how many it covers, so that a stopped pass resumes).
type depthRange struct {
	Lo, Hi float32
	Frames int `json:",omitempty"`
}

func (s *store) partialRangePath() string {
	return filepath.Join(s.root, "depth", "range-partial.json")
}

func (s *store) loadRange() (depthRange, bool, error) { return s.readRange(s.rangePath()) }

func (s *store) loadPartialRange() (depthRange, bool, error) {
	return s.readRange(s.partialRangePath())
}

func (s *store) savePartialRange(r depthRange) error {
	data, _ := json.Marshal(r)
	return writeFile(s.partialRangePath(), data)
}

func (s *store) readRange(path string) (depthRange, bool, error) {
	var r depthRange
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &r)
	}
	if err != nil {
		return r, false, fmt.Errorf("amodal: depth range: %w", err)
	}
	return r, true, nil
}

func (s *store) saveRange(r depthRange) error {
	data, _ := json.Marshal(r)
	return writeFile(s.rangePath(), data)
}

// saveDepth stores a depth map losslessly. Splitting the float32s into
// byte planes puts the smooth sign/exponent and high mantissa bytes
// together, where deflate finds runs; the reader gets the same bits back,
// so compression cannot move the stage's outputs.
func (s *store) saveDepth(frame int, d []float32) error {
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		return err
	}
	raw := float32Bytes(d)
	plane := make([]byte, len(d))
	for b := range 4 {
		for i := range d {
			plane[i] = raw[4*i+b]
		}
		if _, err := zw.Write(plane); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return writeFile(s.depthPath(frame), buf.Bytes())
}

// loadDepth reads a depth frame; ok is false when it is not there.
func (s *store) loadDepth(frame, n int) (d []float32, ok bool, err error) {
	f, err := os.Open(s.depthPath(frame))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("amodal: depth frame %d: %w", frame, err)
	}
	defer f.Close()
	data := make([]byte, 4*n+1)
	got, err := io.ReadFull(flate.NewReader(bufio.NewReader(f)), data)
	if err != io.ErrUnexpectedEOF || got != 4*n {
		if err == nil || err == io.ErrUnexpectedEOF || err == io.EOF {
			err = fmt.Errorf("holds %d or more bytes, want %d", got, 4*n)
		}
		return nil, false, fmt.Errorf("amodal: depth frame %d in the work directory: %w", frame, err)
	}
	d = make([]float32, n)
	for i := range d {
		d[i] = math.Float32frombits(uint32(data[i]) | uint32(data[n+i])<<8 | uint32(data[2*n+i])<<16 | uint32(data[3*n+i])<<24)
	}
	return d, true, nil
}

// releaseDepth removes the depth maps once every window is finished; the
// range stays, so a later run whose windows are all reusable needs no
// depth, and one that must redo a window recomputes the frames it needs.
func (s *store) releaseDepth() error {
	ents, err := os.ReadDir(filepath.Join(s.root, "depth"))
	if err != nil {
		return fmt.Errorf("amodal: work directory: %w", err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".f32z") {
			if err := os.Remove(filepath.Join(s.root, "depth", e.Name())); err != nil {
				return fmt.Errorf("amodal: work directory: %w", err)
			}
		}
	}
	return nil
}

func float32Bytes(d []float32) []byte {
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// windowMeta describes one person's finished window.
type windowMeta struct {
	Person   scene.PersonID `json:"person"`
	Start    int            `json:"start"`
	MaskHash string         `json:"mask_hash"` // of the modal masks it was computed from
	Present  []bool         `json:"present"`
	Scores   []float64      `json:"scores"`
	Occluded bool           `json:"occluded"`
	Span     Span           `json:"span"` // window-relative, End inclusive
	Fake     []bool         `json:"fake"` // frames whose amodal mask looked like a fake completion
	// Fast mode only: the in-view test passed (no engine ran), or why not.
	Skipped    bool   `json:"skipped,omitempty"`
	NotSkipped string `json:"not_skipped,omitempty"`
	// loaded: read back from the work directory, not computed by this run.
	loaded bool
}

func (s *store) windowDir(id scene.PersonID, start int) string {
	return filepath.Join(s.root, fmt.Sprintf("p%d-%06d", id, start))
}

// loadWindow returns a finished window's meta, or nil when there is none.
func (s *store) loadWindow(id scene.PersonID, start int) (*windowMeta, error) {
	data, err := os.ReadFile(filepath.Join(s.windowDir(id, start), "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var m windowMeta
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("amodal: window of person %d at frame %d: %w", id, start, err)
	}
	return &m, nil
}

// windowWriter collects a window's files in a temporary directory that
// commit renames into place.
type windowWriter struct {
	s     *store
	tmp   string
	final string
}

func (s *store) newWindow(id scene.PersonID, start int) (*windowWriter, error) {
	final := s.windowDir(id, start)
	tmp, err := os.MkdirTemp(s.root, filepath.Base(final)+".tmp")
	if err != nil {
		return nil, fmt.Errorf("amodal: work directory: %w", err)
	}
	return &windowWriter{s: s, tmp: tmp, final: final}, nil
}

func (w *windowWriter) put(name string, data []byte) error {
	return os.WriteFile(filepath.Join(w.tmp, name), data, 0o644)
}

// commit writes meta.json and moves the window into place, replacing a
// stale one.
func (w *windowWriter) commit(m *windowMeta) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := w.put("meta.json", data); err != nil {
		return err
	}
	if err := os.RemoveAll(w.final); err != nil {
		return err
	}
	return os.Rename(w.tmp, w.final)
}

// abort removes the temporary directory (a no-op after commit).
func (w *windowWriter) abort() { os.RemoveAll(w.tmp) }

func maskName(frame int) string { return fmt.Sprintf("mask-%06d.bin", frame) }
func rgbName(frame int) string  { return fmt.Sprintf("rgb-%06d.bin", frame) }

// packMask packs a 0/1 mask eight pixels a byte.
func packMask(m *scene.Mask) []byte {
	b := make([]byte, (len(m.Pix)+7)/8)
	for i, v := range m.Pix {
		if v != 0 {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return b
}

func unpackMask(b []byte, w, h int) (*scene.Mask, error) {
	if len(b) != (w*h+7)/8 {
		return nil, fmt.Errorf("packed mask holds %d bytes, want %d for %dx%d", len(b), (w*h+7)/8, w, h)
	}
	m := scene.NewMask(w, h)
	for i := range m.Pix {
		m.Pix[i] = b[i/8] >> (i % 8) & 1
	}
	return m, nil
}
