package mesh

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/body4d/body4d/engine"
)

// The accepted-hands scenario of tools/golden/mesh/stage.py --full
// (testdata/mesh/stage_hands.npz): chosen head outputs instead of the
// tiny engines, so that hands pass the acceptance test. The fake engines
// below return those outputs, finding each crop's entry by its CLIFF
// condition and carrying the entry's index through the layers in the
// pose token.

type scenEntry struct {
	key, kind string // "f0_p1", "body" | "left" | "right" | "rerun"
	cond      []float64
	pose, cam []float32
	hands     []float32
}

type scenario struct {
	g       goldenNPZ
	entries []scenEntry
	mu      sync.Mutex
	prompts map[string][]float32 // decoder_prompt's prompt per person
	prev    map[string][]float32 // and its prev_estimate
	// lenient: a crop with no entry gets its kind's first entry (for
	// tests that move the hand boxes).
	lenient bool
}

func loadScenario(t *testing.T) *scenario {
	g := openNPZ(t, "stage_hands.npz")
	s := &scenario{g: g, prompts: map[string][]float32{}, prev: map[string][]float32{}}
	re := regexp.MustCompile(`^eng_(f\d+_p\d+)_(body|left|right|rerun)_cond\.npy$`)
	var names []string
	for _, k := range g.r.Keys() {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		m := re.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		base := "eng_" + m[1] + "_" + m[2] + "_"
		e := scenEntry{key: m[1], kind: m[2], cond: g.f64(base + "cond"), pose: f32s(g.f64(base + "pose")), cam: f32s(g.f64(base + "camera"))}
		if m[2] == "body" {
			e.hands = f32s(g.f64(base + "hand_boxes"))
		}
		s.entries = append(s.entries, e)
	}
	if len(s.entries) != 16 {
		t.Fatalf("scenario has %d engine entries, want 16", len(s.entries))
	}
	return s
}

// find returns the entry of kind whose condition is c.
func (s *scenario) find(kinds []string, c []float32) (int, error) {
	for i, e := range s.entries {
		ok := false
		for _, k := range kinds {
			ok = ok || e.kind == k
		}
		if !ok {
			continue
		}
		near := true
		for k := range 3 {
			near = near && math.Abs(float64(c[k])-e.cond[k]) <= 1e-5*max(1, math.Abs(e.cond[k]))
		}
		if near {
			return i, nil
		}
	}
	if s.lenient {
		for i, e := range s.entries {
			if e.kind == kinds[0] {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("no %v entry with condition %v", kinds, c)
}

// heads builds an engine's outputs for the given entries.
func (s *scenario) heads(ids []int, hand bool) map[string]*engine.Tensor {
	n := len(ids)
	N := int64(n)
	tokens := make([]float32, n*TokenDim)
	pose := make([]float32, n*NumPose)
	cam := make([]float32, n*3)
	boxes := make([]float32, n*8)
	for b, id := range ids {
		e := s.entries[id]
		tokens[b*TokenDim] = float32(id)
		copy(pose[b*NumPose:], e.pose)
		copy(cam[3*b:], e.cam)
		copy(boxes[8*b:], e.hands)
	}
	out := map[string]*engine.Tensor{
		"tokens": engine.Must(engine.FromFloat32(engine.Shape{N, 1, TokenDim}, tokens)), "augment": engine.Must(engine.FromFloat32(engine.Shape{N, 1, TokenDim}, make([]float32, n*TokenDim))),
		"pose": engine.Must(engine.FromFloat32(engine.Shape{N, NumPose}, pose)), "camera": engine.Must(engine.FromFloat32(engine.Shape{N, 3}, cam)),
	}
	if !hand {
		out["hand_boxes"] = engine.Must(engine.FromFloat32(engine.Shape{N, 2, 4}, boxes))
	}
	return out
}

type scenStage struct {
	backbone, decoder, prompt, hand *fakeEngine
	layers, handLayers              []*fakeEngine
}

func (s *scenario) stage(t *testing.T) *scenStage {
	first := func(name string, kinds []string, hand bool) *fakeEngine {
		return &fakeEngine{name: name, run: func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
			cond := in["condition"].Float32()
			ids := make([]int, n)
			for b := range n {
				id, err := s.find(kinds, cond[3*b:3*b+3])
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				ids[b] = id
				if name == EngineDecoderPrompt {
					np := int(in["prompt"].Shape()[1])
					s.mu.Lock()
					s.prompts[s.entries[id].key] = append([]float32(nil), in["prompt"].Float32()[3*np*b:3*np*(b+1)]...)
					s.prev[s.entries[id].key] = append([]float32(nil), in["prev_estimate"].Float32()[PrevEstimateDim*b:PrevEstimateDim*(b+1)]...)
					s.mu.Unlock()
				}
			}
			out := s.heads(ids, hand)
			out["context"] = engine.Must(engine.FromFloat32(engine.Shape{int64(n), FeatureDim, Grid, Grid}, make([]float32, n*FeatureDim*Grid*Grid)))
			return out
		}}
	}
	layer := func(name string, hand bool) *fakeEngine {
		return &fakeEngine{name: name, run: func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
			tok := in["prev_tokens"].Float32()
			T := int(in["prev_tokens"].Shape()[1])
			ids := make([]int, n)
			for b := range n {
				ids[b] = int(tok[b*T*TokenDim])
			}
			return s.heads(ids, hand)
		}}
	}
	st := &scenStage{
		backbone: &fakeEngine{name: "backbone", run: func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
			return map[string]*engine.Tensor{"features": engine.Must(engine.FromFloat32(engine.Shape{int64(n), FeatureDim, Grid, Grid}, make([]float32, n*FeatureDim*Grid*Grid)))}
		}},
		decoder: first(EngineDecoder, []string{"body"}, false),
		prompt:  first(EngineDecoderPrompt, []string{"rerun"}, false),
		hand:    first(EngineHandDecoder, []string{"left", "right"}, true),
	}
	for i := 1; i < Layers; i++ {
		st.layers = append(st.layers, layer(refineEngine(i), false))
		st.handLayers = append(st.handLayers, layer(handRefineEngine(i), true))
	}
	return st
}

func (s *scenario) recoverer(t *testing.T, st *scenStage, opts Options) *Recoverer {
	hh, err := readHandHead(filepath.Join(tinyDir, "mesh_hand_head.npz"))
	if err != nil {
		t.Fatal(err)
	}
	tw := s.g.f64("twist_joint_rotation")
	copy(hh.TwistRotation[0][:], tw[:9])
	copy(hh.TwistRotation[1][:], tw[9:])
	head, err := readHead(filepath.Join(tinyDir, "mesh_head.npz"))
	if err != nil {
		t.Fatal(err)
	}
	eng := func(fs []*fakeEngine) []engine.Engine {
		out := make([]engine.Engine, len(fs))
		for i, f := range fs {
			out[i] = f
		}
		return out
	}
	opts.Mode = ModeFull
	r, err := newFull(st.backbone, st.decoder, eng(st.layers), &Hands{DecoderPrompt: st.prompt, Decoder: st.hand, Layers: eng(st.handLayers), Head: hh}, tinyMHR(t), head, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestScenarioFull runs full mode on the scenario's head outputs and
// compares with the reference's run_inference on the same outputs: hands
// accepted and rejected, the multi-person prompts with dummies, a lone
// person's dropped prompts, the merge and the final reprojection.
func TestScenarioFull(t *testing.T) {
	s := loadScenario(t)
	for _, batch := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			st := s.stage(t)
			r := s.recoverer(t, st, Options{MaxBatch: batch})
			s.check(t, r)
		})
	}
}

func (s *scenario) check(t *testing.T, r *Recoverer) {
	t.Helper()
	s.prompts, s.prev = map[string][]float32{}, map[string][]float32{}
	worst := map[string]float64{}
	n, accepted := 0, 0
	err := r.RecoverFrames(context.Background(), fullInput(), func(fr *FrameResult) error {
		n += compareFull(t, s.g, fr, worst)
		for _, p := range fr.People {
			if p.HandsAccepted != nil {
				for _, a := range p.HandsAccepted {
					if a {
						accepted++
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || accepted != 5 {
		t.Fatalf("compared %d people with %d hands accepted, want 4 and 5", n, accepted)
	}
	// The prompts the body decoder was re-run with.
	for _, key := range []string{"f0_p1", "f0_p2", "f1_p1", "f2_p2"} {
		want := s.g.f64(key + "_prompt")
		got := s.prompts[key]
		if len(got) != len(want) {
			t.Fatalf("%s: re-run with %d prompt values, want %d", key, len(got), len(want))
		}
		worst["prompt"] = max(worst["prompt"], compare(t, key+" prompt", f64s(got), want, goldenTol))
		var body scenEntry
		for _, e := range s.entries {
			if e.key == key && e.kind == "body" {
				body = e
			}
		}
		wantPrev := append(append([]float32(nil), body.pose...), body.cam...)
		clear(wantPrev[offFace:NumPose])
		compare(t, key+" prev_estimate", f64s(s.prev[key]), f64s(wantPrev), 0)
	}
	t.Logf("max relative error vs the reference's run_inference: %v", worst)
}

// TestScenarioFullOOM: out-of-memory in a hand engine halves the batch
// and retries the same people; every person comes out once and right.
func TestScenarioFullOOM(t *testing.T) {
	s := loadScenario(t)
	st := s.stage(t)
	st.handLayers[2].failAbove = 1
	r := s.recoverer(t, st, Options{MaxBatch: 8})
	s.check(t, r)
	if st.handLayers[2].fails == 0 {
		t.Fatal("the hand engine never ran out of memory")
	}
	for _, n := range st.handLayers[2].sizes {
		if n > 1 {
			t.Fatalf("hand layer ran a batch of %d after running out of memory", n)
		}
	}
}

// TestFullBadInput: full mode on bad engine outputs. A hand box outside
// the frame is the reference's business as usual (a black crop whose hand
// fails the acceptance test); a hand box of zero size and a NaN from a
// hand engine are errors naming the frame and person.
func TestFullBadInput(t *testing.T) {
	setBox := func(s *scenario, key string, box [8]float32) {
		for i := range s.entries {
			if s.entries[i].key == key && s.entries[i].kind == "body" {
				s.entries[i].hands = box[:]
			}
		}
	}
	for _, c := range []struct {
		name    string
		prepare func(s *scenario, st *scenStage)
		wantErr string
		check   func(t *testing.T, fr *FrameResult)
	}{
		{
			name: "hand box outside the frame",
			prepare: func(s *scenario, _ *scenStage) {
				// Both hand boxes at the body crop's corner: outside the
				// 160×120 frame for person 2 on frame 2.
				setBox(s, "f2_p2", [8]float32{0.999, 0.999, 0.3, 0.3, 0.001, 0.999, 0.3, 0.3})
			},
			check: func(t *testing.T, fr *FrameResult) {
				for _, p := range fr.People {
					if fr.Frame == 2 && p.ID == 2 {
						if p.HandsAccepted == nil || p.HandsAccepted[0] || p.HandsAccepted[1] {
							t.Errorf("frame 2 person 2: hands outside the frame accepted: %v", p.HandsAccepted)
						}
						if b := p.RightHandBox; b == nil || (b[0] >= 0 && b[3] <= fullH) {
							t.Errorf("frame 2 person 2: right hand box %v is inside the frame", b)
						}
					}
				}
			},
		},
		{
			name:    "hand box of zero size",
			prepare: func(s *scenario, _ *scenStage) { setBox(s, "f1_p1", [8]float32{0.5, 0.5, 0, 0, 0.5, 0.5, 0.3, 0.3}) },
			wantErr: "frame 1 person 1: left hand box",
		},
		{
			name: "NaN from the hand decoder",
			prepare: func(_ *scenario, st *scenStage) {
				run := st.handLayers[3].run
				st.handLayers[3].run = func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
					out := run(in, n)
					out["camera"].Float32()[3*(n-1)+1] = float32(math.NaN())
					return out
				}
			},
			wantErr: "hand_decoder_layer4 output \"camera\" has NaN",
		},
		{
			name: "NaN from the prompted decoder",
			prepare: func(_ *scenario, st *scenStage) {
				run := st.prompt.run
				st.prompt.run = func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
					out := run(in, n)
					out["pose"].Float32()[7] = float32(math.Inf(1))
					return out
				}
			},
			wantErr: "decoder_prompt output \"pose\" has +Inf",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := loadScenario(t)
			s.lenient = true
			st := s.stage(t)
			c.prepare(s, st)
			r := s.recoverer(t, st, Options{MaxBatch: 4})
			err := r.RecoverFrames(context.Background(), fullInput(), func(fr *FrameResult) error {
				if c.check != nil {
					c.check(t, fr)
				}
				return nil
			})
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// TestFullResume: full mode's work directory marks its frames, a second
// full run reads them back, and body mode recomputes them.
func TestFullResume(t *testing.T) {
	s := loadScenario(t)
	dir := t.TempDir()
	st := s.stage(t)
	s.check(t, s.recoverer(t, st, Options{Dir: dir, MaxBatch: 4}))
	st2 := s.stage(t)
	s.prompts = nil
	err := s.recoverer(t, st2, Options{Dir: dir, MaxBatch: 4}).RecoverFrames(context.Background(), fullInput(), func(fr *FrameResult) error {
		compareFull(t, s.g, fr, map[string]float64{})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.decoder.sizes) != 0 || len(st2.hand.sizes) != 0 {
		t.Fatalf("second full run recomputed: decoder %v, hand decoder %v", st2.decoder.sizes, st2.hand.sizes)
	}
	st3 := s.stage(t)
	s.lenient = true
	body, err := newBodyRecoverer(st3.backbone, st3.decoder, s.recoverer(t, st3, Options{}).layers, tinyMHR(t), testHead(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	err = body.RecoverFrames(context.Background(), fullInput(), func(fr *FrameResult) error {
		if fr.Mode != "" || fr.People[0].LeftHandBox != nil {
			t.Errorf("frame %d: body mode returned a full-mode result", fr.Frame)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st3.decoder.sizes) == 0 {
		t.Fatal("body mode reused full-mode frames")
	}
}
