package body4d

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

type testFrames struct{ info VideoInfo }

func (f testFrames) Info() VideoInfo { return f.info }
func (f testFrames) Frame(i int) (*RGB, error) {
	return scene.NewRGB(image.Rect(0, 0, f.info.Width, f.info.Height)), nil
}

// stubMasks says every prompted person is present on every frame.
type stubMasks struct{ ids []PersonID }

func (m stubMasks) People() []PersonID { return m.ids }
func (m stubMasks) Mask(int, PersonID) (*Mask, error) {
	return scene.NewMask(4, 4), nil
}

type segFunc func(ctx context.Context, f FrameSource, p Prompts) (MaskSource, error)

func (s segFunc) Segment(ctx context.Context, f FrameSource, p Prompts) (MaskSource, error) {
	return s(ctx, f, p)
}

// meshFunc emits one Person per masked person per frame, failing at frame failAt.
type meshStage struct{ failAt int }

func (m meshStage) Recover(ctx context.Context, in MeshInput, emit func(int, []Person) error) error {
	for t := 0; t < in.Frames.Info().Frames; t++ {
		if t == m.failAt {
			return errors.New("engine exploded")
		}
		var people []Person
		for _, id := range in.Masks.People() {
			var p Person
			p.ID, p.Present = id, true
			p.Params.Focal = in.Cameras[t].Fx
			people = append(people, p)
		}
		if err := emit(t, people); err != nil {
			return err
		}
	}
	return nil
}

type countSmoother struct{ n *int }

func (c countSmoother) Smooth(tr *Track) error { *c.n += len(tr.Params); return nil }

func TestPipelineRun(t *testing.T) {
	frames := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 5, FPS: scene.Rational{Num: 30, Den: 1}}}
	prompts := Prompts{Clicks: []Click{{Frame: 0, X: 10, Y: 10, Person: 2}, {Frame: 3, X: 5, Y: 5, Person: 1}}}
	seg := segFunc(func(_ context.Context, _ FrameSource, p Prompts) (MaskSource, error) {
		return stubMasks{p.People()}, nil
	})
	smoothed := 0
	var events []Event
	p := &Pipeline{Segmenter: seg, Mesh: meshStage{failAt: -1}, Smoother: countSmoother{&smoothed},
		Progress: func(e Event) { events = append(events, e) }}
	res, err := p.Run(context.Background(), frames, prompts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tracks) != 2 || res.Tracks[0].ID != 1 || res.Tracks[1].ID != 2 {
		t.Fatalf("tracks = %+v, want persons 1 and 2 in order", res.Tracks)
	}
	if smoothed != 10 {
		t.Errorf("smoother saw %d frames, want 10", smoothed)
	}
	// Without a camera stage every frame gets the default diagonal focal.
	if f := res.Tracks[0].Params[4].Focal; f != 80 {
		t.Errorf("focal = %v, want 80 (diagonal of 64x48)", f)
	}
	var ran, skipped []string
	for _, st := range res.Profile {
		if st.Ran {
			ran = append(ran, st.Stage)
		} else {
			skipped = append(skipped, st.Stage+": "+st.Skipping)
		}
	}
	if strings.Join(ran, ",") != "segment,mesh,smooth" {
		t.Errorf("ran %v", ran)
	}
	if len(skipped) != 2 || !strings.Contains(skipped[0], "no amodal stage") {
		t.Errorf("skipped %v", skipped)
	}
	if len(events) == 0 || events[len(events)-1].Stage != "smooth" {
		t.Errorf("progress events %v", events)
	}
}

func TestPipelineKeepsPartialResults(t *testing.T) {
	frames := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 5}}
	prompts := Prompts{Clicks: []Click{{Frame: 0, X: 1, Y: 1, Person: 1}}}
	seg := segFunc(func(context.Context, FrameSource, Prompts) (MaskSource, error) { return stubMasks{[]PersonID{1}}, nil })
	p := &Pipeline{Segmenter: seg, Mesh: meshStage{failAt: 3}}
	res, err := p.Run(context.Background(), frames, prompts)
	if err == nil || !strings.Contains(err.Error(), "mesh: engine exploded") {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.Masks == nil || len(res.Tracks) != 1 || len(res.Tracks[0].Params) != 3 {
		t.Fatalf("partial result lost: %+v", res)
	}
}

func TestPipelineBadInput(t *testing.T) {
	ok := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 5}}
	tests := []struct {
		name    string
		frames  FrameSource
		prompts Prompts
		want    string
	}{
		{"no frames", testFrames{VideoInfo{Width: 64, Height: 48}}, Prompts{Clicks: []Click{{Person: 1}}}, "no frames"},
		{"no prompts", ok, Prompts{}, "no prompts"},
		{"bad prompt with masks", ok, Prompts{Clicks: []Click{{Frame: 9, X: 1, Y: 1, Person: 1}}}, "frame 9 does not exist"},
		{"outside", ok, Prompts{Clicks: []Click{{Frame: 0, X: 64, Y: 1, Person: 1}}}, "outside the 64x48 frame"},
		{"negative", ok, Prompts{Clicks: []Click{{Frame: 0, X: -1, Y: 1, Person: 1}}}, "outside"},
		{"frame", ok, Prompts{Clicks: []Click{{Frame: 5, X: 1, Y: 1, Person: 1}}}, "frame 5 does not exist"},
		{"person", ok, Prompts{Clicks: []Click{{Frame: 0, X: 1, Y: 1, Person: 0}}}, "person id 0"},
		{"box", ok, Prompts{Boxes: []Box{{Frame: 0, X0: 5, Y0: 5, X1: 4, Y1: 9, Person: 1}}}, "empty or outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pipeline{}
			if strings.Contains(tt.name, "with masks") {
				p.Masks = stubMasks{[]PersonID{1}}
			}
			_, err := p.Run(context.Background(), tt.frames, tt.prompts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestPipelineGivenMasks: masks made elsewhere stand in for the tracker,
// which does not run, and need no prompts.
func TestPipelineGivenMasks(t *testing.T) {
	frames := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 5}}
	seg := segFunc(func(context.Context, FrameSource, Prompts) (MaskSource, error) {
		t.Error("the segmenter ran although masks were given")
		return nil, nil
	})
	given := stubMasks{[]PersonID{2}}
	p := &Pipeline{Masks: given, Segmenter: seg, Mesh: meshStage{failAt: -1}}
	res, err := p.Run(context.Background(), frames, Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Masks == nil || res.Profile[0].Ran || res.Profile[0].Skipping != "masks given" || len(res.Tracks) != 1 {
		t.Fatalf("masks %v, profile %+v, tracks %d", res.Masks, res.Profile[0], len(res.Tracks))
	}
}

func TestPipelineDeviceMemory(t *testing.T) {
	frames := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 2}}
	calls := int64(0)
	p := &Pipeline{Masks: stubMasks{[]PersonID{1}}, Mesh: meshStage{failAt: -1},
		DeviceMemory: func() (int64, error) { calls++; return calls << 20, nil }}
	res, err := p.Run(context.Background(), frames, Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range res.Profile {
		if st.Ran && st.GPUUsed == 0 {
			t.Errorf("stage %s ran but has no device memory in the profile", st.Stage)
		}
		if !st.Ran && st.GPUUsed != 0 {
			t.Errorf("stage %s did not run but has device memory %d", st.Stage, st.GPUUsed)
		}
	}
	if calls == 0 {
		t.Error("DeviceMemory never sampled")
	}
}

func TestPipelineCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	frames := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 5}}
	_, err := (&Pipeline{}).Run(ctx, frames, Prompts{Clicks: []Click{{Frame: 0, X: 1, Y: 1, Person: 1}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

type worldFunc func(context.Context, FrameSource, *Result) (*World, error)

func (w worldFunc) World(ctx context.Context, f FrameSource, r *Result) (*World, error) {
	return w(ctx, f, r)
}

func TestPipelineWorld(t *testing.T) {
	frames := testFrames{VideoInfo{Width: 64, Height: 48, Frames: 3}}
	prompts := Prompts{Clicks: []Click{{Frame: 0, X: 1, Y: 1, Person: 1}}}
	seg := segFunc(func(context.Context, FrameSource, Prompts) (MaskSource, error) { return stubMasks{[]PersonID{1}}, nil })
	sawTracks := 0
	p := &Pipeline{Segmenter: seg, Mesh: meshStage{failAt: -1}, World: worldFunc(func(_ context.Context, _ FrameSource, r *Result) (*World, error) {
		sawTracks = len(r.Tracks)
		return &World{CameraHeight: 1.5}, nil
	})}
	res, err := p.Run(context.Background(), frames, prompts)
	if err != nil || res.World == nil || res.World.CameraHeight != 1.5 || sawTracks != 1 {
		t.Fatalf("world stage: res %+v err %v saw %d tracks", res, err, sawTracks)
	}
	if last := res.Profile[len(res.Profile)-1]; last.Stage != "world" || !last.Ran {
		t.Fatalf("profile ends with %+v", last)
	}
	// A refusal (moving camera, no ground) is an error that keeps the tracks.
	p.World = worldFunc(func(context.Context, FrameSource, *Result) (*World, error) {
		return nil, errors.New("camera moved")
	})
	res, err = p.Run(context.Background(), frames, prompts)
	if err == nil || !strings.Contains(err.Error(), "world: camera moved") || res.World != nil || len(res.Tracks) != 1 {
		t.Fatalf("refusal: res %+v err %v", res, err)
	}
}
