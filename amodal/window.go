package amodal

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
	"github.com/body4d/body4d/scene"
)

// unitLUT is torchvision's ToTensor then Normalize(0.5, 0.5) of a byte,
// in float32: (v/255 − 0.5)/0.5.
func unitLUT() [256]float32 {
	var t [256]float32
	for v := range t {
		t[v] = (float32(v)/255 - 0.5) / 0.5
	}
	return t
}

// readFrame returns frame i packed, checking its size against the video.
func readFrame(frames scene.FrameSource, i int, info scene.VideoInfo) ([]uint8, error) {
	img, err := frames.Frame(i)
	if err != nil {
		return nil, fmt.Errorf("amodal: frame %d: %w", i, err)
	}
	if img == nil {
		return nil, fmt.Errorf("amodal: frame %d: no image", i)
	}
	if w, h := img.Rect.Dx(), img.Rect.Dy(); w != info.Width || h != info.Height || len(img.Pix) < (h-1)*img.Stride+3*w {
		return nil, fmt.Errorf("amodal: frame %d is %dx%d (%d bytes), the video is %dx%d", i, w, h, len(img.Pix), info.Width, info.Height)
	}
	return packRGB(img), nil
}

// depth returns the video's global raw depth min and max
// (segment-amodal.md C.2; rgb_to_depth in the reference's vas demo),
// from the work directory when an earlier run found them. The maps are
// not kept: the range needs every frame's map before any window can use
// one, and a whole video's maps would be most of the work directory's
// peak (about 1.1 MB a frame at 512×1024). Each window computes its
// frames' maps again when it needs them (depthMap), and they are
// released once its people are done: the depth engine runs twice per
// frame, disk traded for time.
func (c *Completer) depth(ctx context.Context, frames scene.FrameSource, st *store, progress func()) (lo, hi float32, err error) {
	info := frames.Info()
	if r, ok, err := st.loadRange(); err != nil || ok {
		for range info.Frames {
			progress()
		}
		return r.Lo, r.Hi, err
	}
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	batch := depthBatch()
	start := 0
	// A stopped pass resumes after the groups its partial range covers.
	if p, ok, err := st.loadPartialRange(); err != nil {
		return 0, 0, err
	} else if ok && p.Frames > 0 && (p.Frames%batch == 0 || p.Frames == info.Frames) && p.Frames <= info.Frames {
		lo, hi, start = p.Lo, p.Hi, p.Frames
		for range start {
			progress()
		}
	}
	for first := start; first < info.Frames; first += batch {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		maps, err := c.computeDepth(ctx, frames, nil, depthGroup(first, batch, info.Frames))
		if err != nil {
			return 0, 0, err
		}
		for _, d := range maps {
			for _, v := range d {
				lo, hi = min(lo, v), max(hi, v)
			}
			progress()
		}
		if err := st.savePartialRange(depthRange{Lo: lo, Hi: hi, Frames: first + len(maps)}); err != nil {
			return 0, 0, err
		}
	}
	if !(hi > lo) {
		return 0, 0, fmt.Errorf("amodal: depth is constant (%g) over all %d frames; the depth engine gives no relative depth", lo, info.Frames)
	}
	if err := st.saveRange(depthRange{Lo: lo, Hi: hi}); err != nil {
		return 0, 0, err
	}
	if err := os.Remove(st.partialRangePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, fmt.Errorf("amodal: work directory: %w", err)
	}
	return lo, hi, nil
}

// depthBatch is how many frames the depth engine runs at once. Frames
// always run in the same groups, [k·batch, (k+1)·batch), because the
// engine's floats can change in the last bits with the batch: a map
// computed again then has the bits the range was found from.
func depthBatch() int { return max(1, min(4, runtime.GOMAXPROCS(0))) }

// depthGroup lists the frames of the group starting at first.
func depthGroup(first, batch, frames int) []int {
	var g []int
	for f := first; f < min(first+batch, frames); f++ {
		g = append(g, f)
	}
	return g
}

// depthMap returns frame f's raw depth: from the work directory, or
// computed with the rest of its group, which is saved for the window's
// other frames (Complete releases them after the window).
func (r *videoRun) depthMap(ctx context.Context, f int) ([]float32, error) {
	n := r.c.opts.Height * r.c.opts.Width
	if d, ok, err := r.st.loadDepth(f, n); err != nil || ok {
		return d, err
	}
	r.depthMu.Lock()
	defer r.depthMu.Unlock()
	if d, ok, err := r.st.loadDepth(f, n); err != nil || ok {
		return d, err
	}
	batch := depthBatch()
	first := f - f%batch
	maps, err := r.c.computeDepth(ctx, r.frames, r.st, depthGroup(first, batch, r.info.Frames))
	if err != nil {
		return nil, err
	}
	return maps[f-first], nil
}

// computeDepth runs the depth engine on the given frames (one batch),
// saves each map in the store (when st is not nil) and returns them.
func (c *Completer) computeDepth(ctx context.Context, frames scene.FrameSource, st *store, todo []int) ([][]float32, error) {
	info := frames.Info()
	h, w := c.opts.Height, c.opts.Width
	// rgb_to_depth turns the [-1,1] tensor back into bytes with a float32
	// round trip and a truncating cast: values 1..63 come back one lower.
	lut := unitLUT()
	var back [256]uint8
	for v := range back {
		back[v] = uint8((lut[v] + 1) / 2 * 255)
	}
	dh, dw, err := depthInputSize(h, w)
	if err != nil {
		return nil, err
	}
	inputs := make([][]float32, len(todo))
	down := resample.NewResizer(info.Width, info.Height, w, h, 3, resample.Bilinear)
	if err := parallel(len(todo), func(j int) error {
		rgb, err := readFrame(frames, todo[j], info)
		if err != nil {
			return err
		}
		small := down.Resize(rgb, 3*info.Width)
		for k, v := range small {
			small[k] = back[v]
		}
		in, _, _, err := depthInput(small, w, h)
		inputs[j] = in
		return err
	}); err != nil {
		return nil, err
	}
	data := make([]float32, 0, len(todo)*3*dh*dw)
	for _, in := range inputs {
		data = append(data, in...)
	}
	out, err := c.runDepth(ctx, len(todo), dh, dw, data)
	if err != nil {
		return nil, err
	}
	maps := make([][]float32, len(todo))
	err = parallel(len(todo), func(j int) error {
		maps[j] = resample.InterpolateBilinearAligned(out.data[j*out.h*out.w:(j+1)*out.h*out.w], out.w, out.h, w, h)
		if st == nil {
			return nil
		}
		return st.saveDepth(todo[j], maps[j])
	})
	return maps, err
}

type depthOut struct {
	data []float32
	h, w int
}

// runDepth runs the depth engine on n frames of dh×dw and returns its
// [n,H,W] output (any size; the reference interpolates from it).
func (c *Completer) runDepth(ctx context.Context, n, dh, dw int, data []float32) (depthOut, error) {
	in, err := engine.FromFloat32(engine.Shape{int64(n), 3, int64(dh), int64(dw)}, data)
	if err != nil {
		return depthOut{}, err
	}
	res, err := c.eng.Depth.Run(ctx, map[string]*engine.Tensor{"image": in})
	if err != nil {
		return depthOut{}, fmt.Errorf("amodal: depth: %w", err)
	}
	t, ok := res["depth"]
	if !ok {
		return depthOut{}, errors.New("amodal: depth returned no depth output")
	}
	s := t.Shape()
	if len(s) != 3 || s[0] != int64(n) || s[1] < 1 || s[2] < 1 {
		return depthOut{}, fmt.Errorf("amodal: depth output is %s, want [%d,H,W]", s, n)
	}
	if err := t.CheckFinite(); err != nil {
		return depthOut{}, fmt.Errorf("amodal: depth output: %w", err)
	}
	d, err := t.AsFloat32()
	return depthOut{d, int(s[1]), int(s[2])}, err
}

// videoRun is the state of one Complete call.
type videoRun struct {
	c      *Completer
	frames scene.FrameSource
	masks  scene.MaskSource
	st     *store
	info   scene.VideoInfo
	lo, hi float32
	// depthMu serialises computing a depth group (depthMap), so that
	// frames of one group, read at once, compute it once.
	depthMu sync.Mutex
	// onDecoded, if set, sees each decoded frame of a pass (tests).
	onDecoded func(pass, i int, rgb []uint8)
}

// modalMask reads a person's mask on a frame; nil means absent.
func (r *videoRun) modalMask(frame int, id scene.PersonID) (*scene.Mask, error) {
	m, err := r.masks.Mask(frame, id)
	if err != nil {
		return nil, fmt.Errorf("amodal: mask of person %d on frame %d: %w", id, frame, err)
	}
	if m == nil {
		return nil, nil
	}
	if m.W != r.info.Width || m.H != r.info.Height || len(m.Pix) != m.W*m.H {
		return nil, fmt.Errorf("amodal: mask of person %d on frame %d is %dx%d (%d px), the video is %dx%d",
			id, frame, m.W, m.H, len(m.Pix), r.info.Width, r.info.Height)
	}
	return m, nil
}

// plane255 is a mask as a 0/255 byte plane, all zero for an absent
// person. It is the reference's load_and_transform_masks image for one
// object: a palette ("P") image, which PIL resizes with NEAREST whatever
// filter torchvision's Resize asks for, so the model sees hard edges.
func plane255(m *scene.Mask, w, h int) []uint8 {
	p := make([]uint8, w*h)
	if m != nil {
		for i, v := range m.Pix {
			if v != 0 {
				p[i] = 255
			}
		}
	}
	return p
}

// windowStats reads every person's masks on frames [start, start+n) and
// returns their boxes and areas, for fast mode's in-view test. It reads
// frame by frame, all people of a frame together, one call at a time: a
// mask source may decode a frame's label image once for all its people
// (masks.Folder caches one frame) and need not allow concurrent calls.
func (r *videoRun) windowStats(people []scene.PersonID, start, n int) (map[scene.PersonID][]maskStat, error) {
	stats := map[scene.PersonID][]maskStat{}
	for _, id := range people {
		stats[id] = make([]maskStat, n)
	}
	for i := range n {
		for _, id := range people {
			m, err := r.modalMask(start+i, id)
			if err != nil {
				return nil, err
			}
			stats[id][i] = statOf(m)
		}
	}
	return stats, nil
}

// window returns person id's results on frames [start, start+n),
// computing and saving them unless a finished window computed from the
// same masks is in the work directory. stats, in fast mode with the
// in-view test on, holds every person's mask statistics on the window
// (windowStats); nil otherwise.
func (r *videoRun) window(ctx context.Context, id scene.PersonID, start, n int, stats map[scene.PersonID][]maskStat) (*windowMeta, error) {
	modal := make([]*scene.Mask, n)
	present := make([]bool, n)
	hash := sha256.New()
	anyPresent := false
	for i := range n {
		m, err := r.modalMask(start+i, id)
		if err != nil {
			return nil, err
		}
		modal[i], present[i] = m, m != nil
		var head [9]byte // frame index and presence
		binary.LittleEndian.PutUint64(head[:], uint64(start+i))
		if m != nil {
			head[8] = 1
			anyPresent = true
		}
		hash.Write(head[:])
		if m != nil {
			hash.Write(m.Pix)
		}
	}
	// In fast mode the skip also depends on the other people's boxes.
	var others [][]maskStat
	if stats != nil {
		others = make([][]maskStat, n)
		ids := make([]scene.PersonID, 0, len(stats))
		for o := range stats {
			if o != id {
				ids = append(ids, o)
			}
		}
		slices.Sort(ids)
		for _, o := range ids {
			for i, s := range stats[o] {
				others[i] = append(others[i], s)
				fmt.Fprintf(hash, "other %d %d %+v\n", o, i, s)
			}
		}
	}
	sum := hex.EncodeToString(hash.Sum(nil))
	if m, err := r.st.loadWindow(id, start); err != nil || (m != nil && m.MaskHash == sum && len(m.Present) == n && len(m.Scores) == n) {
		if m != nil {
			m.loaded = true
		}
		return m, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ww, err := r.st.newWindow(id, start)
	if err != nil {
		return nil, err
	}
	defer ww.abort()
	meta := &windowMeta{Person: id, Start: start, MaskHash: sum, Present: present}
	if !anyPresent { // absent from the whole window: nothing to run
		meta.Scores, meta.Fake = make([]float64, n), make([]bool, n)
		for i := range meta.Scores {
			meta.Scores[i] = 1
		}
		return meta, ww.commit(meta)
	}
	if f := r.c.opts.Fast; stats != nil && f != nil {
		ok, why := f.inView(r.info.Width, r.info.Height, start, stats[id], others)
		if ok { // fully in view: what the full mode hands on with no occluded frame
			meta.Skipped = true
			meta.Scores, meta.Fake = make([]float64, n), make([]bool, n)
			for i := range meta.Scores {
				meta.Scores[i] = 1
			}
			return meta, ww.commit(meta)
		}
		meta.NotSkipped = why
	}
	am, err := r.amodalPass(ctx, id, start, modal)
	if err != nil {
		return nil, err
	}
	meta.Scores, meta.Fake = am.scores, am.fake
	span, occluded := occludedSpan(meta.Scores, r.c.opts.Occlusion)
	meta.Span, meta.Occluded = span, occluded
	if !occluded {
		return meta, ww.commit(meta)
	}
	err = r.completionPass(ctx, id, start, span, modal, am.com, func(i int, rgb []uint8) error {
		if !present[i] {
			return nil
		}
		if err := ww.put(rgbName(start+i), rgb); err != nil {
			return err
		}
		// Hand-off mask: the amodal mask, or the modal one where the
		// amodal one looked fake (the reference hands on the raw amodal
		// mask even then, which can drop the person).
		b := am.full[i]
		if am.fake[i] {
			b = packMask(modal[i])
		}
		return ww.put(maskName(start+i), b)
	})
	if err != nil {
		return nil, err
	}
	return meta, ww.commit(meta)
}

// amodalResult is the amodal segmentation of one person's window.
type amodalResult struct {
	scores []float64
	fake   []bool   // the amodal mask looked like a fake completion
	full   [][]byte // packed amodal masks at video size
	com    [][]byte // packed masks for the completion pass, at its size
}

func fill3(dst []float32, plane func(k int) float32) {
	p := len(dst) / 3
	for k := range p {
		v := plane(k)
		dst[k], dst[p+k], dst[2*p+k] = v, v, v
	}
}

// amodalPass runs amodal segmentation (condition A the modal mask,
// condition B the depth) on a window of frames starting at start, and
// scores each frame. modal[i] nil means absent (an empty mask, as the
// reference's mask files hold).
func (r *videoRun) amodalPass(ctx context.Context, id scene.PersonID, start int, modal []*scene.Mask) (amodalResult, error) {
	o := r.c.opts
	W, H := r.info.Width, r.info.Height
	h, w, H2, W2 := o.Height, o.Width, o.CompletionHeight, o.CompletionWidth
	n := len(modal)
	lut := unitLUT()
	toFull := resample.NewResizer(w, h, W, H, 3, resample.Bicubic)
	toCom := resample.NewResizer(w, h, W2, H2, 3, resample.Bicubic)
	out := amodalResult{scores: make([]float64, n), fake: make([]bool, n), full: make([][]byte, n), com: make([][]byte, n)}
	call := vasCall{
		frames: n, h: h, w: w, unet: r.c.eng.UNet,
		condA: func(i int, dst []float32) error {
			small := resample.Nearest(plane255(modal[i], W, H), W, H, w, h)
			fill3(dst, func(k int) float32 { return lut[small[k]] })
			return nil
		},
		condB: func(i int, dst []float32) error {
			d, err := r.depthMap(ctx, start+i)
			if err != nil {
				return err
			}
			normalizeDepth(d, r.lo, r.hi)
			fill3(dst, func(k int) float32 { return d[k] })
			return nil
		},
		key: noiseKey{seed: o.Seed, person: int(id), start: start, pass: passAmodal},
	}
	err := r.c.runVAS(ctx, call, func(first int, rgb [][]uint8) error {
		return parallel(len(rgb), func(j int) error {
			i := first + j
			if r.onDecoded != nil {
				r.onDecoded(passAmodal, i, rgb[j])
			}
			// The reference resizes the decoded frame (PIL bicubic) to the
			// video size for scoring and to the completion size for the
			// completion pass, binarising each and keeping its largest
			// component.
			fm := keepLargestComponent(binariseAmodal(rgbImage(toFull.Resize(rgb[j], 3*w), W, H)))
			cm := keepLargestComponent(binariseAmodal(rgbImage(toCom.Resize(rgb[j], 3*w), W2, H2)))
			m := modal[i]
			if m == nil {
				m = scene.NewMask(W, H)
			}
			s, err := occlusionScore(m, fm, id, o.Occlusion)
			if err != nil {
				return err
			}
			out.scores[i] = s
			// Where the amodal mask looks fake, the completion pass gets
			// the modal mask instead (PIL nearest to its size).
			if fakeCompletion(m, fm, cm, id, o.Occlusion) {
				out.fake[i] = true
				cm = &scene.Mask{W: W2, H: H2, Pix: resample.Nearest(m.Pix, W, H, W2, H2)}
			}
			out.full[i], out.com[i] = packMask(fm), packMask(cm)
			return nil
		})
	})
	return out, err
}

// completionPass runs content completion on the window's frames
// span.Start..span.End — End included: the reference's [start:end]
// slice drops the span's last frame — and hands each completed frame,
// resized to the video (cv2 INTER_LINEAR), to emit with its
// window-relative index. com holds amodalPass's completion masks.
func (r *videoRun) completionPass(ctx context.Context, id scene.PersonID, start int, span Span, modal []*scene.Mask, com [][]byte, emit func(i int, rgb []uint8) error) error {
	o := r.c.opts
	W, H := r.info.Width, r.info.Height
	H2, W2 := o.CompletionHeight, o.CompletionWidth
	lut := unitLUT()
	down := resample.NewResizer(W, H, W2, H2, 3, resample.Bilinear)
	// The modal mask at completion size, as the reference reloads it
	// (nearest, see plane255; then > 0 after normalisation).
	modalHi := func(i int) []bool {
		small := resample.Nearest(plane255(modal[i], W, H), W, H, W2, H2)
		b := make([]bool, len(small))
		for k, v := range small {
			b[k] = lut[v] > 0
		}
		return b
	}
	call := vasCall{
		frames: span.End - span.Start + 1, h: H2, w: W2, unet: r.c.eng.UNetCompletion,
		// Condition A: the frame where the modal mask is on, white
		// elsewhere.
		condA: func(j int, dst []float32) error {
			rgb, err := readFrame(r.frames, start+span.Start+j, r.info)
			if err != nil {
				return err
			}
			small := down.Resize(rgb, 3*W)
			p := W2 * H2
			for k, on := range modalHi(span.Start + j) {
				for ch := range 3 {
					v := float32(1)
					if on {
						v = (lut[small[3*k+ch]] + 1) / 2
					}
					dst[ch*p+k] = v*2 - 1
				}
			}
			return nil
		},
		// Condition B: amodal ∪ modal as ±1.
		condB: func(j int, dst []float32) error {
			i := span.Start + j
			cm, err := unpackMask(com[i], W2, H2)
			if err != nil {
				return err
			}
			m := modalHi(i)
			fill3(dst, func(k int) float32 {
				if cm.Pix[k] != 0 || m[k] {
					return 1
				}
				return -1
			})
			return nil
		},
		key: noiseKey{seed: o.Seed, person: int(id), start: start, pass: passCompletion},
	}
	return r.c.runVAS(ctx, call, func(first int, rgb [][]uint8) error {
		return parallel(len(rgb), func(j int) error {
			if r.onDecoded != nil {
				r.onDecoded(passCompletion, span.Start+first+j, rgb[j])
			}
			return emit(span.Start+first+j, resample.CVResizeLinear(rgb[j], W2, H2, 3, W, H))
		})
	})
}

// rgbImage wraps packed RGB bytes as an image.
func rgbImage(pix []uint8, w, h int) *scene.RGB {
	return &scene.RGB{Pix: pix, Stride: 3 * w, Rect: image.Rect(0, 0, w, h)}
}

// resultMasks serves Result.Masks and Result.Images from the work
// directory.
type resultMasks struct {
	modal  scene.MaskSource
	people []scene.PersonID
	st     *store
	metas  map[scene.PersonID][]*windowMeta
	window int
	info   scene.VideoInfo
}

func (r *resultMasks) People() []scene.PersonID { return append([]scene.PersonID(nil), r.people...) }

// completed reports whether frame is in a completed span of person id
// where the person is present.
func (r *resultMasks) completed(frame int, id scene.PersonID) (bool, error) {
	ms, ok := r.metas[id]
	if !ok {
		return false, fmt.Errorf("amodal: no person %d in the result", id)
	}
	if frame < 0 || frame >= r.info.Frames {
		return false, fmt.Errorf("amodal: frame %d is outside the video's %d frames", frame, r.info.Frames)
	}
	m := ms[frame/r.window]
	i := frame - m.Start
	return m.Occluded && i >= m.Span.Start && i <= m.Span.End && m.Present[i], nil
}

func (r *resultMasks) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	ok, err := r.completed(frame, id)
	if err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return r.modal.Mask(frame, id)
	}
	b, err := os.ReadFile(filepath.Join(r.st.windowDir(id, frame/r.window*r.window), maskName(frame)))
	if err != nil {
		return nil, fmt.Errorf("amodal: amodal mask of person %d on frame %d: %w", id, frame, err)
	}
	m, err := unpackMask(b, r.info.Width, r.info.Height)
	if err != nil {
		return nil, fmt.Errorf("amodal: amodal mask of person %d on frame %d: %w", id, frame, err)
	}
	return m, nil
}

func (r *resultMasks) image(id scene.PersonID, frame int) (*scene.RGB, error) {
	ok, err := r.completed(frame, id)
	if err != nil || !ok {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.st.windowDir(id, frame/r.window*r.window), rgbName(frame)))
	if err != nil {
		return nil, fmt.Errorf("amodal: completed frame %d of person %d: %w", frame, id, err)
	}
	if len(b) != 3*r.info.Width*r.info.Height {
		return nil, fmt.Errorf("amodal: completed frame %d of person %d holds %d bytes, want %d", frame, id, len(b), 3*r.info.Width*r.info.Height)
	}
	return rgbImage(b, r.info.Width, r.info.Height), nil
}
