package segment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// noObjScore is the logit the reference writes over a mask whose object
// score says the object is absent, and into placeholders.
const noObjScore = -1024

// Options configure a Tracker.
type Options struct {
	// Config is the model behaviour; nil means SAM3().
	Config *Config
	// Dir, if not empty, is a work directory where each person's output
	// on each frame is written (≈330 KiB per person-frame for SAM-3) and
	// read back by the returned Masks, so that memory does not grow with
	// the video; each Segment call or Session uses a new subdirectory,
	// which the returned Masks read until the caller removes Dir. Empty
	// keeps the outputs in memory.
	Dir string
	// OnFrame, if not nil, is called after each frame of a propagation
	// with what the tracker did on it.
	OnFrame func(FrameReport)
}

// FrameReport says what the tracker did on one frame of a propagation.
type FrameReport struct {
	Frame   int
	Reverse bool // tracked backward in time
	Clicked bool // a conditioning frame: its output came from the clicks
	// The memories the memory attention read (empty for clicked frames):
	// spatial memories of clicked frames, of recent frames (tracked
	// frames, or clicked frames beyond MaxCondFrames), and the frames
	// whose object pointers it read, each in the reference's order.
	CondFrames, RecentFrames, PointerFrames []int
	// Scores are the object score logits, one per person (People order).
	Scores []float32
	// EffIoU is the frame's effective IoU score used by memory selection.
	EffIoU float32
}

// Engines are the tracker's four networks (see Contracts).
type Engines struct {
	Image, MemoryAttention, MaskDecoder, MemoryEncoder engine.Engine
}

// A Tracker is the SAM-3 point-prompt video tracker: the networks run as
// engines, everything else here. It holds no per-video state; each
// Segment call or Session is independent, so a Tracker may serve several
// videos at once if its engines may.
type Tracker struct {
	eng       Engines
	consts    *Constants
	cfg       Config
	opts      Options
	contracts map[string]engine.Contract
	owned     bool // Close closes the engines
	bufs      *floatPool
}

// New returns a tracker that runs already-loaded engines. Close does not
// close them.
func New(e Engines, c *Constants, opts Options) (*Tracker, error) {
	cfg := SAM3()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errors.New("segment: no constants")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	t := &Tracker{eng: e, consts: c, cfg: cfg, opts: opts, contracts: map[string]engine.Contract{}, bufs: &floatPool{}}
	named := map[string]engine.Engine{engineImage: e.Image, engineMemAttn: e.MemoryAttention, engineDecoder: e.MaskDecoder, engineMemEnc: e.MemoryEncoder}
	var errs []error
	for _, ct := range contractsFor(cfg) {
		t.contracts[ct.Engine] = ct
		eng := named[ct.Engine]
		if eng == nil {
			errs = append(errs, fmt.Errorf("segment: no %s engine", ct.Engine))
			continue
		}
		errs = append(errs, ct.Check(eng.Info())...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Open loads the tracker's engines and constants from a model directory
// (engines segment/image_encoder, memory_attention, mask_decoder,
// memory_encoder; file segment/constants) with load.
func Open(dir *models.Dir, load func(path string) (engine.Engine, error), opts Options) (*Tracker, error) {
	cpath, err := dir.FilePath("segment", "constants")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(cpath)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	consts, err := ReadConstants(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, cpath)
	}
	var e Engines
	var loaded []engine.Engine
	closeAll := func() {
		for _, l := range loaded {
			l.Close()
		}
	}
	for _, x := range []struct {
		name string
		dst  *engine.Engine
	}{{engineImage, &e.Image}, {engineMemAttn, &e.MemoryAttention}, {engineDecoder, &e.MaskDecoder}, {engineMemEnc, &e.MemoryEncoder}} {
		p, err := dir.EnginePath("segment", x.name)
		if err != nil {
			closeAll()
			return nil, err
		}
		eng, err := load(p)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("segment/%s: %w", x.name, err)
		}
		*x.dst = eng
		loaded = append(loaded, eng)
	}
	t, err := New(e, consts, opts)
	if err != nil {
		closeAll()
		return nil, err
	}
	t.owned = true
	return t, nil
}

// Close closes the engines if Open loaded them.
func (t *Tracker) Close() error {
	if !t.owned {
		return nil
	}
	t.owned = false
	return errors.Join(t.eng.Image.Close(), t.eng.MemoryAttention.Close(), t.eng.MaskDecoder.Close(), t.eng.MemoryEncoder.Close())
}

// Config returns the tracker's model configuration.
func (t *Tracker) Config() Config { return t.cfg }

// Segment follows the prompted people through the video (it implements
// body4d.Segmenter): it decodes every prompt, then propagates forward from
// the first prompted frame to the end and backward from it to the
// start. The result is a *Masks.
func (t *Tracker) Segment(ctx context.Context, frames scene.FrameSource, prompts scene.Prompts) (scene.MaskSource, error) {
	s, err := t.NewSession(frames)
	if err != nil {
		return nil, err
	}
	s.oneShot = true
	if err := s.Add(ctx, prompts); err != nil {
		return nil, err
	}
	return s.Propagate(ctx)
}

// run runs an engine, checks its outputs against the contract (shapes,
// NaN) and names the frame on error.
func (t *Tracker) run(ctx context.Context, name string, frame int, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	named := map[string]engine.Engine{engineImage: t.eng.Image, engineMemAttn: t.eng.MemoryAttention, engineDecoder: t.eng.MaskDecoder, engineMemEnc: t.eng.MemoryEncoder}
	out, err := named[name].Run(ctx, in)
	if err == nil {
		err = t.contracts[name].CheckOutputs(out)
	}
	if err != nil {
		return nil, fmt.Errorf("segment: frame %d: %s: %w", frame, name, err)
	}
	return out, nil
}

// features are the image encoder's outputs for one frame.
type features struct {
	fpn0, fpn1, fpn2, pos2 []float32
}

// frameInput loads frame i and writes its engine input into x (see
// frameResizer.input); rs, if not nil and made for the frame's size, is
// reused, and the resizer used is returned.
func (t *Tracker) frameInput(frames scene.FrameSource, info scene.VideoInfo, i int, rs *frameResizer, x []float32) (*frameResizer, error) {
	img, err := frames.Frame(i)
	if err != nil {
		return rs, fmt.Errorf("segment: frame %d: %w", i, err)
	}
	if img.Rect.Dx() != info.Width || img.Rect.Dy() != info.Height {
		return rs, fmt.Errorf("segment: frame %d is %d×%d, video is %d×%d", i, img.Rect.Dx(), img.Rect.Dy(), info.Width, info.Height)
	}
	if rs == nil || rs.sw != info.Width || rs.sh != info.Height || rs.size != t.cfg.ImageSize {
		rs = newFrameResizer(info.Width, info.Height, t.cfg.ImageSize, t.cfg.Mean, t.cfg.Std)
	}
	rs.input(img, x)
	return rs, nil
}

// inputLen is the number of elements of the image encoder's input.
func (t *Tracker) inputLen() int { return 3 * t.cfg.ImageSize * t.cfg.ImageSize }

// encodeInput runs the image encoder on frame i's engine input x.
func (t *Tracker) encodeInput(ctx context.Context, i int, x []float32) (*features, error) {
	s := int64(t.cfg.ImageSize)
	out, err := t.run(ctx, engineImage, i, map[string]*engine.Tensor{"img": engine.Must(engine.FromFloat32(engine.Shape{1, 3, s, s}, x))})
	if err != nil {
		return nil, err
	}
	return &features{out["fpn0"].Float32(), out["fpn1"].Float32(), out["fpn2"].Float32(), out["pos2"].Float32()}, nil
}

// repeat returns B copies of v back to back, and a function that hands
// the copy back to the pool once the engine that read it returned.
func (t *Tracker) repeat(v []float32, B int) ([]float32, func()) {
	if B == 1 {
		return v, func() {}
	}
	out := t.bufs.get(len(v) * B)
	for b := range B {
		copy(out[b*len(v):], v)
	}
	return out, func() { t.bufs.put(out) }
}

// decoded is the chosen output of the mask decoder for each object.
type decoded struct {
	logits [][]float32 // per object, low-res, gated
	ptr    [][]float32 // per object, gated
	score  []float32
	iou    []float32 // best IoU prediction among the candidates considered
}

// decode runs the mask decoder on B objects sharing the image features
// feat (already fused with memory, [B,256,g,g]), with per-object points
// of equal count, and picks each object's mask as _forward_sam_heads does.
func (t *Tracker) decode(ctx context.Context, frame int, f *features, feat []float32, B int,
	coords []float32, labels []int32, maskIn []float32, multimask bool) (*decoded, error) {
	g, l := int64(t.cfg.featSize()), int64(t.cfg.lowResSize())
	n := int64(len(labels) / B)
	has := []float32{0}
	if maskIn != nil {
		has[0] = 1
	} else {
		maskIn = t.bufs.getZero(B * int(l*l))
		defer t.bufs.put(maskIn)
	}
	fpn0, done0 := t.repeat(f.fpn0, B)
	defer done0()
	fpn1, done1 := t.repeat(f.fpn1, B)
	defer done1()
	lt, err := engine.FromInt32(engine.Shape{int64(B), n}, labels)
	if err != nil {
		return nil, err
	}
	out, err := t.run(ctx, engineDecoder, frame, map[string]*engine.Tensor{
		"image_embed":    engine.Must(engine.FromFloat32(engine.Shape{int64(B), hiddenDim, g, g}, feat)),
		"fpn0":           engine.Must(engine.FromFloat32(engine.Shape{int64(B), 32, l, l}, fpn0)),
		"fpn1":           engine.Must(engine.FromFloat32(engine.Shape{int64(B), 64, l / 2, l / 2}, fpn1)),
		"point_coords":   engine.Must(engine.FromFloat32(engine.Shape{int64(B), n, 2}, coords)),
		"point_labels":   lt,
		"mask_input":     engine.Must(engine.FromFloat32(engine.Shape{int64(B), 1, l, l}, maskIn)),
		"has_mask_input": engine.Must(engine.FromFloat32(engine.Shape{1}, has)),
	})
	if err != nil {
		return nil, err
	}
	masks, ious, ptrs, scores := out["masks"].Float32(), out["iou"].Float32(), out["obj_ptr"].Float32(), out["obj_score"].Float32()
	hw := int(l * l)
	d := &decoded{score: scores[:B:B]}
	for b := range B {
		mask := func(k int) []float32 { return masks[(b*4+k)*hw : (b*4+k+1)*hw] }
		iou := ious[b*4 : b*4+4]
		pick, ptrIdx := 0, 0
		best := iou[0]
		if multimask {
			pick = bestOf(iou)
			ptrIdx = pick
			best = iou[pick]
		} else if stability(mask(0), t.cfg.StabilityDelta) < t.cfg.StabilityThresh {
			// Unstable single mask: the best multimask output instead;
			// the pointer stays the single-mask token's.
			pick = bestOf(iou)
			best = iou[pick]
		}
		logits := slices.Clone(mask(pick))
		ptr := slices.Clone(ptrs[(b*4+ptrIdx)*hiddenDim : (b*4+ptrIdx+1)*hiddenDim])
		if !(scores[b] > 0) {
			for i := range logits {
				logits[i] = noObjScore
			}
			copy(ptr, t.consts.NoObjPtr)
		}
		d.logits = append(d.logits, logits)
		d.ptr = append(d.ptr, ptr)
		d.iou = append(d.iou, best)
	}
	return d, nil
}

// bestOf returns the index (1–3) of the highest multimask IoU; the first
// on ties, as torch.argmax.
func bestOf(iou []float32) int {
	best := 1
	for k := 2; k < 4; k++ {
		if iou[k] > iou[best] {
			best = k
		}
	}
	return best
}

// stability is the mask decoder's stability score: the area above +delta
// over the area above −delta (1 when both are empty).
func stability(logits []float32, delta float32) float32 {
	var inter, union float32
	for _, v := range logits {
		if v > delta {
			inter++
		}
		if v > -delta {
			union++
		}
	}
	if union == 0 {
		return 1
	}
	return inter / union
}

// effIoU is cal_mem_score: the mean over objects of the normalised object
// score times the IoU prediction.
func effIoU(scores, ious []float32) float32 {
	var s float32
	for i, sc := range scores {
		if sc > 0 {
			s += (2/(1+float32(math.Exp(float64(-sc)))) - 1) * ious[i]
		}
	}
	return s / float32(len(scores))
}

// encodeMemory runs the memory encoder on B objects' low-res logits:
// upsampled to the model size, binarised (clicked frames) or through a
// sigmoid (tracked frames), scaled ×20−10; absent objects get the
// no-object embedding. binarised masks of several objects are first made
// non-overlapping, as the reference's consolidation does. It returns the
// bfloat16 memory [B,64,g,g] and the position encoding of one object.
func (t *Tracker) encodeMemory(ctx context.Context, frame int, f *features, logits [][]float32, scores []float32, binarize bool) ([]uint16, []float32, error) {
	B := len(logits)
	S, l, g := t.cfg.ImageSize, t.cfg.lowResSize(), t.cfg.featSize()
	hr := t.bufs.get(B * S * S)
	defer t.bufs.put(hr)
	maskInput(hr, logits, l, S, binarize, t.bufs)
	G := int64(g)
	pix, done := t.repeat(f.fpn2, B)
	defer done()
	out, err := t.run(ctx, engineMemEnc, frame, map[string]*engine.Tensor{
		"pix_feat": engine.Must(engine.FromFloat32(engine.Shape{int64(B), hiddenDim, G, G}, pix)),
		"mask":     engine.Must(engine.FromFloat32(engine.Shape{int64(B), 1, int64(S), int64(S)}, hr)),
	})
	if err != nil {
		return nil, nil, err
	}
	mm := out["maskmem"].Float32()
	hw := g * g
	mem := make([]uint16, len(mm))
	for b := range B {
		add := !(scores[b] > 0)
		for c := range memDim {
			e := t.consts.NoObjEmbedSpatial[c]
			o := (b*memDim + c) * hw
			for i := range hw {
				v := mm[o+i]
				if add {
					v += e
				}
				mem[o+i] = floatToBF16(v)
			}
		}
	}
	pos := slices.Clone(out["maskmem_pos"].Float32()[:memDim*hw])
	return mem, pos, nil
}
