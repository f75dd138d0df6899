package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/scene"
)

// A Session tracks people through one video interactively, as the
// reference predictor's inference state does: Add prompts, Propagate,
// then Add correction clicks on any frame and Propagate again. A Session
// is not safe for concurrent use.
type Session struct {
	t      *Tracker
	frames scene.FrameSource
	info   scene.VideoInfo
	store  *outStore

	people  []scene.PersonID // tracking order (ascending ID); fixed once tracking started
	started bool
	// oneShot: a single Add and Propagate (Segment), so memories no later
	// frame can read are dropped. An interactive session keeps them all,
	// because a correction round may read any of them.
	oneShot bool

	bank        *bank
	maskmemPos  []float32 // memory position encoding of one object (constant)
	maskmemPosT []float32 // the same, [g²,64]

	// Host-side state reused across frames: the frame resizer, and the
	// image encoder's position map last seen and its memory-attention
	// layout for batch srcPosB.
	rs           *frameResizer
	pos2, srcPos []float32
	srcPosB      int

	pending map[outKey]*objOut // clicked outputs not yet consolidated
	feats   map[int]*features  // image features of clicked frames until preflight
	// cleared marks per-person outputs the reference dropped from its
	// per-object state (_clear_non_cond_mem_around_input, single person
	// only): they no longer feed a correction click back.
	cleared map[int]bool
}

// NewSession starts tracking on a video.
func (t *Tracker) NewSession(frames scene.FrameSource) (*Session, error) {
	info := frames.Info()
	if info.Frames <= 0 {
		return nil, fmt.Errorf("segment: video has %d frames", info.Frames)
	}
	if info.Width <= 0 || info.Height <= 0 {
		return nil, fmt.Errorf("segment: video is %d×%d", info.Width, info.Height)
	}
	st, err := newOutStore(t.opts.Dir, t.cfg.lowResSize(), info.Width, info.Height)
	if err != nil {
		return nil, err
	}
	return &Session{
		t: t, frames: frames, info: info, store: st, bank: newBank(),
		pending: map[outKey]*objOut{}, feats: map[int]*features{}, cleared: map[int]bool{},
	}, nil
}

// Add decodes prompts on their frames without memory, as the reference's
// add_new_points_or_box does (use_prev_mem_frame=False): per person and
// frame, a box (as two points) then the clicks, replacing earlier points
// of that person on that frame; the person's current mask on the frame,
// if any, is fed back as the mask prompt. The frames become conditioning
// frames at the next Propagate. New people cannot be added once tracking
// has started (the reference's rule).
func (s *Session) Add(ctx context.Context, prompts scene.Prompts) error {
	fps, err := groupPrompts(prompts, s.info, s.t.cfg.ImageSize)
	if err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	for _, fp := range fps {
		if !slices.Contains(s.people, fp.person) {
			if s.started {
				return fmt.Errorf("segment: person %d (frame %d): cannot add a person after tracking started; start a new session", fp.person, fp.frame)
			}
		}
	}
	for _, id := range prompts.People() {
		if !slices.Contains(s.people, id) {
			s.people = append(s.people, id)
		}
	}
	slices.Sort(s.people)
	for _, fp := range fps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.click(ctx, &fp); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) click(ctx context.Context, fp *framePrompt) error {
	t := s.t
	f := s.feats[fp.frame]
	if f == nil {
		var err error
		if f, err = s.encode(ctx, fp.frame); err != nil {
			return err
		}
		s.feats[fp.frame] = f
	}
	k := outKey{fp.frame, fp.person}
	var maskIn []float32
	prev := s.pending[k]
	if prev == nil && !s.cleared[fp.frame] {
		var err error
		if prev, err = s.store.get(k); err != nil {
			return err
		}
	}
	if prev != nil {
		maskIn = make([]float32, len(prev.logits))
		for i, v := range prev.logits {
			maskIn[i] = min(max(v, -32), 32)
		}
	}
	feat := make([]float32, len(f.fpn2))
	hw := len(f.fpn2) / hiddenDim
	for c := range hiddenDim {
		for i := range hw {
			feat[c*hw+i] = f.fpn2[c*hw+i] + t.consts.NoMemEmbed[c]
		}
	}
	coords, labels := decoderPoints(fp)
	multimask := fp.numPoints() <= t.cfg.MultimaskMaxPoints
	d, err := t.decode(ctx, fp.frame, f, feat, 1, coords, labels, maskIn, multimask)
	if err != nil {
		return fmt.Errorf("%w (person %d)", err, fp.person)
	}
	s.pending[k] = &objOut{logits: d.logits[0], ptr: d.ptr[0], score: d.score[0]}
	return nil
}

// Propagate consolidates the clicked frames into memory (preflight), then
// tracks every person forward from the first clicked frame to the end of
// the video and backward from it to the start, reusing the clicked
// frames' outputs, as propagate_in_video does in each direction.
func (s *Session) Propagate(ctx context.Context) (*Masks, error) {
	if len(s.people) == 0 {
		return nil, errors.New("segment: no prompts: click at least one point on a person")
	}
	if err := s.preflight(ctx); err != nil {
		return nil, err
	}
	c0 := s.info.Frames
	for f := range s.bank.cond {
		c0 = min(c0, f)
	}
	for t := c0; t < s.info.Frames; t++ {
		if err := s.step(ctx, t, false, c0); err != nil {
			return nil, err
		}
	}
	for t := c0; t >= 0; t-- {
		if err := s.step(ctx, t, true, c0); err != nil {
			return nil, err
		}
	}
	return &Masks{st: s.store, people: slices.Clone(s.people), info: s.info}, nil
}

// preflight is propagate_in_video_preflight: each clicked frame's outputs
// of all people become one conditioning memory, encoded from binarised
// masks. A person not clicked on the frame keeps an earlier output there,
// or gets the reference's placeholder (empty mask, score 10, the no-object
// pointer).
func (s *Session) preflight(ctx context.Context) error {
	t := s.t
	s.started = true
	frames := map[int]bool{}
	for k := range s.pending {
		frames[k.frame] = true
	}
	for _, frame := range slices.Sorted(func(yield func(int) bool) {
		for f := range frames {
			if !yield(f) {
				return
			}
		}
	}) {
		if err := ctx.Err(); err != nil {
			return err
		}
		B := len(s.people)
		outs := make([]*objOut, B)
		logits := make([][]float32, B)
		e := &memEntry{frame: frame, ptr: make([]float32, 0, B*hiddenDim), score: make([]float32, B)}
		for b, id := range s.people {
			k := outKey{frame, id}
			o := s.pending[k]
			if o == nil && !s.cleared[frame] {
				var err error
				if o, err = s.store.get(k); err != nil {
					return err
				}
			}
			if o == nil {
				l := make([]float32, t.cfg.lowResSize()*t.cfg.lowResSize())
				for i := range l {
					l[i] = noObjScore
				}
				o = &objOut{logits: l, ptr: slices.Clone(t.consts.NoObjPtr), score: 10, placeholder: true}
			}
			outs[b], logits[b] = o, o.logits
			e.ptr = append(e.ptr, o.ptr...)
			e.score[b] = o.score
		}
		f := s.feats[frame]
		if f == nil {
			var err error
			if f, err = s.encode(ctx, frame); err != nil {
				return err
			}
		}
		mem, pos, err := t.encodeMemory(ctx, frame, f, logits, e.score, true)
		if err != nil {
			return err
		}
		if s.maskmemPos == nil {
			s.maskmemPos = pos
			s.maskmemPosT = make([]float32, len(pos))
			channelsLast(s.maskmemPosT, pos, memDim, len(pos)/memDim, 1)
		}
		e.maskmem = mem
		s.bank.cond[frame] = e
		delete(s.bank.nonCond, frame)
		for b, id := range s.people {
			if err := s.store.put(outKey{frame, id}, outs[b]); err != nil {
				return err
			}
		}
		delete(s.cleared, frame)
		if B <= 1 {
			s.clearAround(frame)
		}
	}
	clear(s.pending)
	clear(s.feats)
	return nil
}

// clearAround marks the per-person outputs within numMaskmem frames of a
// clicked frame as dropped (_clear_non_cond_mem_around_input).
func (s *Session) clearAround(frame int) {
	for f := frame - numMaskmem; f <= frame+numMaskmem; f++ {
		if _, cond := s.bank.cond[f]; !cond && f >= 0 && f < s.info.Frames {
			s.cleared[f] = true
		}
	}
}

// step handles frame t of a propagation in one direction.
func (s *Session) step(ctx context.Context, t int, reverse bool, c0 int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tr := s.t
	B := len(s.people)
	rep := FrameReport{Frame: t, Reverse: reverse}
	if e, ok := s.bank.cond[t]; ok {
		// A clicked frame keeps the output its clicks gave (the backward
		// pass starts on c0, already reported going forward).
		if B <= 1 {
			s.clearAround(t)
		}
		rep.Clicked = true
		rep.Scores = slices.Clone(e.score)
		if tr.opts.OnFrame != nil && !(reverse && t == c0) {
			tr.opts.OnFrame(rep)
		}
		return nil
	}
	f, err := s.encode(ctx, t)
	if err != nil {
		return err
	}
	plan := s.bank.plan(t, reverse, s.info.Frames, tr.cfg)
	g := tr.cfg.featSize()
	hw := g * g
	maxPtrs := min(s.info.Frames, tr.cfg.MaxObjPtrs)
	n := plan.promptLen(B, hw)
	prompt, ppos := tr.bufs.get(n), tr.bufs.get(n)
	defer tr.bufs.put(prompt)
	defer tr.bufs.put(ppos)
	nptr := s.bank.fillPrompt(plan, B, hw, s.maskmemPosT, tr.consts, maxPtrs, prompt, ppos)
	nk := int64(n / (B * memDim))
	src := tr.bufs.get(hw * B * hiddenDim)
	defer tr.bufs.put(src)
	channelsLast(src, f.fpn2, hiddenDim, hw, B)
	srcPos := s.srcPosFor(f.pos2, B)
	out, err := tr.run(ctx, engineMemAttn, t, map[string]*engine.Tensor{
		"src":                engine.Must(engine.FromFloat32(engine.Shape{int64(hw), int64(B), hiddenDim}, src)),
		"src_pos":            engine.Must(engine.FromFloat32(engine.Shape{int64(hw), int64(B), hiddenDim}, srcPos)),
		"prompt":             engine.Must(engine.FromFloat32(engine.Shape{nk, int64(B), memDim}, prompt)),
		"prompt_pos":         engine.Must(engine.FromFloat32(engine.Shape{nk, int64(B), memDim}, ppos)),
		"num_obj_ptr_tokens": engine.Must(engine.FromInt64(engine.Shape{}, []int64{int64(nptr)})),
	})
	if err != nil {
		return err
	}
	coords := make([]float32, 0, 4*B)
	labels := make([]int32, 0, 2*B)
	for range B {
		c, l := decoderPoints(nil)
		coords, labels = append(coords, c...), append(labels, l...)
	}
	d, err := tr.decode(ctx, t, f, out["pix_feat_with_mem"].Float32(), B, coords, labels, nil, 0 <= tr.cfg.MultimaskMaxPoints)
	if err != nil {
		return err
	}
	mem, _, err := tr.encodeMemory(ctx, t, f, d.logits, d.score, false)
	if err != nil {
		return err
	}
	e := &memEntry{frame: t, maskmem: mem, score: d.score, effIoU: effIoU(d.score, d.iou), hasEff: true}
	for b := range B {
		e.ptr = append(e.ptr, d.ptr[b]...)
	}
	s.bank.nonCond[t] = e
	for b, id := range s.people {
		if err := s.store.put(outKey{t, id}, &objOut{logits: d.logits[b], ptr: d.ptr[b], score: d.score[b]}); err != nil {
			return err
		}
	}
	delete(s.cleared, t)
	if s.oneShot {
		s.prune(t, reverse, c0)
	}
	if tr.opts.OnFrame != nil {
		for _, r := range plan.spatial {
			if r.tpos == numMaskmem-1 && r.cond {
				rep.CondFrames = append(rep.CondFrames, r.frame)
			} else {
				rep.RecentFrames = append(rep.RecentFrames, r.frame)
			}
		}
		for _, p := range plan.pointers {
			rep.PointerFrames = append(rep.PointerFrames, p.frame)
		}
		rep.Scores = slices.Clone(d.score)
		rep.EffIoU = e.effIoU
		tr.opts.OnFrame(rep)
	}
	return nil
}

// prune drops tracked-frame memories that no later frame of this
// propagation can read, so the bank stays bounded: after frame t, the
// next frame reads at most the MaxObjPtrs−1 nearest selectable frames
// behind it and the frame just behind it; the backward pass, still to
// come, reads the first ones after the first clicked frame c0.
func (s *Session) prune(t int, reverse bool, c0 int) {
	cfg := s.t.cfg
	n := s.info.Frames
	maxNum := min(n, cfg.MaxObjPtrs) - 1
	keep := map[int]bool{t: true}
	// keepFrom keeps what a frame filter walking from `from` by dir
	// would find; a forward filter stops before frame 0.
	lo := 0
	if cfg.MemorySelection {
		lo = 1
	}
	keepFrom := func(from, dir int) {
		found := 0
		for i := from; i >= lo && i < n && found < maxNum; i += dir {
			e := s.bank.nonCond[i]
			if cfg.MemorySelection {
				if e != nil && e.hasEff && e.effIoU > cfg.SelectionThreshold {
					keep[i] = true
					found++
				}
			} else {
				keep[i] = true
				found++
			}
		}
	}
	if !reverse {
		keepFrom(t, -1)
		if c0 > 0 {
			keepFrom(c0+1, +1)
		}
	} else {
		keepFrom(t, +1)
	}
	for f := range s.bank.nonCond {
		if !keep[f] {
			delete(s.bank.nonCond, f)
		}
	}
}

// encode runs the image encoder on frame i.
func (s *Session) encode(ctx context.Context, i int) (*features, error) {
	t := s.t
	x := t.bufs.get(t.inputLen())
	defer t.bufs.put(x)
	var err error
	if s.rs, err = t.frameInput(s.frames, s.info, i, s.rs, x); err != nil {
		return nil, err
	}
	return t.encodeInput(ctx, i, x)
}

// srcPosFor returns the memory attention's src_pos for the image
// encoder's position map pos2, [g²,B,256]. The map depends only on the
// model size, so the layout is kept and redone only if the map changes.
func (s *Session) srcPosFor(pos2 []float32, B int) []float32 {
	if B != s.srcPosB || !sameBits(pos2, s.pos2) {
		s.pos2 = append(s.pos2[:0], pos2...)
		s.srcPos = make([]float32, len(pos2)*B)
		s.srcPosB = B
		channelsLast(s.srcPos, pos2, hiddenDim, len(pos2)/hiddenDim, B)
	}
	return s.srcPos
}

// sameBits says whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	ab := unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a))
	bb := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b))
	return bytes.Equal(ab, bb)
}
