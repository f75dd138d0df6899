package mesh

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"sync"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

// The fakes below stand in for the networks: the decoder writes each
// crop's CLIFF condition into its shape parameters and carries it in the
// pose token through the layers, so every result says which crop it
// came from. Each engine can fail with out-of-memory above a batch size.

type fakeEngine struct {
	name      string
	failAbove int // 0: never
	oomErr    func(n int) error
	run       func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor

	mu    sync.Mutex
	sizes []int // batch sizes of successful runs
	fails int
}

func (f *fakeEngine) Info() engine.Info { return engine.Info{} }
func (f *fakeEngine) Close() error      { return nil }
func (f *fakeEngine) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	var n int
	for _, t := range in {
		n = int(t.Shape()[0])
		break
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAbove > 0 && n > f.failAbove {
		f.fails++
		if f.oomErr != nil {
			return nil, f.oomErr(n)
		}
		return nil, fmt.Errorf("%s: %w", f.name, ErrOutOfMemory)
	}
	f.sizes = append(f.sizes, n)
	return f.run(in, n), nil
}

const fakeTokens = 145

// fakeHeads builds pose, camera and hand boxes from the 3 values carried
// in each crop's first token.
func fakeHeads(tokens []float32, n int) map[string]*engine.Tensor {
	pose := make([]float32, n*NumPose)
	cam := make([]float32, n*3)
	for b := range n {
		p := pose[b*NumPose : (b+1)*NumPose]
		copy(p, zeroPose())
		copy(p[offShape:], tokens[b*fakeTokens*TokenDim:b*fakeTokens*TokenDim+3])
		cam[3*b] = -1
	}
	N := int64(n)
	aug := make([]float32, n*fakeTokens*TokenDim)
	return map[string]*engine.Tensor{
		"tokens": engine.Must(engine.FromFloat32(engine.Shape{N, fakeTokens, TokenDim}, tokens)), "augment": engine.Must(engine.FromFloat32(engine.Shape{N, fakeTokens, TokenDim}, aug)),
		"pose": engine.Must(engine.FromFloat32(engine.Shape{N, NumPose}, pose)), "camera": engine.Must(engine.FromFloat32(engine.Shape{N, 3}, cam)),
		"hand_boxes": engine.Must(engine.FromFloat32(engine.Shape{N, 2, 4}, make([]float32, 8*n))),
	}
}

// zeroPose is the reference's init_pose: identity 6D rotations and
// (sin 0, cos 0) for the one-DoF joints.
func zeroPose() []float32 {
	p := make([]float32, NumPose)
	copy(p, []float32{1, 0, 0, 0, 1, 0})
	for j := range 23 {
		copy(p[offBody+6*j:], []float32{1, 0, 0, 0, 1, 0})
	}
	for j := range 58 {
		p[offBody+138+2*j+1] = 1
	}
	return p
}

type fakeStage struct {
	backbone, decoder *fakeEngine
	layers            []*fakeEngine
}

func newFakeStage() *fakeStage {
	s := &fakeStage{
		backbone: &fakeEngine{name: "backbone", run: func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
			return map[string]*engine.Tensor{"features": engine.Must(engine.FromFloat32(engine.Shape{int64(n), FeatureDim, Grid, Grid}, make([]float32, n*FeatureDim*Grid*Grid)))}
		}},
		decoder: &fakeEngine{name: "decoder", run: func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
			tokens := make([]float32, n*fakeTokens*TokenDim)
			cond := in["condition"].Float32()
			for b := range n {
				copy(tokens[b*fakeTokens*TokenDim:], cond[3*b:3*b+3])
			}
			out := fakeHeads(tokens, n)
			out["context"] = in["features"]
			return out
		}},
	}
	for i := 1; i < Layers; i++ {
		s.layers = append(s.layers, &fakeEngine{name: refineEngine(i), run: func(in map[string]*engine.Tensor, n int) map[string]*engine.Tensor {
			return fakeHeads(in["prev_tokens"].Float32(), n)
		}})
	}
	return s
}

func (s *fakeStage) layerEngines() []engine.Engine {
	layers := make([]engine.Engine, len(s.layers))
	for i, l := range s.layers {
		layers[i] = l
	}
	return layers
}

func (s *fakeStage) recoverer(t testing.TB, opts Options) *Recoverer {
	t.Helper()
	layers := make([]engine.Engine, len(s.layers))
	for i, l := range s.layers {
		layers[i] = l
	}
	r, err := newBodyRecoverer(s.backbone, s.decoder, layers, tinyMHR(t), testHead(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tinyMHR(t testing.TB) *mhr.Model {
	t.Helper()
	m, err := mhr.Load(filepath.Join("..", "testdata", "mhr", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testHead() *Head {
	h := &Head{}
	for a := range numHandCont {
		h.HandComps[a][a] = 1
	}
	for k := range 27 {
		h.HandLeft[k], h.HandRight[k] = 68+k, 95+k
	}
	return h
}

// synthVideo is a w×h video of n frames with a pattern in each frame.
type synthVideo struct{ w, h, n int }

func (v synthVideo) Info() scene.VideoInfo {
	return scene.VideoInfo{Width: v.w, Height: v.h, FPS: scene.Rational{Num: 25, Den: 1}, Frames: v.n}
}

func (v synthVideo) Frame(i int) (*scene.RGB, error) {
	if i < 0 || i >= v.n {
		return nil, fmt.Errorf("no frame %d", i)
	}
	img := scene.NewRGB(image.Rect(0, 0, v.w, v.h))
	for k := range img.Pix {
		img.Pix[k] = uint8((k*31 + i*7) % 251)
	}
	return img, nil
}

// boxMasks gives person id a rectangle that moves with the frame; a
// person is absent on frames where absent(frame, id) holds.
type boxMasks struct {
	w, h   int
	ids    []scene.PersonID
	absent func(frame int, id scene.PersonID) bool
}

func (m boxMasks) People() []scene.PersonID { return m.ids }

func (m boxMasks) rect(frame int, id scene.PersonID) image.Rectangle {
	x0 := (frame*3 + int(id)*11) % (m.w / 2)
	y0 := (frame*2 + int(id)*5) % (m.h / 2)
	return image.Rect(x0, y0, x0+6+int(id)*3, y0+10+frame%5)
}

func (m boxMasks) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	if m.absent != nil && m.absent(frame, id) {
		return nil, nil
	}
	mk := scene.NewMask(m.w, m.h)
	r := m.rect(frame, id)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			mk.Pix[y*m.w+x] = 1
		}
	}
	return mk, nil
}

func cameras(n, w, h int) []scene.Intrinsics {
	ks := make([]scene.Intrinsics, n)
	for i := range ks {
		ks[i] = scene.DefaultIntrinsics(w, h)
		ks[i].Fx += float64(i) // a camera per frame, as MoGe per frame gives
		ks[i].Fy += float64(i)
	}
	return ks
}

func imageRect(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) }
