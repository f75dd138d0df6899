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
	// mask is the frame-size mask of a present person read back from a
	// work directory, which keeps it instead of logits and pointer.
	mask *scene.Mask
}

// present reports whether the tracker saw the person on the frame.
func (o *objOut) present() bool { return !o.placeholder && o.score > 0 }

type outKey struct {
	frame  int
	person scene.PersonID
}

// outStore holds every person's output on every tracked frame, in memory
// or as one small file per person and frame in a work directory, so that
// memory does not grow with the video when a directory is given. On disk
// only what Masks serves is kept: the flags, the score and the
// frame-resolution mask, run-length encoded (about 1 KB for a person in a
// 640×360 frame instead of 330 KB of float logits and pointer). Nothing
// re-reads the logits or the pointer: the tracker's memory lives in its
// bank, and a resumed run that needs them tracks again.
type outStore struct {
	dir  string
	size int // low-res mask side
	w, h int // frame size

	mu  sync.Mutex
	mem map[outKey]*objOut
	on  map[outKey]bool // outputs present in dir
}

// newOutStore returns a store in memory, or in a new subdirectory of dir
// so that sessions sharing a work directory never share files.
func newOutStore(dir string, size, w, h int) (*outStore, error) {
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
	return &outStore{dir: dir, size: size, w: w, h: h, mem: map[outKey]*objOut{}, on: map[outKey]bool{}}, nil
}

func (s *outStore) path(k outKey) string {
	return filepath.Join(s.dir, fmt.Sprintf("f%06d_p%d.seg", k.frame, k.person))
}

// Record flags.
const (
	recPlaceholder = 1 << iota
	recMask
)

// File layout: uint32 flags (little endian), float32 score bits, then,
// when the person is present, the w×h mask as uvarint run lengths
// alternating 0-runs and 1-runs, starting with a (possibly empty) 0-run.
func (s *outStore) put(k outKey, o *objOut) error {
	if s.dir == "" {
		s.mu.Lock()
		s.mem[k] = o
		s.mu.Unlock()
		return nil
	}
	var flags uint32
	if o.placeholder {
		flags |= recPlaceholder
	}
	buf := make([]byte, 8, 64)
	if o.present() {
		flags |= recMask
		buf = appendRuns(buf, thresholdMask(o.logits, s.size, s.w, s.h).Pix)
	}
	binary.LittleEndian.PutUint32(buf, flags)
	binary.LittleEndian.PutUint32(buf[4:], math.Float32bits(o.score))
	if err := os.WriteFile(s.path(k), buf, 0o644); err != nil {
		return fmt.Errorf("segment: frame %d person %d: %w", k.frame, k.person, err)
	}
	s.mu.Lock()
	s.on[k] = true
	s.mu.Unlock()
	return nil
}

// appendRuns appends pix (0/1 values) as alternating run lengths.
func appendRuns(b []byte, pix []uint8) []byte {
	var cur uint8
	run := uint64(0)
	for _, v := range pix {
		if v != cur {
			b = binary.AppendUvarint(b, run)
			cur, run = v, 0
		}
		run++
	}
	return binary.AppendUvarint(b, run)
}

// readRuns decodes appendRuns' output into pix, which it must fill exactly.
func readRuns(b []byte, pix []uint8) error {
	var cur uint8
	at := 0
	for len(b) > 0 {
		run, n := binary.Uvarint(b)
		if n <= 0 || run > uint64(len(pix)-at) {
			return errors.New("corrupt run-length mask")
		}
		b = b[n:]
		if cur == 1 {
			for i := range int(run) {
				pix[at+i] = 1
			}
		}
		at += int(run)
		cur ^= 1
	}
	if at != len(pix) {
		return fmt.Errorf("run-length mask covers %d pixels, want %d", at, len(pix))
	}
	return nil
}

// get returns the output for k, or nil when there is none. From a work
// directory it has no logits or pointer, only the mask (when present).
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
	if len(buf) < 8 {
		return nil, fmt.Errorf("segment: %s is %d bytes, want at least 8", s.path(k), len(buf))
	}
	flags := binary.LittleEndian.Uint32(buf)
	o := &objOut{
		placeholder: flags&recPlaceholder != 0,
		score:       math.Float32frombits(binary.LittleEndian.Uint32(buf[4:])),
	}
	if flags&recMask != 0 {
		o.mask = scene.NewMask(s.w, s.h)
		if err := readRuns(buf[8:], o.mask.Pix); err != nil {
			return nil, fmt.Errorf("segment: %s: %w", s.path(k), err)
		}
	}
	if o.present() != (o.mask != nil) {
		return nil, fmt.Errorf("segment: %s: mask flag disagrees with the score", s.path(k))
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
	if o.mask != nil {
		return o.mask, nil
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
// Only a tracker without a work directory keeps them; with one it is an
// error (the directory keeps masks only).
func (m *Masks) Logits(frame int, id scene.PersonID) ([]float32, error) {
	o, err := m.out(frame, id)
	if err != nil {
		return nil, err
	}
	if m.st.dir != "" {
		return nil, fmt.Errorf("segment: logits are not kept in a work directory (frame %d person %d)", frame, id)
	}
	return append([]float32(nil), o.logits...), nil
}
