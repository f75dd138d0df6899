package mesh

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/body4d/body4d/scene"
)

// store keeps one JSON file per frame in the work directory. A file is
// written under a temporary name and renamed, so a crash leaves either
// the whole frame or nothing.
type store struct {
	dir  string
	mode Mode // a frame stored by another mode is recomputed
}

func (s store) init() error {
	if s.dir == "" {
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("mesh: work directory: %w", err)
	}
	return nil
}

func (s store) path(f int) string { return filepath.Join(s.dir, fmt.Sprintf("mesh_%08d.json", f)) }

func (s store) has(f int) bool {
	if s.dir == "" {
		return false
	}
	_, err := os.Stat(s.path(f))
	return err == nil
}

// storedFrame is a frame's file: the result and the window of frames
// whose crops ran as one batch ([start, start+count)). Batch size can
// change an engine's floating-point results, so a window is reused whole
// or recomputed whole, never finished with another batch.
type storedFrame struct {
	*FrameResult
	Window [2]int `json:"window"`
}

// loadWindow returns the stored results of the window starting at frame
// f when every one of its frames is stored for the same people; anything
// else (no file, an unreadable one, other people, a window cut short by
// an interruption) means the frames are recomputed.
func (s store) loadWindow(f int, ids []scene.PersonID) ([]*FrameResult, bool) {
	first, win, ok := s.load(f, ids)
	if !ok || win[0] != f || win[1] < 1 {
		return nil, false
	}
	frs := []*FrameResult{first}
	for g := f + 1; g < f+win[1]; g++ {
		fr, w, ok := s.load(g, ids)
		if !ok || w != win {
			return nil, false
		}
		frs = append(frs, fr)
	}
	return frs, true
}

func (s store) load(f int, ids []scene.PersonID) (*FrameResult, [2]int, bool) {
	if s.dir == "" {
		return nil, [2]int{}, false
	}
	raw, err := os.ReadFile(s.path(f))
	if err != nil {
		return nil, [2]int{}, false
	}
	sf := storedFrame{FrameResult: &FrameResult{}}
	want := ""
	if s.mode == ModeFull {
		want = ModeFull.String()
	}
	if err := json.Unmarshal(raw, &sf); err != nil || sf.Frame != f || sf.Mode != want || len(sf.People) != len(ids) {
		return nil, [2]int{}, false
	}
	for i, p := range sf.People {
		if p.ID != ids[i] {
			return nil, [2]int{}, false
		}
	}
	return sf.FrameResult, sf.Window, true
}

// drop removes the stored frames [from, to) (an incomplete window's).
func (s store) drop(from, to int) error {
	for f := from; f < to; f++ {
		if err := os.Remove(s.path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mesh: %w", err)
		}
	}
	return nil
}

func (s store) save(fr *FrameResult, window [2]int) error {
	if s.dir == "" {
		return nil
	}
	raw, err := json.Marshal(storedFrame{fr, window})
	if err != nil {
		return fmt.Errorf("mesh: frame %d: %w", fr.Frame, err)
	}
	tmp, err := os.CreateTemp(s.dir, ".mesh_*.tmp")
	if err != nil {
		return fmt.Errorf("mesh: frame %d: %w", fr.Frame, err)
	}
	_, err = tmp.Write(raw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(fr.Frame))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("mesh: frame %d: writing %s: %w", fr.Frame, s.path(fr.Frame), err)
	}
	return nil
}

// oomMessages are how the runtimes say they could not allocate: ONNX
// Runtime's BFC arena and CPU allocator, CUDA, cuDNN/cuBLAS, TensorRT and
// the C++ allocator.
var oomMessages = []string{
	"out of memory",
	"failed to allocate memory",
	"bad_alloc",
	"cuda_error_out_of_memory",
	"cudaerrormemoryallocation",
	"cudnn_status_alloc_failed",
	"cublas_status_alloc_failed",
	"insufficient memory",
	"cannot allocate memory",
}

func oomMessage(msg string) bool {
	msg = strings.ToLower(msg)
	return slices.ContainsFunc(oomMessages, func(s string) bool { return strings.Contains(msg, s) })
}
