package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/body4d/body4d/scene"
)

// objOut is one person's output on one frame: what the reference keeps
// per object (pred_masks, obj_ptr, object_score_logits), from which the
// frame-size mask is made on demand.
type objOut struct {
	logits []float32 // low-res mask logits, size², gated
	ptr    []float32 // object pointer, 256
	score  float32   // object score logit
	// placeholder: the person had no prompt on a frame that is a clicked
	// frame for someone else; the reference fills in an empty mask.
	placeholder bool
}

// present reports whether the tracker saw the person on the frame.
func (o *objOut) present() bool { return !o.placeholder && o.score > 0 }

type outKey struct {
	frame  int
	person scene.PersonID
}

// outStore holds every person's output on every tracked frame, in memory
// or as one file per person and frame in a work directory, so that
// memory does not grow with the video when a directory is given.
type outStore struct {
	dir  string
	size int // low-res mask side

	mu  sync.Mutex
	mem map[outKey]*objOut
	on  map[outKey]bool // outputs present in dir
}

// newOutStore returns a store in memory, or in a new subdirectory of dir
// so that sessions sharing a work directory never share files.
func newOutStore(dir string, size int) (*outStore, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("segment: work directory: %w", err)
		}
		sub, err := os.MkdirTemp(dir, "segment-")
		if err != nil {
			return nil, fmt.Errorf("segment: work directory: %w", err)
		}
		dir = sub
	}
	return &outStore{dir: dir, size: size, mem: map[outKey]*objOut{}, on: map[outKey]bool{}}, nil
}

func (s *outStore) path(k outKey) string {
	return filepath.Join(s.dir, fmt.Sprintf("f%06d_p%d.seg", k.frame, k.person))
}

// File layout (little endian): uint32 flags (bit 0: placeholder),
// float32 score, 256 float32 pointer, size² float32 logits.
func (s *outStore) put(k outKey, o *objOut) error {
	if s.dir == "" {
		s.mu.Lock()
		s.mem[k] = o
		s.mu.Unlock()
		return nil
	}
	buf := make([]byte, 8+4*(len(o.ptr)+len(o.logits)))
	var flags uint32
	if o.placeholder {
		flags = 1
	}
	binary.LittleEndian.PutUint32(buf, flags)
	binary.LittleEndian.PutUint32(buf[4:], math.Float32bits(o.score))
	p := buf[8:]
	for _, v := range append(o.ptr, o.logits...) {
		binary.LittleEndian.PutUint32(p, math.Float32bits(v))
		p = p[4:]
	}
	if err := os.WriteFile(s.path(k), buf, 0o644); err != nil {
		return fmt.Errorf("segment: frame %d person %d: %w", k.frame, k.person, err)
	}
	s.mu.Lock()
	s.on[k] = true
	s.mu.Unlock()
	return nil
}

// get returns the output for k, or nil when there is none.
func (s *outStore) get(k outKey) (*objOut, error) {
	if s.dir == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.mem[k], nil
	}
	s.mu.Lock()
	on := s.on[k]
	s.mu.Unlock()
	if !on {
		return nil, nil
	}
	buf, err := os.ReadFile(s.path(k))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("segment: frame %d person %d: output file was removed: %w", k.frame, k.person, err)
		}
		return nil, err
	}
	n := 8 + 4*(hiddenDim+s.size*s.size)
	if len(buf) != n {
		return nil, fmt.Errorf("segment: %s is %d bytes, want %d", s.path(k), len(buf), n)
	}
	o := &objOut{
		placeholder: binary.LittleEndian.Uint32(buf)&1 != 0,
		score:       math.Float32frombits(binary.LittleEndian.Uint32(buf[4:])),
		ptr:         make([]float32, hiddenDim),
		logits:      make([]float32, s.size*s.size),
	}
	p := buf[8:]
	for i := range o.ptr {
		o.ptr[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	p = p[4*hiddenDim:]
	for i := range o.logits {
		o.logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return o, nil
}

// Masks is the tracker's result: each person's mask on each frame,
// made on demand from the stored low-resolution logits (bilinear resize
// to the frame size, then logit > 0, reference notes A.6). It implements
// scene.MaskSource. It reads the session's store, so a later Propagate
// on the same Session updates it. It is safe for concurrent use.
type Masks struct {
	st     *outStore
	people []scene.PersonID
	info   scene.VideoInfo
}

// People returns the tracked people in ascending ID order.
func (m *Masks) People() []scene.PersonID { return append([]scene.PersonID(nil), m.people...) }

func (m *Masks) out(frame int, id scene.PersonID) (*objOut, error) {
	if frame < 0 || frame >= m.info.Frames {
		return nil, fmt.Errorf("segment: frame %d does not exist (video has %d frames)", frame, m.info.Frames)
	}
	known := false
	for _, p := range m.people {
		known = known || p == id
	}
	if !known {
		return nil, fmt.Errorf("segment: person %d is not tracked", id)
	}
	o, err := m.st.get(outKey{frame, id})
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("segment: frame %d was not tracked", frame)
	}
	return o, nil
}

// Mask returns the person's mask on the frame at the video's size, or
// nil with a nil error when the person is absent there: the object score
// says not visible, or the frame is a clicked frame for other people
// only (the reference then has no estimate for this person).
func (m *Masks) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	o, err := m.out(frame, id)
	if err != nil || !o.present() {
		return nil, err
	}
	return thresholdMask(o.logits, m.st.size, m.info.Width, m.info.Height), nil
}

// Score returns the person's object score logit on the frame (> 0:
// visible) and whether the tracker estimated it at all (false on a
// clicked frame where only other people were clicked).
func (m *Masks) Score(frame int, id scene.PersonID) (float32, bool, error) {
	o, err := m.out(frame, id)
	if err != nil {
		return 0, false, err
	}
	return o.score, !o.placeholder, nil
}

// Logits returns a copy of the person's low-resolution mask logits on
// the frame (side LowResSize of the config, gated: −1024 when absent).
func (m *Masks) Logits(frame int, id scene.PersonID) ([]float32, error) {
	o, err := m.out(frame, id)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), o.logits...), nil
}
