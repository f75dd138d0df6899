package segment

import (
	"math"
	"slices"
)

// memEntry is the tracker's output on one frame for every tracked object
// (the reference's batched output_dict entry): what later frames read as
// memory. Objects are in the tracker's order.
type memEntry struct {
	frame   int
	maskmem []uint16  // [B,64,g,g] memory features, bfloat16 as the reference stores them
	ptr     []float32 // [B,256] object pointers, gated
	score   []float32 // [B] object score logits
	effIoU  float32   // mean over objects of (score>0 ? 2σ(score)−1 : 0)·max IoU
	hasEff  bool      // effIoU is set (tracked frames; not clicked frames)
}

// bank is the memory bank: the conditioning (clicked) frames and the
// tracked frames that later frames may still read.
type bank struct {
	cond    map[int]*memEntry
	nonCond map[int]*memEntry
}

func newBank() *bank {
	return &bank{cond: map[int]*memEntry{}, nonCond: map[int]*memEntry{}}
}

// memRef is one spatial memory in a frame's prompt.
type memRef struct {
	frame int
	cond  bool // read from the conditioning frames
	tpos  int  // row of the temporal position table
}

// ptrRef is one object pointer in a frame's prompt.
type ptrRef struct {
	frame int
	cond  bool
	pos   int // temporal distance, as the reference encodes it
}

// memPlan lists what the memory attention of one frame reads, in the
// reference's order.
type memPlan struct {
	spatial  []memRef
	pointers []ptrRef
}

// selectCond is select_closest_cond_frames: up to max conditioning
// frames, the nearest before t, the nearest at or after t, then the
// closest others (ties to the earlier frame, as Python's stable sort of
// an ascending key list does). Both results are ascending.
func selectCond(frames []int, t, max int) (sel, unsel []int) {
	frames = slices.Sorted(slices.Values(frames))
	if max == -1 || len(frames) <= max {
		return frames, nil
	}
	chosen := map[int]bool{}
	before, after := -1, -1
	for _, f := range frames {
		if f < t {
			before = f
		}
		if f >= t && after == -1 {
			after = f
		}
	}
	if before >= 0 {
		chosen[before] = true
	}
	if after >= 0 {
		chosen[after] = true
	}
	var rest []int
	for _, f := range frames {
		if !chosen[f] {
			rest = append(rest, f)
		}
	}
	slices.SortStableFunc(rest, func(a, b int) int { return abs(a-t) - abs(b-t) })
	for _, f := range rest[:min(len(rest), max-len(chosen))] {
		chosen[f] = true
	}
	for _, f := range frames {
		if chosen[f] {
			sel = append(sel, f)
		} else {
			unsel = append(unsel, f)
		}
	}
	return sel, unsel
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// frameFilter is the reference's memory selection (frame_filter): walking
// away from t against the tracking direction, the tracked frames whose
// effective IoU score exceeds the threshold, at most maxPtrs−1 of them,
// ordered farthest first, then the frame next to t if not already there.
// As in the reference, a forward walk stops before frame 0.
func (b *bank) frameFilter(t int, reverse bool, numFrames, maxPtrs int, thresh float32) []int {
	if (t == 0 && !reverse) || (t == numFrames-1 && reverse) {
		return nil
	}
	maxNum := min(numFrames, maxPtrs)
	var valid []int
	add := func(i int) bool {
		e := b.nonCond[i]
		if e == nil || !e.hasEff {
			return true
		}
		if e.effIoU > thresh {
			valid = append(valid, i)
		}
		return len(valid) < maxNum-1
	}
	mustInclude := t - 1
	if !reverse {
		for i := t - 1; i > 0 && add(i); i-- {
		}
	} else {
		mustInclude = t + 1
		for i := t + 1; i < numFrames && add(i); i++ {
		}
	}
	slices.Reverse(valid) // farthest first
	if !slices.Contains(valid, mustInclude) {
		valid = append(valid, mustInclude)
	}
	return valid
}

// plan is _prepare_memory_conditioned_features's choice of memories for
// frame t (not a clicked frame): the selected conditioning frames, then up
// to numMaskmem−1 recent frames, then object pointers from the past
// selected conditioning frames and the recent frames.
func (b *bank) plan(t int, reverse bool, numFrames int, cfg Config) memPlan {
	var p memPlan
	condFrames := make([]int, 0, len(b.cond))
	for f := range b.cond {
		condFrames = append(condFrames, f)
	}
	sel, unsel := selectCond(condFrames, t, cfg.MaxCondFrames)
	for _, f := range sel {
		p.spatial = append(p.spatial, memRef{frame: f, cond: true, tpos: numMaskmem - 1})
	}
	// lookup finds a recent frame's output: tracked frames first, then
	// conditioning frames that were not selected.
	lookup := func(f int) (memRef, bool) {
		if _, ok := b.nonCond[f]; ok {
			return memRef{frame: f}, true
		}
		if slices.Contains(unsel, f) {
			return memRef{frame: f, cond: true}, true
		}
		return memRef{}, false
	}
	var valid []int
	if cfg.MemorySelection {
		valid = b.frameFilter(t, reverse, numFrames, cfg.MaxObjPtrs, cfg.SelectionThreshold)
	}
	for tpos := 1; tpos < numMaskmem; tpos++ {
		rel := numMaskmem - tpos
		var prev int
		if cfg.MemorySelection {
			if rel > len(valid) {
				continue
			}
			prev = valid[len(valid)-rel]
		} else if reverse {
			prev = t + rel
		} else {
			prev = t - rel
		}
		if r, ok := lookup(prev); ok {
			r.tpos = numMaskmem - tpos - 1
			p.spatial = append(p.spatial, r)
		}
	}
	maxPtrs := min(numFrames, cfg.MaxObjPtrs)
	for _, f := range sel {
		if (!reverse && f <= t) || (reverse && f >= t) {
			p.pointers = append(p.pointers, ptrRef{frame: f, cond: true, pos: abs(t - f)})
		}
	}
	for d := 1; d < maxPtrs; d++ {
		var f int
		if cfg.MemorySelection {
			if d >= len(valid) {
				break
			}
			f = valid[len(valid)-d]
		} else {
			f = t - d
			if reverse {
				f = t + d
			}
			if f < 0 || f >= numFrames {
				break
			}
		}
		if r, ok := lookup(f); ok {
			p.pointers = append(p.pointers, ptrRef{frame: f, cond: r.cond, pos: d})
		}
	}
	return p
}

// entry returns the output a reference names.
func (b *bank) entry(frame int, cond bool) *memEntry {
	if cond {
		return b.cond[frame]
	}
	return b.nonCond[frame]
}

// sinePE is get_1d_sine_pe: sin then cos of pos/10000^(2⌊i/2⌋/(dim/2)).
func sinePE(pos float32, dim int) []float32 {
	half := dim / 2
	out := make([]float32, dim)
	for i := range half {
		dimT := float32(math.Pow(10000, float64(float32(2*(i/2))/float32(half))))
		x := pos / dimT
		out[i] = float32(math.Sin(float64(x)))
		out[half+i] = float32(math.Cos(float64(x)))
	}
	return out
}

// pointerPos is the position encoding of an object pointer rel frames
// away: the 256-d sine encoding of rel/(maxPtrs−1), projected to 64-d by
// obj_ptr_tpos_proj. With a single pointer slot the reference divides by
// zero; positions are then 0.
func (c *Constants) pointerPos(rel, maxPtrs int) []float32 {
	var x float32
	if maxPtrs > 1 {
		x = float32(rel) / float32(maxPtrs-1)
	}
	pe := sinePE(x, hiddenDim)
	out := make([]float32, memDim)
	for o := range memDim {
		s := c.TposProjBias[o]
		w := c.TposProjWeight[o*hiddenDim : (o+1)*hiddenDim]
		for i, v := range pe {
			s += w[i] * v
		}
		out[o] = s
	}
	return out
}

// promptTensors assembles the memory attention's prompt and prompt_pos,
// both [Nk,B,64], for a plan: each spatial memory is g² tokens (its
// features, and the memory position encoding plus its temporal row), then
// each pointer is split into 4 tokens of 64 that share its position
// encoding. It returns the number of pointer tokens.
func (b *bank) promptTensors(p memPlan, B, hw int, maskmemPos []float32, c *Constants, maxPtrs int) (prompt, pos []float32, nptr int) {
	n := p.promptLen(B, hw)
	prompt, pos = make([]float32, n), make([]float32, n)
	posT := make([]float32, len(maskmemPos))
	channelsLast(posT, maskmemPos, memDim, hw, 1)
	return prompt, pos, b.fillPrompt(p, B, hw, posT, c, maxPtrs, prompt, pos)
}

// promptLen is the number of elements of the prompt of a plan.
func (p memPlan) promptLen(B, hw int) int {
	return (len(p.spatial)*hw + len(p.pointers)*ptrTokens) * B * memDim
}

// fillPrompt writes promptTensors' prompt and pos (promptLen elements
// each); posT is the memory position encoding of one object transposed
// to [g²,64].
func (b *bank) fillPrompt(p memPlan, B, hw int, posT []float32, c *Constants, maxPtrs int, prompt, pos []float32) (nptr int) {
	k := 0
	for _, r := range p.spatial {
		e := b.entry(r.frame, r.cond)
		tp := c.MaskmemTposEnc[r.tpos*memDim : (r.tpos+1)*memDim]
		mp, pp := prompt[k*B*memDim:(k+hw)*B*memDim], pos[k*B*memDim:(k+hw)*B*memDim]
		blocks := (hw + transposeBlock - 1) / transposeBlock
		parallelRows(blocks, func(lo, hi int) {
			for i0 := lo * transposeBlock; i0 < min(hi*transposeBlock, hw); i0 += transposeBlock {
				i1 := min(i0+transposeBlock, hw)
				// Token i of object o, channel ch is maskmem[o][ch][i]:
				// a blocked transpose.
				for o := range B {
					src := e.maskmem[o*memDim*hw : (o+1)*memDim*hw]
					for ch := range memDim {
						for j, v := range src[ch*hw+i0 : ch*hw+i1] {
							mp[((i0+j)*B+o)*memDim+ch] = bf16ToFloat(v)
						}
					}
				}
				for i := i0; i < i1; i++ {
					pr := posT[i*memDim : (i+1)*memDim]
					for o := range B {
						d := pp[(i*B+o)*memDim : (i*B+o+1)*memDim]
						for ch, v := range pr {
							d[ch] = v + tp[ch]
						}
					}
				}
			}
		})
		k += hw
	}
	for _, r := range p.pointers {
		e := b.entry(r.frame, r.cond)
		pe := c.pointerPos(r.pos, maxPtrs)
		for j := range ptrTokens {
			for o := range B {
				row := (k+j)*B + o
				copy(prompt[row*memDim:(row+1)*memDim], e.ptr[o*hiddenDim+j*memDim:o*hiddenDim+(j+1)*memDim])
				copy(pos[row*memDim:(row+1)*memDim], pe)
			}
		}
		k += ptrTokens
	}
	return len(p.pointers) * ptrTokens
}

// floatToBF16 rounds to the nearest bfloat16 (ties to even), as torch's
// .to(torch.bfloat16) does; NaN stays NaN.
func floatToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

func bf16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
