package segment

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/internal/resample"
)

// The goldens of tools/golden/segment/make_golden.py: the reference sam3
// tracker's own functions run on inputs this test rebuilds exactly.
var goldenDir = filepath.Join("..", "testdata", "segment")

type hostGolden struct {
	Memory []struct {
		Name      string      `json:"name"`
		Selection bool        `json:"selection"`
		MaxCond   int         `json:"max_cond"`
		T         int         `json:"t"`
		Reverse   bool        `json:"reverse"`
		NumFrames int         `json:"num_frames"`
		Cond      []int       `json:"cond"`
		Tracked   [][]float64 `json:"tracked"`
		NumPtrTok int         `json:"num_obj_ptr_tokens"`
		FrameFilt []int       `json:"frame_filter"`
	} `json:"memory"`
	Image struct {
		Frame  string `json:"frame"`
		SHA256 string `json:"sha256_float32"`
	} `json:"image"`
	ResizePositive map[string]int `json:"resize_positive"`
}

func readGolden(t *testing.T) (*hostGolden, *zip.ReadCloser) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "host_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g hostGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	z, err := zip.OpenReader(filepath.Join(goldenDir, "host_golden.npz"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return &g, z
}

// npzRead reads one array of the golden archive into dst (*[]float32,
// *[]int64 or *[]int32).
func npzRead(t *testing.T, z *zip.ReadCloser, name string, dst any) {
	t.Helper()
	f, err := z.Open(name + ".npy")
	if err != nil {
		t.Fatalf("golden array %s: %v", name, err)
	}
	defer f.Close()
	rd, err := npy.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Read(dst); err != nil {
		t.Fatalf("golden array %s: %v", name, err)
	}
}

// tinyPattern is make_golden.py's (and engine/ort's) input formula.
func tinyPattern(n int, seed int64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(float64((int64(i)*7919+seed)%2003)/1001.5 - 1)
	}
	return out
}

func tinyConstants(t *testing.T) *Constants {
	t.Helper()
	f, err := os.Open(filepath.Join(tinyDir, "segment_constants.npz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	c, err := ReadConstants(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoldenMemory: the memory attention's prompt and prompt_pos, and the
// number of pointer tokens, match what the reference's
// _prepare_memory_conditioned_features assembles from the same memory
// bank, for SAM-3 and SAM-2.1 settings, forward and backward. Clicked
// frames enter in a different order (the reference keeps dict order;
// attention does not depend on key order), so memories are matched as
// blocks: each reference block must equal one block here.
func TestGoldenMemory(t *testing.T) {
	g, z := readGolden(t)
	c := tinyConstants(t)
	const B, hw = 2, 2
	pos := tinyPattern(memDim*hw, 7)
	entry := func(f int) *memEntry {
		mm := tinyPattern(B*memDim*hw, int64(1000+f))
		e := &memEntry{frame: f, maskmem: make([]uint16, len(mm)), ptr: tinyPattern(B*hiddenDim, int64(5000+f))}
		for i, v := range mm {
			e.maskmem[i] = floatToBF16(v)
		}
		return e
	}
	if len(g.Memory) == 0 {
		t.Fatal("no memory scenarios in the golden")
	}
	for _, sc := range g.Memory {
		t.Run(sc.Name, func(t *testing.T) {
			b := newBank()
			for _, f := range sc.Cond {
				b.cond[f] = entry(f)
			}
			for _, fe := range sc.Tracked {
				e := entry(int(fe[0]))
				e.effIoU, e.hasEff = float32(fe[1]), true
				b.nonCond[e.frame] = e
			}
			cfg := SAM3()
			cfg.MemorySelection, cfg.MaxCondFrames = sc.Selection, sc.MaxCond
			if sc.Selection {
				got := b.frameFilter(sc.T, sc.Reverse, sc.NumFrames, cfg.MaxObjPtrs, cfg.SelectionThreshold)
				if fmt.Sprint(got) != fmt.Sprint(sc.FrameFilt) {
					t.Errorf("frame filter %v, reference %v", got, sc.FrameFilt)
				}
			}
			p := b.plan(sc.T, sc.Reverse, sc.NumFrames, cfg)
			prompt, ppos, nptr := b.promptTensors(p, B, hw, pos, c, min(sc.NumFrames, cfg.MaxObjPtrs))
			if nptr != sc.NumPtrTok {
				t.Errorf("%d pointer tokens, reference %d", nptr, sc.NumPtrTok)
			}
			var wantPrompt, wantPos []float32
			npzRead(t, z, sc.Name+"_prompt", &wantPrompt)
			npzRead(t, z, sc.Name+"_pos", &wantPos)
			if len(prompt) != len(wantPrompt) {
				t.Fatalf("%d prompt values, reference %d", len(prompt), len(wantPrompt))
			}
			nSpatial := (len(wantPrompt)/(B*memDim) - sc.NumPtrTok) / hw
			blocks := func(v []float32) [][]float32 {
				var out [][]float32
				k := 0
				for range nSpatial {
					out = append(out, v[k:k+hw*B*memDim])
					k += hw * B * memDim
				}
				for k < len(v) {
					out = append(out, v[k:k+ptrTokens*B*memDim])
					k += ptrTokens * B * memDim
				}
				return out
			}
			gp, gq, wp, wq := blocks(prompt), blocks(ppos), blocks(wantPrompt), blocks(wantPos)
			used := make([]bool, len(gp))
			for i := range wp {
				found := -1
				for j := range gp {
					if !used[j] && len(gp[j]) == len(wp[i]) && equal(gp[j], wp[i]) && maxDiff(gq[j], wq[i]) < 1e-5 {
						found = j
						break
					}
				}
				if found < 0 {
					t.Errorf("reference memory block %d (of %d) has no match here", i, len(wp))
					continue
				}
				used[found] = true
			}
		})
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// fakeEngine is an engine with a given contract whose Run is a function.
type fakeEngine struct {
	info engine.Info
	run  func(in map[string]*engine.Tensor) map[string]*engine.Tensor
}

func (e fakeEngine) Info() engine.Info { return e.info }
func (e fakeEngine) Close() error      { return nil }
func (e fakeEngine) Run(_ context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	return e.run(in), nil
}

// smallTracker is a tracker on fake engines at a 56² model size (16²
// low-res masks) for testing the host logic against the goldens.
func smallTracker(t *testing.T, dec, memenc func(map[string]*engine.Tensor) map[string]*engine.Tensor) *Tracker {
	cfg := SAM3()
	cfg.ImageSize = 56
	cs := contractsFor(cfg)
	info := func(i int) engine.Info {
		in, out := cs[i].Inputs, cs[i].Outputs
		return engine.Info{Inputs: in, Outputs: out}
	}
	none := func(map[string]*engine.Tensor) map[string]*engine.Tensor { return nil }
	tr, err := New(Engines{
		Image: fakeEngine{info(0), none}, MemoryAttention: fakeEngine{info(1), none},
		MaskDecoder: fakeEngine{info(2), dec}, MemoryEncoder: fakeEngine{info(3), memenc},
	}, tinyConstants(t), Options{Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestGoldenHeads: the multimask choice, stability fallback, object-score
// gating and pointer choice match the reference's _forward_sam_heads on
// the same decoder outputs.
func TestGoldenHeads(t *testing.T) {
	_, z := readGolden(t)
	const B, L = 3, 16
	var masks, iou, ptrAll, score []float32
	npzRead(t, z, "heads_masks", &masks)
	npzRead(t, z, "heads_iou", &iou)
	npzRead(t, z, "heads_ptr_all", &ptrAll)
	npzRead(t, z, "heads_score", &score)
	tr := smallTracker(t, func(map[string]*engine.Tensor) map[string]*engine.Tensor {
		return map[string]*engine.Tensor{
			"masks": engine.Must(engine.FromFloat32(engine.Shape{B, 4, L, L}, masks)), "iou": engine.Must(engine.FromFloat32(engine.Shape{B, 4}, iou)),
			"obj_ptr": engine.Must(engine.FromFloat32(engine.Shape{B, 4, hiddenDim}, ptrAll)), "obj_score": engine.Must(engine.FromFloat32(engine.Shape{B, 1}, score)),
		}
	}, nil)
	f := &features{fpn0: make([]float32, 32*L*L), fpn1: make([]float32, 64*L*L/4)}
	feat := make([]float32, B*hiddenDim*4*4)
	coords, labels := make([]float32, B*2*2), make([]int32, B*2)
	for _, key := range []string{"multi", "single"} {
		d, err := tr.decode(context.Background(), 0, f, feat, B, coords, labels, nil, key == "multi")
		if err != nil {
			t.Fatal(err)
		}
		var low, ptr, best []float32
		npzRead(t, z, "heads_"+key+"_low", &low)
		npzRead(t, z, "heads_"+key+"_ptr", &ptr)
		npzRead(t, z, "heads_"+key+"_iou", &best)
		for b := range B {
			if !equal(d.logits[b], low[b*L*L:(b+1)*L*L]) {
				t.Errorf("%s, object %d: chosen mask differs from the reference's", key, b)
			}
			if maxDiff(d.ptr[b], ptr[b*hiddenDim:(b+1)*hiddenDim]) > 1e-6 {
				t.Errorf("%s, object %d: pointer differs from the reference's", key, b)
			}
			if d.iou[b] != best[b] {
				t.Errorf("%s, object %d: IoU %v, reference %v", key, b, d.iou[b], best[b])
			}
		}
	}
}

// TestGoldenMemoryEncoderInput: the mask the memory encoder gets
// (binarised and made non-overlapping on clicked frames, sigmoid on
// tracked ones, ×20−10) and the stored memory (no-object embedding added,
// bfloat16) match the reference's.
func TestGoldenMemoryEncoderInput(t *testing.T) {
	_, z := readGolden(t)
	const B, L, S = 3, 16, 56
	var logits, score, feats []float32
	npzRead(t, z, "memenc_logits", &logits)
	npzRead(t, z, "memenc_score", &score)
	npzRead(t, z, "memenc_feats", &feats)
	var got []float32
	tr := smallTracker(t, nil, func(in map[string]*engine.Tensor) map[string]*engine.Tensor {
		got = append([]float32(nil), in["mask"].Float32()...)
		return map[string]*engine.Tensor{
			"maskmem":     engine.Must(engine.FromFloat32(engine.Shape{B, memDim, 4, 4}, append([]float32(nil), feats...))),
			"maskmem_pos": engine.Must(engine.FromFloat32(engine.Shape{B, memDim, 4, 4}, append([]float32(nil), feats...))),
		}
	})
	f := &features{fpn2: make([]float32, hiddenDim*4*4)}
	per := make([][]float32, B)
	for b := range B {
		per[b] = logits[b*L*L : (b+1)*L*L]
	}
	for _, key := range []string{"binarised", "sigmoid"} {
		mem, _, err := tr.encodeMemory(context.Background(), 0, f, per, score, key == "binarised")
		if err != nil {
			t.Fatal(err)
		}
		var want []float32
		var wantMem []int32
		npzRead(t, z, "memenc_"+key+"_mask", &want)
		npzRead(t, z, "memenc_"+key+"_mem_bf16", &wantMem)
		if d := maxDiff(got, want); d > 5e-5 || len(got) != B*S*S {
			t.Errorf("%s: memory encoder mask differs from the reference's by %g", key, d)
		}
		for i, w := range wantMem {
			if mem[i] != uint16(w) {
				t.Fatalf("%s: stored memory value %d is %#x, reference %#x", key, i, mem[i], uint16(w))
			}
		}
	}
}

// TestGoldenImageInput: frames are resized and normalised bit for bit as
// the reference's frame loader does (PIL bicubic, then [-1,1]).
func TestGoldenImageInput(t *testing.T) {
	g, _ := readGolden(t)
	img, err := readPNG(filepath.Join(goldenDir, g.Image.Frame))
	if err != nil {
		t.Fatal(err)
	}
	x := modelInput(img, 1008, SAM3().Mean, SAM3().Std)
	buf := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	sum := sha256.Sum256(buf)
	if got := hex.EncodeToString(sum[:]); got != g.Image.SHA256 {
		t.Errorf("model input sha256 %s, reference %s", got, g.Image.SHA256)
	}
}

// TestGoldenResize: 288² logits resized to the frame (and to the model
// size for the memory encoder) as torch's bilinear interpolation does.
func TestGoldenResize(t *testing.T) {
	g, z := readGolden(t)
	lo := tinyPattern(288*288, 31)
	for i := range lo {
		lo[i] *= 3
	}
	for _, sz := range [][2]int{{360, 640}, {1008, 1008}} {
		h, w := sz[0], sz[1]
		key := fmt.Sprintf("%dx%d", h, w)
		dst := make([]float32, h*w)
		resample.InterpolateBilinear(lo, 288, 288, w, h, dst)
		var idx []int64
		var val []float32
		npzRead(t, z, "resize_"+key+"_index", &idx)
		npzRead(t, z, "resize_"+key+"_value", &val)
		var d float64
		for k, i := range idx {
			d = math.Max(d, math.Abs(float64(dst[i]-val[k])))
		}
		if d > 1e-5 {
			t.Errorf("%s: max difference %g from torch", key, d)
		}
		area := thresholdMask(lo, 288, w, h).Area()
		if want := g.ResizePositive[key]; area != want {
			t.Errorf("%s: %d pixels above 0, reference %d", key, area, want)
		}
	}
}
