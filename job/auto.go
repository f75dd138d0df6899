package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/body4d/body4d/detect"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/segment"
)

// Auto asks a job to find its people with the concept detector (package
// detect) instead of, or as well as, the user's prompts. body4d batch
// sets it for list lines that give neither clicks nor masks.
type Auto struct {
	// Redetect, when > 0, looks for new people every Redetect frames;
	// 0 detects on frame 0 only.
	Redetect int
	// Concept is the text prompt; "" is "person", the only embedding a
	// model directory ships.
	Concept string
}

// AutoSummary is what auto mode found.
type AutoSummary struct {
	Concept  string          `json:"concept"`
	Detected []int           `json:"detected_frames"` // the frames the detector ran on
	People   []detect.Person `json:"people"`          // each person's first frame and detection score
}

// findPeople runs auto mode before the pipeline: it tracks what it finds
// with its own tracker (in workDir/auto, removed afterwards) and returns
// the prompts for the pipeline: the given ones plus a box per found
// person.
func findPeople(ctx context.Context, m *Models, spec Spec, frames scene.FrameSource, workDir string) (scene.Prompts, *AutoSummary, error) {
	a := *spec.Auto
	if a.Concept == "" {
		a.Concept = segment.DefaultConcept
	}
	if spec.Masks != "" {
		return scene.Prompts{}, nil, fmt.Errorf("job: auto mode finds people to track; it cannot be combined with masks (%s)", spec.Masks)
	}
	dir, load := m.dir, m.loader("segment")
	det, err := segment.OpenDetector(dir, load, a.Concept)
	if err != nil {
		return scene.Prompts{}, nil, fmt.Errorf("job: %w", err)
	}
	defer det.Close()
	autoDir := filepath.Join(workDir, "auto")
	defer os.RemoveAll(autoDir)
	calls := 0
	var tr *segment.Tracker
	defer func() {
		if tr != nil {
			tr.Close()
		}
	}()
	seg := func(ctx context.Context, p scene.Prompts) (scene.MaskSource, error) {
		// A fresh tracker and folder per pass: the masks of the last
		// pass stay readable while the next one tracks.
		calls++
		if tr != nil {
			tr.Close()
		}
		var err error
		tr, err = segment.Open(dir, load, segment.Options{Dir: filepath.Join(autoDir, fmt.Sprint(calls))})
		if err != nil {
			return nil, fmt.Errorf("segment: %w", err)
		}
		return tr.Segment(ctx, frames, p)
	}
	res, err := detect.Find(ctx, frames, spec.Prompts, det, seg, detect.Options{Redetect: a.Redetect})
	if err != nil {
		return scene.Prompts{}, nil, err
	}
	return res.Prompts, &AutoSummary{Concept: a.Concept, Detected: res.Frames, People: res.People}, nil
}
