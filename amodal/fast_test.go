package amodal

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"strings"
	"sync"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/scene"
)

func TestInView(t *testing.T) {
	const W, H = 100, 50 // Border 2%: 2 px at the sides, 1 px at top and bottom
	box := func(x0, y0, x1, y1 int) *scene.Mask { return maskOf(W, H, image.Rect(x0, y0, x1, y1)) }
	same := func(m *scene.Mask, n int) []*scene.Mask {
		out := make([]*scene.Mask, n)
		for i := range out {
			out[i] = m
		}
		return out
	}
	person := box(20, 10, 40, 40) // 20×30 = 600 px; contact gap ceil(0.05·30) = 2 px
	cases := []struct {
		name   string
		opt    FastOptions
		self   []*scene.Mask
		others [][]*scene.Mask
		ok     bool
		why    string // part of the reason when !ok
	}{
		{name: "fully in view", self: same(person, 4), others: [][]*scene.Mask{{box(60, 10, 80, 40)}, {nil}, nil, {scene.NewMask(W, H)}}, ok: true},
		{name: "just clear of every edge", self: same(box(2, 1, 98, 49), 3), ok: true},
		{name: "touching the left edge", self: []*scene.Mask{person, box(0, 10, 20, 40), person}, why: "frame 1: box [0,20)"},
		{name: "inside the left band", self: []*scene.Mask{box(1, 10, 21, 40)}, why: "of the edge"},
		{name: "touching the bottom edge", self: []*scene.Mask{person, box(20, 20, 40, 50)}, why: "frame 1"},
		{name: "wider band", opt: FastOptions{Border: 0.25}, self: same(person, 2), why: "25x13 px of the edge"},
		{name: "area drop", self: []*scene.Mask{person, person, box(20, 10, 40, 34)}, why: "frame 2: area 480 is 0.80"},
		{name: "area at the threshold", self: []*scene.Mask{person, box(20, 10, 37, 40)}, ok: true}, // 510/600 = 0.85
		{name: "area drop allowed by MinArea", opt: FastOptions{MinArea: 0.5}, self: []*scene.Mask{person, box(20, 10, 40, 34)}, ok: true},
		{name: "overlapping another person", self: same(person, 3), others: [][]*scene.Mask{nil, {box(35, 20, 60, 45)}, nil}, why: "frame 1: another person"},
		{name: "within the contact gap", self: same(person, 1), others: [][]*scene.Mask{{box(41, 10, 60, 40)}}, why: "within 2 px"},
		{name: "just outside the contact gap", self: same(person, 1), others: [][]*scene.Mask{{box(42, 10, 60, 40)}}, ok: true},
		{name: "empty mask", self: []*scene.Mask{person, scene.NewMask(W, H), person}, why: "frame 1: absent or empty"},
		{name: "absent on a frame", self: []*scene.Mask{nil, person}, why: "frame 0: absent or empty"},
		{name: "no frames", why: "no frames"},
		{name: "bad option", opt: FastOptions{MinArea: 2}, self: same(person, 1), why: "MinArea"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, why := c.opt.InView(W, H, c.self, c.others)
			if ok != c.ok || (ok && why != "") || (!ok && !strings.Contains(why, c.why)) {
				t.Errorf("InView = %v %q, want %v with %q", ok, why, c.ok, c.why)
			}
		})
	}
}

func TestFastOptionsDefaults(t *testing.T) {
	eng, _ := fakeEngines(func(x, y int) float32 { return float32(x) })
	for _, c := range []struct {
		opts  Options
		steps int
		err   string
	}{
		{opts: Options{}, steps: 25},
		{opts: Options{Fast: &FastOptions{}}, steps: 10},
		{opts: Options{Steps: 4, Fast: &FastOptions{}}, steps: 4},
		{opts: Options{Fast: &FastOptions{Steps: 25, NoSkip: true}}, steps: 25},
		{opts: Options{Fast: &FastOptions{Steps: 1}}, err: "at least 2"},
		{opts: Options{Fast: &FastOptions{Steps: -3}}, err: "negative"},
		{opts: Options{Fast: &FastOptions{Border: 0.5}}, err: "Border"},
		{opts: Options{Fast: &FastOptions{Contact: -1}}, err: "Contact"},
	} {
		c0, err := New(eng, c.opts)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: error %v, want one about %q", c.opts.Fast, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if c0.sampler.Steps != c.steps {
			t.Errorf("%+v: sampler runs %d steps, want %d", c.opts.Fast, c0.sampler.Steps, c.steps)
		}
		if f := c0.opts.Fast; f != nil && (f.Border != DefaultFastBorder || f.MinArea != DefaultFastMinArea || f.Contact != DefaultFastContact) {
			t.Errorf("defaults not filled: %+v", *f)
		}
	}
}

// recorder hashes every output of the wrapped engine, in call order.
type recorder struct {
	engine.Engine
	mu   sync.Mutex
	sums []string
}

func (r *recorder) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	out, err := r.Engine.Run(ctx, in)
	if err == nil {
		h := sha256.New()
		for _, t := range out {
			d, _ := t.AsFloat32()
			for _, v := range d {
				binary.Write(h, binary.LittleEndian, v)
			}
		}
		r.mu.Lock()
		r.sums = append(r.sums, hex.EncodeToString(h.Sum(nil))[:12])
		r.mu.Unlock()
	}
	return out, err
}

// TestFastNoSkipFullStepsIsFull: fast mode with the in-view test off and
// the full step count gives byte for byte what the full mode gives, down
// to every UNet and VAE decoder output; with fewer steps it does not.
func TestFastNoSkipFullStepsIsFull(t *testing.T) {
	eng := tinyEngines(t)
	video := testVideo{w: 48, h: 32, n: 6}
	masks := twoPeople(video.w, video.h, video.n)
	run := func(fast *FastOptions) (snapshot, string) {
		e := eng
		unet, dec := &recorder{Engine: eng.UNet}, &recorder{Engine: eng.VAEDecoder}
		e.UNet, e.VAEDecoder = unet, dec
		opts := smallOptions(t.TempDir())
		opts.Fast = fast
		c, err := New(e, opts)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Complete(context.Background(), video, masks)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		for _, w := range res.Windows {
			if w.Skipped || w.NotSkipped != "" {
				t.Errorf("window %+v: the in-view test ran", w)
			}
		}
		return snap(t, res, video.n), fmt.Sprint(unet.sums, dec.sums)
	}
	full, fullRuns := run(nil)
	fast, fastRuns := run(&FastOptions{NoSkip: true, Steps: smallOptions("").Steps})
	if !equalSnap(full, fast) {
		t.Errorf("fast mode (no skip, full steps) differs from the full mode:\nfull %v %v\nfast %v %v", full.visible, full.spans, fast.visible, fast.spans)
	}
	if fullRuns != fastRuns {
		t.Errorf("engine outputs differ:\nfull %s\nfast %s", fullRuns, fastRuns)
	}
	if _, fewer := run(&FastOptions{NoSkip: true, Steps: 2}); fewer == fullRuns {
		t.Error("2 steps gave the same engine outputs as 3: the step count is not applied")
	}
}

// TestFastSkip drives fast mode with engines that always decode the same
// amodal box: a person whose modal mask is that box and who is fully in
// view is skipped, and gets exactly what the full mode hands on for that
// window (which finds no occluded frame there); a person touching the
// edge runs as in the full mode.
func TestFastSkip(t *testing.T) {
	const W, H, N, win = 64, 32, 8, 4
	amodalBox := image.Rect(16, 8, 32, 20) // the fake engines' decoded box at video size
	m := boxMasks{w: W, h: H, boxes: map[scene.PersonID][]*image.Rectangle{}}
	for i := range N {
		m.boxes[1] = append(m.boxes[1], &amodalBox)
		r := image.Rect(0, 10, 10, 20) // window 0: touching the left edge
		if i >= win {
			r = image.Rect(40, 10, 50, 20) // window 1: in view, clear of person 1
		}
		m.boxes[2] = append(m.boxes[2], &r)
	}
	video := testVideo{w: W, h: H, n: N}
	run := func(fast *FastOptions, dir string, masks boxMasks) (*Result, snapshot, int) {
		eng, unet := fakeEngines(func(x, y int) float32 { return float32(x) })
		opts := Options{Dir: dir, Steps: 2, Window: win, Height: 32, Width: 64, CompletionHeight: 16, CompletionWidth: 32, Fast: fast}
		c, err := New(eng, opts)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Complete(context.Background(), video, masks)
		if err != nil {
			t.Fatal(err)
		}
		return res, snap(t, res, N), len(unet.seen) + len(eng.UNetCompletion.(*fakeEngine).seen)
	}
	_, full, fullCalls := run(nil, t.TempDir(), m)
	dir := t.TempDir()
	res, fast, fastCalls := run(&FastOptions{Steps: 2}, dir, m)

	var got []string
	for _, w := range res.Windows {
		got = append(got, fmt.Sprintf("p%d@%d skipped=%v", w.Person, w.Start, w.Skipped))
		if !w.Skipped && !strings.Contains(w.NotSkipped, "of the edge") {
			t.Errorf("window %+v: reason %q, want the edge", w, w.NotSkipped)
		}
	}
	if want := "[p1@0 skipped=true p2@0 skipped=false p1@4 skipped=true p2@4 skipped=true]"; fmt.Sprint(got) != want {
		t.Errorf("windows %v, want %s", got, want)
	}
	// 2 steps a pass. Full: an amodal pass per person-window, plus a
	// completion pass for person 2 in both windows (the fake amodal box
	// misses its modal mask). Fast: person 2's window 0 only.
	if fullCalls != (4+2)*2 || fastCalls != 2*2 {
		t.Errorf("UNet calls: full %d, fast %d; want 12 and 4", fullCalls, fastCalls)
	}
	for f := range N {
		for _, id := range []int{1, 2} {
			k := [2]int{id, f}
			if id == 2 && f >= win { // skipped in fast mode; the fake engines "complete" it in the full mode
				if fast.masks[k] != string(maskOf(W, H, image.Rect(40, 10, 50, 20)).Pix) || fast.images[k] != "" {
					t.Errorf("person 2 frame %d: fast mode did not hand on the modal mask alone", f)
				}
				continue
			}
			if full.masks[k] != fast.masks[k] || full.images[k] != fast.images[k] {
				t.Errorf("person %d frame %d: fast mode's mask or image differs from the full mode's", id, f)
			}
		}
	}
	if fmt.Sprint(fast.visible[1]) != fmt.Sprint(full.visible[1]) || fmt.Sprint(fast.visible[2][:win]) != fmt.Sprint(full.visible[2][:win]) {
		t.Errorf("visibility differs: fast %v, full %v", fast.visible, full.visible)
	}
	for _, v := range fast.visible[2][win:] {
		if !v {
			t.Errorf("person 2 visible %v, want true on the skipped window", fast.visible[2])
			break
		}
	}

	// Another person's masks are part of a window's key in fast mode:
	// person 2 moving onto person 1 in window 1 re-runs person 1 there.
	moved := boxMasks{w: W, h: H, boxes: map[scene.PersonID][]*image.Rectangle{1: m.boxes[1]}}
	for i := range N {
		r := *m.boxes[2][i]
		if i >= win {
			r = image.Rect(30, 10, 40, 20)
		}
		moved.boxes[2] = append(moved.boxes[2], &r)
	}
	res, _, _ = run(&FastOptions{Steps: 2}, dir, moved)
	if w := res.Windows[2]; w.Person != 1 || w.Start != win || w.Skipped || !strings.Contains(w.NotSkipped, "another person") {
		t.Errorf("after person 2 moved onto person 1: %+v", w)
	}
}
