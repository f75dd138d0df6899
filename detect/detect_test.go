package detect

import (
	"context"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

const w, h = 64, 48

type video struct{ n int }

func (v video) Info() scene.VideoInfo { return scene.VideoInfo{Width: w, Height: h, Frames: v.n} }
func (v video) Frame(int) (*scene.RGB, error) {
	panic("the fake detector reads no pixels")
}

func rectMask(r image.Rectangle) *scene.Mask {
	m := scene.NewMask(w, h)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			m.Pix[y*w+x] = 1
		}
	}
	return m
}

// actor is someone in the fake video: on frames [from, to) at rect.
type actor struct {
	from, to int
	rect     image.Rectangle
	score    float64
}

// fakeDetector reports every actor present on a frame.
type fakeDetector struct {
	actors []actor
	calls  []int
}

func (d *fakeDetector) Detect(_ context.Context, _ scene.FrameSource, f int) ([]Detection, error) {
	d.calls = append(d.calls, f)
	var out []Detection
	for _, a := range d.actors {
		if f >= a.from && f < a.to {
			r := a.rect
			out = append(out, Detection{X0: float64(r.Min.X), Y0: float64(r.Min.Y), X1: float64(r.Max.X), Y1: float64(r.Max.Y),
				Mask: rectMask(r), Score: a.score})
		}
	}
	return out, nil
}

// fakeTracks tracks each prompted person perfectly: from their first
// prompt on, the rectangle of their box, or a 9×9 square around their
// first click.
type fakeTracks struct {
	first map[scene.PersonID]int
	rect  map[scene.PersonID]image.Rectangle
}

func (t fakeTracks) People() []scene.PersonID {
	var ids []scene.PersonID
	for id := range t.first {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (t fakeTracks) Mask(f int, id scene.PersonID) (*scene.Mask, error) {
	if f < t.first[id] {
		return nil, nil
	}
	return rectMask(t.rect[id]), nil
}

func fakeSegmenter(calls *int) Segmenter {
	return func(_ context.Context, p scene.Prompts) (scene.MaskSource, error) {
		*calls++
		t := fakeTracks{first: map[scene.PersonID]int{}, rect: map[scene.PersonID]image.Rectangle{}}
		for _, b := range p.Boxes {
			t.first[b.Person] = b.Frame
			t.rect[b.Person] = image.Rect(int(b.X0), int(b.Y0), int(b.X1), int(b.Y1))
		}
		for _, c := range p.Clicks {
			if _, ok := t.first[c.Person]; !ok {
				t.first[c.Person] = c.Frame
				t.rect[c.Person] = image.Rect(int(c.X)-4, int(c.Y)-4, int(c.X)+5, int(c.Y)+5)
			}
		}
		return t, nil
	}
}

func TestFind(t *testing.T) {
	left := image.Rect(2, 2, 20, 40)
	right := image.Rect(40, 4, 60, 44)
	cases := []struct {
		name     string
		frames   int
		redetect int
		given    scene.Prompts
		actors   []actor
		want     []Person
		wantDet  []int  // frames the detector ran on
		wantErr  string // substring
		segCalls int
	}{{
		name: "one person on frame 0", frames: 5,
		actors:  []actor{{0, 5, left, 0.9}},
		want:    []Person{{ID: 1, FirstFrame: 0, Score: 0.9}},
		wantDet: []int{0}, segCalls: 1,
	}, {
		// Enters on frame 3: found on the next re-detection, frame 4;
		// the person from frame 0 is matched there, not added again.
		name: "person entering mid-clip", frames: 10, redetect: 4,
		actors:  []actor{{0, 10, left, 0.9}, {3, 10, right, 0.8}},
		want:    []Person{{ID: 1, FirstFrame: 0, Score: 0.9}, {ID: 2, FirstFrame: 4, Score: 0.8}},
		wantDet: []int{0, 4, 8}, segCalls: 2,
	}, {
		name: "entering mid-clip without re-detection is not found", frames: 10,
		actors:  []actor{{0, 10, left, 0.9}, {3, 10, right, 0.8}},
		want:    []Person{{ID: 1, FirstFrame: 0, Score: 0.9}},
		wantDet: []int{0}, segCalls: 1,
	}, {
		// The second detection overlaps the tracked person with IoU
		// 18·30/(18·38) ≈ 0.79 ≥ 0.1 on frame 2: the same person.
		name: "detection overlapping a tracked person", frames: 4, redetect: 2,
		actors:  []actor{{0, 2, left, 0.9}, {2, 4, image.Rect(2, 10, 20, 40), 0.95}},
		want:    []Person{{ID: 1, FirstFrame: 0, Score: 0.9}},
		wantDet: []int{0, 2}, segCalls: 1,
	}, {
		// IoU 18·3/(18·38 + 18·11 − 18·3) = 3/46 ≈ 0.065 < 0.1: someone else.
		name: "detection barely touching a tracked person", frames: 4, redetect: 2,
		actors:  []actor{{0, 4, left, 0.9}, {2, 4, image.Rect(2, 37, 20, 48), 0.9}},
		want:    []Person{{ID: 1, FirstFrame: 0, Score: 0.9}, {ID: 2, FirstFrame: 2, Score: 0.9}},
		wantDet: []int{0, 2}, segCalls: 2,
	}, {
		name: "two people on frame 0, one below the score threshold", frames: 3,
		actors:  []actor{{0, 3, left, 0.9}, {0, 3, right, 0.69}},
		want:    []Person{{ID: 1, FirstFrame: 0, Score: 0.9}},
		wantDet: []int{0}, segCalls: 1,
	}, {
		name: "nobody detected", frames: 6, redetect: 2,
		actors:  []actor{{0, 6, left, 0.5}},
		wantErr: "no person detected with score ≥ 0.7 on frame(s) 0, 2, 4",
	}, {
		// Clicks combine: the clicked person keeps id 3 and gets the
		// matching detection's score; the other detection is id 4.
		name: "clicks and detections", frames: 3,
		given:   scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 10, Y: 20, Person: 3}}},
		actors:  []actor{{0, 3, left, 0.9}, {0, 3, right, 0.8}},
		want:    []Person{{ID: 3, FirstFrame: 0, Score: 0.9, Clicked: true}, {ID: 4, FirstFrame: 0, Score: 0.8}},
		wantDet: []int{0}, segCalls: 2,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			det := &fakeDetector{actors: c.actors}
			segCalls := 0
			res, err := Find(context.Background(), video{c.frames}, c.given, det, fakeSegmenter(&segCalls), Options{Redetect: c.redetect})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				if segCalls != 0 {
					t.Errorf("tracked %d times with nobody to track", segCalls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.People, c.want) {
				t.Errorf("people = %+v, want %+v", res.People, c.want)
			}
			if !slices.Equal(det.calls, c.wantDet) || !slices.Equal(res.Frames, c.wantDet) {
				t.Errorf("detected on %v (reported %v), want %v", det.calls, res.Frames, c.wantDet)
			}
			if segCalls != c.segCalls {
				t.Errorf("tracked %d times, want %d", segCalls, c.segCalls)
			}
			// Every found person is prompted by their detection's box on
			// their first frame, and the final tracks have everyone.
			for _, p := range res.People {
				if p.Clicked {
					continue
				}
				i := slices.IndexFunc(res.Prompts.Boxes, func(b scene.Box) bool { return b.Person == p.ID })
				if i < 0 || res.Prompts.Boxes[i].Frame != p.FirstFrame {
					t.Errorf("person %d: no box prompt on frame %d: %+v", p.ID, p.FirstFrame, res.Prompts.Boxes)
					continue
				}
				b := res.Prompts.Boxes[i]
				j := slices.IndexFunc(res.Prompts.Clicks, func(c scene.Click) bool { return c.Person == p.ID && c.Frame == p.FirstFrame })
				if j < 0 {
					t.Errorf("person %d: no click on frame %d: %+v", p.ID, p.FirstFrame, res.Prompts.Clicks)
					continue
				}
				// The rectangles' centres are inside them.
				if c := res.Prompts.Clicks[j]; c.Negative || c.X < b.X0 || c.X > b.X1 || c.Y < b.Y0 || c.Y > b.Y1 {
					t.Errorf("person %d: click %+v outside their box %+v", p.ID, c, b)
				}
			}
			var ids []scene.PersonID
			for _, p := range res.People {
				ids = append(ids, p.ID)
			}
			if got := res.Masks.People(); !slices.Equal(got, ids) {
				t.Errorf("tracks of %v, want %v", got, ids)
			}
		})
	}
}

func TestFindBadInput(t *testing.T) {
	seg := func(context.Context, scene.Prompts) (scene.MaskSource, error) { return nil, nil }
	if _, err := Find(context.Background(), video{3}, scene.Prompts{}, &fakeDetector{}, seg, Options{Redetect: -1}); err == nil || !strings.Contains(err.Error(), "redetect interval -1") {
		t.Errorf("negative interval: err = %v", err)
	}
	if _, err := Find(context.Background(), video{0}, scene.Prompts{}, &fakeDetector{}, seg, Options{}); err == nil || !strings.Contains(err.Error(), "no frames") {
		t.Errorf("empty video: err = %v", err)
	}
}

func TestInside(t *testing.T) {
	// An L shape: its centroid (about 3.5, 3.5) is outside it; the click
	// goes to the nearest mask pixel.
	m := scene.NewMask(8, 8)
	for i := range 8 {
		m.Pix[0*8+i] = 1 // top row
		m.Pix[i*8+0] = 1 // left column
	}
	x, y, ok := inside(m)
	if !ok || m.Pix[int(y)*8+int(x)] == 0 {
		t.Errorf("inside = %g,%g,%v: not on the mask", x, y, ok)
	}
	if _, _, ok := inside(scene.NewMask(4, 4)); ok {
		t.Error("empty mask has an inside point")
	}
}
