package amodal

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/engine/ort/orttest"
	"github.com/body4d/body4d/internal/npytest"
	"github.com/body4d/body4d/scene"
)

// TestReferenceBench is the Go side of tools/golden/amodal/bench.sh: it
// runs the stage on the inputs tools/golden/amodal/bench.py ran the
// reference on (its decoded frames and label images, in
// BODY4D_AMODAL_REF), replaying the reference's noise, times Complete,
// and checks the hand-off against the reference's: the same completed
// spans and visibility, masks at IoU ≥ 0.999 on every frame, completed
// frames within 1 per byte (the stage parity test's levels). Skipped
// unless BODY4D_AMODAL_REF names such a folder.
func TestReferenceBench(t *testing.T) {
	dir := os.Getenv("BODY4D_AMODAL_REF")
	if dir == "" {
		t.Skip("BODY4D_AMODAL_REF is not set: run tools/golden/amodal/bench.sh")
	}
	var ref struct {
		Steps, Window, Height, Width, Threads int
		People                                []int
		Windows                               []struct {
			Person, Start int
			Span          *[2]int
		}
		Visible   map[string][]bool
		Completed map[string][]int
		WallS     float64 `json:"wall_s"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	read := func(name string) ([]uint8, []int) { return npytest.ReadShape[uint8](t, filepath.Join(dir, name)) }
	pix, fs := read("frames.npy")
	labels, _ := read("labels.npy")
	video := npyVideo{n: fs[0], h: fs[1], w: fs[2], pix: pix}
	masks := labelMasks{w: video.w, h: video.h, labels: labels}
	for _, p := range ref.People {
		masks.people = append(masks.people, scene.PersonID(p))
	}
	// The reference's noise, loaded before the clock starts.
	noise := map[string][]float32{}
	for _, w := range ref.Windows {
		for _, kind := range []string{"a", "c"} {
			for _, s := range []string{"a", "b", "x"} {
				name := fmt.Sprintf("%s_%d_%d_%s", kind, w.Person, w.Start, s)
				if _, err := os.Stat(filepath.Join(dir, "noise", name+".npy")); err == nil {
					noise[name], _ = npytest.ReadShape[float32](t, filepath.Join(dir, "noise", name+".npy"))
				}
			}
		}
	}
	rt := orttest.Runtime(t, ort.Options{IntraOpThreads: ref.Threads})
	c, err := Open(orttest.Tiny(t), rt.Load, Options{Dir: t.TempDir(), Steps: ref.Steps, Window: ref.Window,
		Height: ref.Height, Width: ref.Width, CompletionHeight: ref.Height, CompletionWidth: ref.Width,
		Occlusion: OcclusionOptions{LongCheckOnlyObject1: true, ExclusiveSpanEnd: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.newNoise = func(k noiseKey) normalSource {
		kind, s := "a", "abx"[k.stream:k.stream+1]
		h, w := c.opts.Height, c.opts.Width
		if k.pass == passCompletion {
			kind, h, w = "c", c.opts.CompletionHeight, c.opts.CompletionWidth
		}
		name := fmt.Sprintf("%s_%d_%d_%s", kind, k.person, k.start, s)
		d, ok := noise[name]
		if !ok {
			panic("the reference drew no noise " + name + ": the stage ran a pass the reference did not")
		}
		if k.frame >= 0 {
			n := 3 * h * w
			d = d[k.frame*n : (k.frame+1)*n]
		}
		return &sliceNormal{name: name, data: d}
	}

	t0 := time.Now()
	res, err := c.Complete(context.Background(), video, masks)
	wall := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	fmt.Printf("go stage: %d ms\nreference stage: %.0f ms\nGo/reference wall time: %.3f\n",
		wall.Milliseconds(), ref.WallS*1000, wall.Seconds()/ref.WallS)

	// The hand-off, against the reference's.
	var spans []string
	for _, w := range ref.Windows {
		if w.Span != nil {
			spans = append(spans, fmt.Sprintf("%d:%d-%d", w.Person, w.Start+w.Span[0], w.Start+w.Span[1]))
		}
	}
	var got []string
	for _, p := range ref.People {
		for _, s := range res.Spans[scene.PersonID(p)] {
			got = append(got, fmt.Sprintf("%d:%d-%d", p, s.Start, s.End))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(spans) {
		t.Errorf("completed spans %v, reference %v", got, spans)
	}
	worstIoU, worstDiff, diffBytes := 1.0, 0, 0
	for _, p := range ref.People {
		id := scene.PersonID(p)
		if fmt.Sprint(res.Visible[id]) != fmt.Sprint(ref.Visible[strconv.Itoa(p)]) {
			t.Errorf("person %d: visible %v, reference %v", p, res.Visible[id], ref.Visible[strconv.Itoa(p)])
		}
		hand, _ := read(fmt.Sprintf("handoff_%d.npy", p))
		comp, _ := read(fmt.Sprintf("completed_%d.npy", p))
		px := video.w * video.h
		for f := range video.n {
			m, err := res.Masks.Mask(f, id)
			if err != nil {
				t.Fatal(err)
			}
			want := &scene.Mask{W: video.w, H: video.h, Pix: hand[f*px : (f+1)*px]}
			if m == nil {
				if want.Area() != 0 {
					t.Errorf("person %d frame %d: no mask, reference area %d", p, f, want.Area())
				}
				continue
			}
			iou, err := scene.IoU(m, want)
			if err != nil {
				t.Fatalf("person %d frame %d: %v", p, f, err)
			}
			worstIoU = min(worstIoU, iou)
		}
		frames := ref.Completed[strconv.Itoa(p)]
		for j, f := range frames {
			img, err := res.Images(id, f)
			if err != nil || img == nil {
				t.Fatalf("person %d frame %d: no completed frame (%v); the reference has one", p, f, err)
			}
			d, n := maxDiff(img.Pix[:3*px], comp[j*3*px:(j+1)*3*px])
			worstDiff, diffBytes = max(worstDiff, d), diffBytes+n
		}
	}
	fmt.Printf("hand-off vs reference: worst mask IoU %.6f, completed frames differ in %d bytes by at most %d\n", worstIoU, diffBytes, worstDiff)
	if worstIoU < 0.999 {
		t.Errorf("worst mask IoU %.6f < 0.999", worstIoU)
	}
	if worstDiff > 1 {
		t.Errorf("completed frames differ by up to %d > 1", worstDiff)
	}
}

// npyVideo serves frames [n,h,w,3] from memory.
type npyVideo struct {
	n, h, w int
	pix     []uint8
}

func (v npyVideo) Info() scene.VideoInfo {
	return scene.VideoInfo{Width: v.w, Height: v.h, Frames: v.n, FPS: scene.Rational{Num: 30000, Den: 1001}}
}

func (v npyVideo) Frame(i int) (*scene.RGB, error) {
	if i < 0 || i >= v.n {
		return nil, fmt.Errorf("no frame %d", i)
	}
	n := 3 * v.w * v.h
	return &scene.RGB{Pix: v.pix[i*n : (i+1)*n], Stride: 3 * v.w, Rect: image.Rect(0, 0, v.w, v.h)}, nil
}

// labelMasks serves label images [n,h,w] (pixel = person id); a person
// with no pixel on a frame is absent.
type labelMasks struct {
	w, h   int
	labels []uint8
	people []scene.PersonID
}

func (m labelMasks) People() []scene.PersonID { return m.people }

func (m labelMasks) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	px := m.w * m.h
	if frame < 0 || (frame+1)*px > len(m.labels) {
		return nil, fmt.Errorf("no frame %d", frame)
	}
	mk := scene.NewMask(m.w, m.h)
	any := false
	for i, v := range m.labels[frame*px : (frame+1)*px] {
		if scene.PersonID(v) == id {
			mk.Pix[i], any = 1, true
		}
	}
	if !any {
		return nil, nil
	}
	return mk, nil
}
