package amodal

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/body4d/body4d/scene"
)

// sliceNormal replays noise saved by the golden script.
type sliceNormal struct {
	name string
	data []float32
	pos  int
}

func (s *sliceNormal) fill(dst []float32) {
	if s.pos+len(dst) > len(s.data) {
		panic(fmt.Sprintf("golden noise %s: %d values asked after %d of %d", s.name, len(dst), s.pos, len(s.data)))
	}
	s.pos += copy(dst, s.data[s.pos:])
}

// maxDiff compares byte arrays: the largest difference and how many
// elements differ.
func maxDiff(got, want []uint8) (worst, n int) {
	for i := range want {
		d := int(got[i]) - int(want[i])
		if d != 0 {
			n++
		}
		worst = max(worst, max(d, -d))
	}
	return worst, n
}

// TestStageMatchesReference runs one window of one person through depth,
// amodal segmentation and a completion pass on the tiny engines and
// compares every intermediate the stage hands on with
// tools/golden/amodal/make_stage_golden.py, which re-runs the
// reference's arithmetic (PIL, cv2, onnxruntime, numpy) on the same
// frames, masks and noise.
func TestStageMatchesReference(t *testing.T) {
	const W, H, N, h, w, H2, W2 = 48, 32, 4, 32, 64, 16, 32
	span := Span{1, 3}
	eng := tinyEngines(t)
	c, err := New(eng, Options{Steps: 3, Window: N, Height: h, Width: w, CompletionHeight: H2, CompletionWidth: W2})
	if err != nil {
		t.Fatal(err)
	}
	noise := map[[2]int]string{
		{passAmodal, streamA}: "noise_a", {passAmodal, streamB}: "noise_b", {passAmodal, streamLatent}: "noise_x",
		{passCompletion, streamA}: "c_noise_a", {passCompletion, streamB}: "c_noise_b", {passCompletion, streamLatent}: "c_noise_x",
	}
	c.newNoise = func(k noiseKey) normalSource {
		name := "stage_" + noise[[2]int{k.pass, k.stream}] + ".npy"
		data := readNpy[float32](t, name)
		if k.frame >= 0 { // one frame's slice of the golden [F,3,h,w]
			n := 3 * h * w
			if k.pass == passCompletion {
				n = 3 * H2 * W2
			}
			data = data[k.frame*n : (k.frame+1)*n]
		}
		return &sliceNormal{name: name, data: data}
	}
	ctx := context.Background()
	video := testVideo{w: W, h: H, n: N}
	st, err := openStore(t.TempDir(), "parity")
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, err := c.depth(ctx, video, st, func() {})
	if err != nil {
		t.Fatal(err)
	}
	wantDepth := readNpy[float32](t, "stage_depth.npy")
	var worst float64
	dr := &videoRun{c: c, frames: video, st: st, info: video.Info()}
	for i := range N {
		d, err := dr.depthMap(ctx, i) // computed again, in the range pass's groups
		if err != nil {
			t.Fatalf("depth %d: %v", i, err)
		}
		normalizeDepth(d, lo, hi)
		for k, v := range d {
			worst = math.Max(worst, math.Abs(float64(v-wantDepth[i*h*w+k])))
		}
	}
	t.Logf("depth in [-1,1]: worst abs error %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("depth differs from the reference by %.3g > 1e-4", worst)
	}

	var mu sync.Mutex
	decoded := map[[2]int][]uint8{}
	run := &videoRun{c: c, frames: video, st: st, info: video.Info(), lo: lo, hi: hi,
		onDecoded: func(pass, i int, rgb []uint8) {
			mu.Lock()
			decoded[[2]int{pass, i}] = append([]uint8(nil), rgb...)
			mu.Unlock()
		}}
	modalPix := readUint8Npy(t, "stage_modal.npy")
	modal := make([]*scene.Mask, N)
	for i := range modal {
		modal[i] = &scene.Mask{W: W, H: H, Pix: modalPix[i*W*H : (i+1)*W*H]}
	}
	am, err := run.amodalPass(ctx, 1, 0, modal)
	if err != nil {
		t.Fatal(err)
	}
	compareBytes := func(what string, got func(i int) []uint8, want []uint8, per, frames, tol int) {
		t.Helper()
		for i := range frames {
			g := got(i)
			if len(g) != per {
				t.Fatalf("%s frame %d: %d values, want %d", what, i, len(g), per)
			}
			d, n := maxDiff(g, want[i*per:(i+1)*per])
			if d > tol {
				t.Errorf("%s frame %d: %d values differ, by up to %d > %d", what, i, n, d, tol)
			} else if n > 0 {
				t.Logf("%s frame %d: %d values differ by ≤ %d", what, i, n, d)
			}
		}
	}
	unpack := func(b [][]byte, w, h int) func(int) []uint8 {
		return func(i int) []uint8 {
			m, err := unpackMask(b[i], w, h)
			if err != nil {
				t.Fatal(err)
			}
			return m.Pix
		}
	}
	compareBytes("amodal decoded RGB", func(i int) []uint8 { return decoded[[2]int{passAmodal, i}] }, readUint8Npy(t, "stage_rgb.npy"), h*w*3, N, 1)
	compareBytes("amodal mask at video size", unpack(am.full, W, H), readUint8Npy(t, "stage_full.npy"), W*H, N, 0)
	compareBytes("completion-pass mask", unpack(am.com, W2, H2), readUint8Npy(t, "stage_com.npy"), W2*H2, N, 0)

	completed := map[int][]uint8{}
	err = run.completionPass(ctx, 1, 0, span, modal, am.com, func(i int, rgb []uint8) error {
		mu.Lock()
		completed[i] = rgb
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := span.End - span.Start + 1
	if len(completed) != n {
		t.Fatalf("completion emitted %d frames, want %d (End included)", len(completed), n)
	}
	compareBytes("completion decoded RGB", func(i int) []uint8 { return decoded[[2]int{passCompletion, span.Start + i}] }, readUint8Npy(t, "stage_c_rgb.npy"), H2*W2*3, n, 1)
	// cv2's INTER_LINEAR is 11-bit fixed point; the stage's is float.
	compareBytes("completed frame at video size", func(i int) []uint8 { return completed[span.Start+i] }, readUint8Npy(t, "stage_completed.npy"), H*W*3, n, 1)
}
