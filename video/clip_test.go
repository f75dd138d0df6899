package video

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/body4d/body4d/scene"
)

// TestSampleClicks checks the suggested clicks shipped with the sample
// clip against the clip itself: valid prompts for its size and length,
// and every figure (persons 1–3) clickable on the first frame.
func TestSampleClicks(t *testing.T) {
	tools := requireFFmpeg(t)
	b, err := os.ReadFile("../sample/clip/clicks.json")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Frames int    `json:"frames"`
		FPS    string `json:"fps"`
		Clicks []struct {
			Frame  int            `json:"frame"`
			X      float64        `json:"x"`
			Y      float64        `json:"y"`
			Person scene.PersonID `json:"person"`
		} `json:"clicks"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	p, err := ProbeFile(context.Background(), sampleClip, tools)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Frames != p.Frames || meta.FPS != p.FPS.String() {
		t.Errorf("clicks.json says %d frames at %s fps, the clip has %d at %v", meta.Frames, meta.FPS, p.Frames, p.FPS)
	}
	var prompts scene.Prompts
	first := map[scene.PersonID]bool{}
	for _, c := range meta.Clicks {
		prompts.Clicks = append(prompts.Clicks, scene.Click{Frame: c.Frame, X: c.X, Y: c.Y, Person: c.Person})
		if c.X == 0 && c.Y == 0 {
			t.Errorf("click %+v at the origin: field missing?", c)
		}
		if c.Frame == 0 {
			first[c.Person] = true
		}
	}
	if err := prompts.Validate(p.VideoInfo); err != nil {
		t.Error(err)
	}
	for id := scene.PersonID(1); id <= 3; id++ {
		if !first[id] {
			t.Errorf("no click on person %d in frame 0", id)
		}
	}
}
