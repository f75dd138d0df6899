package segment

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/body4d/body4d/scene"
)

// parityDir is the reference tracker shrunk and exported by
// tools/golden/segment/make_parity.py, with its goldens.
var parityDir = filepath.Join("..", "testdata", "segment", "parity")

type parityCase struct {
	Name        string  `json:"name"`
	Frames      int     `json:"frames"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Prompts     [][]any `json:"prompts"`
	Corrections [][]any `json:"corrections"`
	Results     []struct {
		Frame  int       `json:"frame"`
		People []int     `json:"people"`
		Scores []float64 `json:"scores"`
		Masks  []string  `json:"masks"`
	} `json:"results"`
	Memory []struct {
		Frame   int   `json:"frame"`
		Reverse bool  `json:"reverse"`
		Cond    []int `json:"cond"`
		Recent  []int `json:"recent"`
	} `json:"memory"`
}

// prompts turns [frame, person, [[x, y, label], ...]] entries into clicks.
func parityPrompts(t *testing.T, entries [][]any) scene.Prompts {
	var p scene.Prompts
	for _, e := range entries {
		frame, person := int(e[0].(float64)), scene.PersonID(e[1].(float64))
		for _, pt := range e[2].([]any) {
			xyl := pt.([]any)
			p.Clicks = append(p.Clicks, scene.Click{Frame: frame, Person: person,
				X: xyl[0].(float64), Y: xyl[1].(float64), Negative: xyl[2].(float64) == 0})
		}
	}
	return p
}

// TestParity runs the Go tracker on the engines exported from the
// reference tracker and compares with what the reference computed on the
// same frames and clicks: every mask (IoU ≥ 0.9999), every object score,
// and the memory frames each tracked frame read.
func TestParity(t *testing.T) {
	f, err := os.Open(filepath.Join(parityDir, "golden.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []parityCase }
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no parity cases")
	}
	shared := openTiny(t, parityDir, Options{})
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel() // the cases share the engines, which ONNX Runtime runs concurrently
			type key struct {
				frame   int
				reverse bool
			}
			var reps []FrameReport
			tr, err := New(shared.eng, shared.consts, Options{OnFrame: func(r FrameReport) { reps = append(reps, r) }})
			if err != nil {
				t.Fatal(err)
			}
			frames := loadFrames(t, clipFrames, c.Frames)
			if frames.info.Width != c.Width || frames.info.Height != c.Height {
				t.Fatalf("frames are %dx%d, golden %dx%d", frames.info.Width, frames.info.Height, c.Width, c.Height)
			}
			ctx := context.Background()
			var ms *Masks
			if len(c.Corrections) == 0 {
				out, err := tr.Segment(ctx, frames, parityPrompts(t, c.Prompts))
				if err != nil {
					t.Fatal(err)
				}
				ms = out.(*Masks)
			} else {
				s, err := tr.NewSession(frames)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Add(ctx, parityPrompts(t, c.Prompts)); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Propagate(ctx); err != nil {
					t.Fatal(err)
				}
				if err := s.Add(ctx, parityPrompts(t, c.Corrections)); err != nil {
					t.Fatal(err)
				}
				if ms, err = s.Propagate(ctx); err != nil {
					t.Fatal(err)
				}
			}
			worst := 1.0
			present, absent := 0, 0
			for _, r := range c.Results {
				for i, id := range r.People {
					want, err := hex.DecodeString(r.Masks[i])
					if err != nil {
						t.Fatal(err)
					}
					got, err := ms.Mask(r.Frame, scene.PersonID(id))
					if err != nil {
						t.Fatal(err)
					}
					gm := scene.NewMask(c.Width, c.Height)
					for p := range gm.Pix {
						gm.Pix[p] = want[p/8] >> (7 - p%8) & 1
					}
					if gm.Area() > 0 {
						present++
					} else {
						absent++
					}
					if got == nil {
						got = scene.NewMask(c.Width, c.Height) // absent: compare as empty
					}
					iou, err := scene.IoU(got, gm)
					if err != nil {
						t.Fatal(err)
					}
					worst = min(worst, iou)
					if iou < 0.9999 {
						t.Errorf("frame %d person %d: IoU %.5f with the reference (areas %d vs %d)", r.Frame, id, iou, got.Area(), gm.Area())
					}
					score, _, _ := ms.Score(r.Frame, scene.PersonID(id))
					if d := float64(score) - r.Scores[i]; d > 1e-3 || d < -1e-3 {
						t.Errorf("frame %d person %d: object score %v, reference %v", r.Frame, id, score, r.Scores[i])
					}
				}
			}
			t.Logf("worst mask IoU %.6f over %d frames (%d masks seen, %d absent)", worst, len(c.Results), present, absent)
			if present == 0 {
				t.Error("the golden has no non-empty mask: the comparison would prove nothing")
			}
			if c.Memory == nil {
				return
			}
			got := map[key]FrameReport{}
			for _, r := range reps {
				if !r.Clicked {
					got[key{r.Frame, r.Reverse}] = r
				}
			}
			if len(got) != len(c.Memory) {
				t.Errorf("%d tracked frames, reference %d", len(got), len(c.Memory))
			}
			for _, m := range c.Memory {
				r, ok := got[key{m.Frame, m.Reverse}]
				if !ok {
					t.Errorf("frame %d (reverse %v) not tracked", m.Frame, m.Reverse)
					continue
				}
				cond := slices.Sorted(slices.Values(r.CondFrames))
				if fmt.Sprint(cond, r.RecentFrames) != fmt.Sprint(m.Cond, m.Recent) {
					t.Errorf("frame %d (reverse %v): memories %v %v, reference %v %v", m.Frame, m.Reverse, cond, r.RecentFrames, m.Cond, m.Recent)
				}
			}
		})
	}
}
