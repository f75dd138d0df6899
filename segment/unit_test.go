package segment

import (
	"fmt"
	"image"
	"math"
	"slices"
	"testing"

	"github.com/body4d/body4d/scene"
)

func TestPromptTransform(t *testing.T) {
	info := scene.VideoInfo{Width: 640, Height: 360, Frames: 10}
	fps, err := groupPrompts(scene.Prompts{
		Clicks: []scene.Click{
			{Frame: 4, X: 320, Y: 90, Person: 2},
			{Frame: 4, X: 0, Y: 359.5, Person: 2, Negative: true},
			{Frame: 1, X: 64, Y: 36, Person: 1},
		},
		Boxes: []scene.Box{{Frame: 4, X0: 0, Y0: 0, X1: 640, Y1: 180, Person: 2}},
	}, info, 1008)
	if err != nil {
		t.Fatal(err)
	}
	if len(fps) != 2 || fps[0].frame != 1 || fps[1].frame != 4 {
		t.Fatalf("prompts %+v, want frame 1 then frame 4", fps)
	}
	// Relative coordinates times 1008: the frame is squashed to a square.
	if got := fmt.Sprint(fps[0].coords, fps[0].labels); got != "[100.8 100.8] [1]" {
		t.Errorf("frame 1: %s", got)
	}
	// The box comes first as labels 2 and 3, then the clicks in order.
	want := fmt.Sprint([]float32{0, 0, 1008, 504, 504, 252, 0, 1006.6}, []int32{2, 3, 1, 0})
	if got := fmt.Sprint(fps[1].coords, fps[1].labels); got != want {
		t.Errorf("frame 4: %s, want %s", got, want)
	}
	c, l := decoderPoints(&fps[0])
	if fmt.Sprint(c, l) != "[100.8 100.8 0 0] [1 -1]" {
		t.Errorf("decoder points %v %v: want the clicks then one padding point", c, l)
	}
	c, l = decoderPoints(nil)
	if fmt.Sprint(c, l) != "[0 0 0 0] [-1 -1]" {
		t.Errorf("no prompt: %v %v, want two padding points", c, l)
	}
}

func TestPromptTooManyPoints(t *testing.T) {
	info := scene.VideoInfo{Width: 100, Height: 100, Frames: 1}
	var p scene.Prompts
	for i := range 20 {
		p.Clicks = append(p.Clicks, scene.Click{X: float64(i), Y: 1, Person: 1})
	}
	fps, err := groupPrompts(p, info, 100)
	if err != nil {
		t.Fatal(err)
	}
	var xs []float32
	for i := 0; i < len(fps[0].coords); i += 2 {
		xs = append(xs, fps[0].coords[i])
	}
	// The first 8 and the last 8, as max_point_num_in_prompt_enc keeps.
	if fmt.Sprint(xs) != "[0 1 2 3 4 5 6 7 12 13 14 15 16 17 18 19]" {
		t.Errorf("kept points %v", xs)
	}
}

func TestSelectCond(t *testing.T) {
	for _, tc := range []struct {
		frames     []int
		t, max     int
		sel, unsel string
	}{
		{[]int{0, 30}, 10, 4, "[0 30]", "[]"},
		{[]int{0, 10, 20, 30, 40, 50}, 25, 4, "[10 20 30 40]", "[0 50]"},   // 20 before, 30 after, then 10 and 40 (ties: earlier first)
		{[]int{0, 10, 20, 30, 40, 50}, 30, 4, "[10 20 30 40]", "[0 50]"},   // "after" includes t itself
		{[]int{0, 10, 20, 30, 40, 50}, 60, 4, "[20 30 40 50]", "[0 10]"},   // nothing after
		{[]int{0, 10, 20, 30, 40, 50}, 60, -1, "[0 10 20 30 40 50]", "[]"}, // SAM-2.1: all
	} {
		sel, unsel := selectCond(tc.frames, tc.t, tc.max)
		if fmt.Sprint(sel) != tc.sel || fmt.Sprint(unsel) != tc.unsel {
			t.Errorf("selectCond(%v, t=%d, %d) = %v, %v; want %s, %s", tc.frames, tc.t, tc.max, sel, unsel, tc.sel, tc.unsel)
		}
	}
}

// testBank is a bank with tracked frames whose effective IoU scores are
// given (effs[f] < 0: no output on frame f) and the given clicked frames.
func testBank(effs []float32, cond ...int) *bank {
	b := newBank()
	for f, e := range effs {
		if slices.Contains(cond, f) {
			b.cond[f] = &memEntry{frame: f}
		} else if e >= 0 {
			b.nonCond[f] = &memEntry{frame: f, effIoU: e, hasEff: true}
		}
	}
	return b
}

func TestFrameFilter(t *testing.T) {
	// Frames 0..9: 0 clicked; 3, 4 and 5 scored the person absent.
	effs := []float32{0, 0.5, 0.5, 0, 0.01, 0, 0.5, 0.5, 0.5, 0.5}
	b := testBank(effs, 0)
	cfg := SAM3()
	if got := b.frameFilter(9, false, 10, 16, cfg.SelectionThreshold); fmt.Sprint(got) != "[1 2 6 7 8]" {
		t.Errorf("forward from 9: %v (scores must exceed the threshold, 0.01 does not)", got)
	}
	if got := b.frameFilter(6, false, 10, 16, cfg.SelectionThreshold); fmt.Sprint(got) != "[1 2 5]" {
		t.Errorf("forward from 6: %v, want the valid frames then the frame before, even absent", got)
	}
	if got := b.frameFilter(0, false, 10, 16, cfg.SelectionThreshold); got != nil {
		t.Errorf("forward from 0: %v, want none", got)
	}
	if got := b.frameFilter(2, true, 10, 16, cfg.SelectionThreshold); fmt.Sprint(got) != "[9 8 7 6 3]" {
		t.Errorf("backward from 2: %v, want farthest first, then the frame after", got)
	}
	// At most maxPtrs−1 valid frames, the nearest.
	long := make([]float32, 40)
	for i := range long {
		long[i] = 0.9
	}
	b = testBank(long, 0)
	if got := b.frameFilter(39, false, 40, 16, cfg.SelectionThreshold); len(got) != 15 || got[0] != 24 || got[14] != 38 {
		t.Errorf("forward from 39: %v, want 24..38", got)
	}
}

func TestPlan(t *testing.T) {
	effs := []float32{0, 0.5, 0.5, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	b := testBank(effs, 0, 4)
	p := b.plan(12, false, 100, SAM3())
	spatial := func(p memPlan) string {
		var s []string
		for _, r := range p.spatial {
			s = append(s, fmt.Sprintf("%d/%d", r.frame, r.tpos))
		}
		return fmt.Sprint(s)
	}
	ptrs := func(p memPlan) string {
		var s []string
		for _, r := range p.pointers {
			s = append(s, fmt.Sprintf("%d@%d", r.frame, r.pos))
		}
		return fmt.Sprint(s)
	}
	// Clicked frames first at temporal row 6, then the six most recent
	// selectable frames, oldest first (row 5 … row 0 for t−1). Frames 3
	// and 5 are skipped (absent).
	if got := spatial(p); got != "[0/6 4/6 6/5 7/4 8/3 9/2 10/1 11/0]" {
		t.Errorf("spatial %s", got)
	}
	// Pointers: past clicked frames at their distance, then selected
	// frames by rank, without the oldest selected one.
	if got := ptrs(p); got != "[0@12 4@8 11@1 10@2 9@3 8@4 7@5 6@6 2@7]" {
		t.Errorf("pointers %s", got)
	}
	// SAM-2.1: the six frames before, whatever their scores, and every
	// frame before as a pointer.
	p = b.plan(12, false, 100, SAM21())
	if got := spatial(p); got != "[0/6 4/6 6/5 7/4 8/3 9/2 10/1 11/0]" {
		t.Errorf("SAM-2.1 spatial %s", got)
	}
	if got := ptrs(p); got != "[0@12 4@8 11@1 10@2 9@3 8@4 7@5 6@6 5@7 3@9 2@10 1@11]" {
		t.Errorf("SAM-2.1 pointers %s", got)
	}
	// A future clicked frame is a spatial memory but gives no pointer.
	p = b.plan(2, false, 100, SAM3())
	if got := spatial(p) + ptrs(p); got != "[0/6 4/6 1/0][0@2]" {
		t.Errorf("frame 2: %s", got)
	}
	// Backward: mirror image.
	b = testBank([]float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 5)
	p = b.plan(1, true, 6, SAM3())
	if got := spatial(p) + ptrs(p); got != "[5/6 4/2 3/1 2/0][5@4 2@1 3@2]" {
		t.Errorf("backward frame 1: %s", got)
	}
	// More than MaxCondFrames clicked frames: an unselected one right
	// before t is read as a recent memory.
	b = testBank(make([]float32, 12), 0, 1, 2, 3, 11)
	cfg := SAM21()
	cfg.MaxCondFrames = 4
	p = b.plan(5, false, 100, cfg)
	if got := spatial(p); got != "[1/6 2/6 3/6 11/6 0/4 4/0]" {
		t.Errorf("unselected clicked frame: %s", got)
	}
}

func TestPointerTokens(t *testing.T) {
	c := &Constants{
		MaskmemTposEnc: make([]float32, numMaskmem*memDim), TposProjWeight: make([]float32, memDim*hiddenDim),
		TposProjBias: make([]float32, memDim),
	}
	for i := range c.TposProjWeight {
		c.TposProjWeight[i] = float32(i%7) * 0.01
	}
	for i := range c.MaskmemTposEnc {
		c.MaskmemTposEnc[i] = float32(i / memDim) // row index
	}
	const B, hw = 2, 3
	b := newBank()
	e := &memEntry{frame: 0, maskmem: make([]uint16, B*memDim*hw), ptr: make([]float32, B*hiddenDim)}
	for i := range e.ptr {
		e.ptr[i] = float32(i)
	}
	for i := range e.maskmem {
		e.maskmem[i] = floatToBF16(float32(i))
	}
	b.cond[0] = e
	pos := make([]float32, memDim*hw)
	p := memPlan{spatial: []memRef{{frame: 0, cond: true, tpos: 6}}, pointers: []ptrRef{{frame: 0, cond: true, pos: 3}}}
	prompt, ppos, nptr := b.promptTensors(p, B, hw, pos, c, 16)
	if nptr != 4 || len(prompt) != (hw+4)*B*memDim {
		t.Fatalf("%d pointer tokens, %d values", nptr, len(prompt))
	}
	at := func(v []float32, k, obj, ch int) float32 { return v[(k*B+obj)*memDim+ch] }
	// Spatial token k of object o, channel c is maskmem[o][c][k].
	if got, want := at(prompt, 2, 1, 5), bf16ToFloat(floatToBF16(float32((1*memDim+5)*hw+2))); got != want {
		t.Errorf("spatial token: %v, want %v", got, want)
	}
	if at(ppos, 1, 0, 0) != 6 {
		t.Errorf("spatial position: %v, want temporal row 6", at(ppos, 1, 0, 0))
	}
	// Pointer token j of object o is ptr[o][64j:64j+64]; all four share
	// the position encoding of distance 3/(16−1).
	pe := c.pointerPos(3, 16)
	for j := range 4 {
		for o := range B {
			if got := at(prompt, hw+j, o, 10); got != float32(o*hiddenDim+j*memDim+10) {
				t.Errorf("pointer token %d object %d: %v", j, o, got)
			}
			if at(ppos, hw+j, o, 3) != pe[3] {
				t.Errorf("pointer token %d position differs", j)
			}
		}
	}
	// pos 0: sin 0 and cos 1, so the projection sums the cos half.
	var want float32
	for i := hiddenDim / 2; i < hiddenDim; i++ {
		want += c.TposProjWeight[i]
	}
	if got := c.pointerPos(0, 16)[0]; math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("pointer position 0: %v, want %v", got, want)
	}
}

func TestBF16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {1.00390625, 0x3f80}, // halfway: to even
		{1.01171875, 0x3f82}, {float32(math.Inf(1)), 0x7f80},
	} {
		if got := floatToBF16(tc.in); got != tc.want {
			t.Errorf("bf16(%v) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
	if v := bf16ToFloat(floatToBF16(float32(math.NaN()))); !math.IsNaN(float64(v)) {
		t.Error("NaN lost")
	}
}

func TestThresholdMask(t *testing.T) {
	// Threshold strictly above 0, at a non-square frame size.
	m := thresholdMask([]float32{-1, 1, -1, 1}, 2, 4, 2)
	if fmt.Sprint(m.Pix) != "[0 0 1 1 0 0 1 1]" || m.W != 4 || m.H != 2 {
		t.Errorf("mask %v", m.Pix)
	}
	if m := thresholdMask([]float32{0, 0, 0, 0}, 2, 3, 3); m.Area() != 0 {
		t.Error("logit 0 is not inside the mask")
	}
}

func TestModelInputNormalised(t *testing.T) {
	img := scene.NewRGB(image.Rect(0, 0, 7, 5))
	for i := range img.Pix {
		img.Pix[i] = uint8(40 + i%3)
	}
	x := modelInput(img, 4, [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5})
	for c := range 3 {
		if got, want := x[c*16+5], (float32(float64(40+c)/255)-0.5)/0.5; got != want {
			t.Errorf("channel %d normalised to %v, want %v", c, got, want)
		}
	}
}

func TestDecoderRules(t *testing.T) {
	if bestOf([]float32{0.99, 0.2, 0.7, 0.7}) != 2 {
		t.Error("bestOf ignores the single-mask output and takes the first of ties")
	}
	if s := stability([]float32{1, 0.01, -0.01, -1}, 0.05); s != 1.0/3 {
		t.Errorf("stability %v", s)
	}
	if stability([]float32{-1, -1}, 0.05) != 1 {
		t.Error("stability of an empty mask is 1")
	}
	// Absent objects count as 0 in the mean over all objects.
	got := effIoU([]float32{math.MaxFloat32, -3}, []float32{0.8, 0.9})
	if math.Abs(float64(got)-0.4) > 1e-6 {
		t.Errorf("effIoU %v, want 0.4", got)
	}
}

// TestPruneKeepsWhatIsRead: Segment drops memories as it goes; on every
// frame of a forward-then-backward propagation the memories it plans to
// read must be exactly those an unpruned bank gives, with memory
// selection (frames scored absent in stretches) and without.
func TestPruneKeepsWhatIsRead(t *testing.T) {
	for _, cfg := range []Config{SAM3(), SAM21()} {
		const n = 90
		cond := []int{30, 52, 70}
		full, pruned := newBank(), newBank()
		for _, f := range cond {
			full.cond[f], pruned.cond[f] = &memEntry{frame: f}, &memEntry{frame: f}
		}
		s := &Session{t: &Tracker{cfg: cfg}, info: scene.VideoInfo{Frames: n}, bank: pruned}
		eff := func(f int) float32 {
			if (f/9)%3 == 1 || f%7 == 0 {
				return 0 // absent
			}
			return 0.5
		}
		maxKept := 0
		step := func(f int, reverse bool) {
			if slices.Contains(cond, f) {
				return
			}
			a, b := full.plan(f, reverse, n, cfg), pruned.plan(f, reverse, n, cfg)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("selection %v, frame %d (reverse %v): plan %v after pruning, %v without", cfg.MemorySelection, f, reverse, b, a)
			}
			full.nonCond[f] = &memEntry{frame: f, effIoU: eff(f), hasEff: true}
			pruned.nonCond[f] = &memEntry{frame: f, effIoU: eff(f), hasEff: true}
			s.prune(f, reverse, cond[0])
			maxKept = max(maxKept, len(pruned.nonCond))
		}
		for f := cond[0]; f < n; f++ {
			step(f, false)
		}
		for f := cond[0]; f >= 0; f-- {
			step(f, true)
		}
		// Bounded: the frames behind the current one plus those kept
		// for the backward pass, never the whole video.
		if maxKept > 2*cfg.MaxObjPtrs {
			t.Errorf("selection %v: %d memories held at once", cfg.MemorySelection, maxKept)
		}
		t.Logf("selection %v: at most %d tracked-frame memories held", cfg.MemorySelection, maxKept)
	}
}

// TestRunLengthMask: masks survive the work directory's run-length
// encoding exactly, including empty, full and single-pixel ones, and a
// corrupt record is an error.
func TestRunLengthMask(t *testing.T) {
	cases := [][]uint8{
		{0, 0, 0, 0}, {1, 1, 1, 1}, {1, 0, 0, 0}, {0, 0, 0, 1},
		{1, 0, 1, 0, 1, 1, 0}, make([]uint8, 1000),
	}
	long := make([]uint8, 640*360)
	for i := range long {
		if (i/7)%3 == 0 || i%641 == 0 {
			long[i] = 1
		}
	}
	cases = append(cases, long)
	for _, pix := range cases {
		b := appendRuns(nil, pix)
		got := make([]uint8, len(pix))
		if err := readRuns(b, got); err != nil {
			t.Fatal(err)
		}
		for i := range pix {
			if got[i] != pix[i] {
				t.Fatalf("%d pixels: differs at %d", len(pix), i)
			}
		}
		if err := readRuns(b, make([]uint8, len(pix)+1)); err == nil {
			t.Errorf("%d pixels read into %d: no error", len(pix), len(pix)+1)
		}
		if len(pix) > 1 {
			if err := readRuns(b, make([]uint8, len(pix)-1)); err == nil {
				t.Errorf("%d pixels read into %d: no error", len(pix), len(pix)-1)
			}
		}
	}
}
