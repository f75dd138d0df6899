// Package detect finds the people of a video without clicks: a concept
// detector (SAM-3's image-level detector for a text prompt such as
// "person") proposes instances on some frames, and Find turns the ones
// no tracked person covers into new people, prompted by their boxes.
//
// The association follows the reference's video model
// (sam3/model/sam3_video_base.py, Sam3VideoBase._associate_det_trk, with
// the thresholds build_sam3_video_model sets in sam3/model_builder.py):
// a detection is a new person when its score is at least NewScore (0.7)
// and its mask overlaps no tracked person's mask on that frame with an
// IoU of MatchIoU (0.1) or more. Masks are binarised before the IoU, as
// there (logits > 0); tracked people absent from the frame match
// nothing.
package detect

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/body4d/body4d/scene"
)

// The reference's association thresholds (build_sam3_video_model:
// new_det_thresh=0.7, assoc_iou_thresh=0.1).
const (
	DefaultNewScore = 0.7
	DefaultMatchIoU = 0.1
)

// Detection is one instance a detector found on a frame, in frame pixels.
type Detection struct {
	X0, Y0, X1, Y1 float64
	Mask           *scene.Mask // frame-sized, binary
	Score          float64     // detection score × presence score
}

// Detector finds the instances of its concept on one frame.
type Detector interface {
	Detect(ctx context.Context, frames scene.FrameSource, frame int) ([]Detection, error)
}

// Segmenter tracks people from prompts over the whole video (the
// tracker's Segment).
type Segmenter func(ctx context.Context, prompts scene.Prompts) (scene.MaskSource, error)

// Options are Find's settings; the zero value is the reference's.
type Options struct {
	// Redetect, when > 0, runs the detector again every Redetect frames
	// (frames K, 2K, ...) to find people who entered; 0 detects on frame
	// 0 only.
	Redetect int
	NewScore float64 // 0 is DefaultNewScore
	MatchIoU float64 // 0 is DefaultMatchIoU
}

// Person is one person Find knows of.
type Person struct {
	ID         scene.PersonID `json:"id"`
	FirstFrame int            `json:"first_frame"` // the frame of their first prompt
	// Score is the detection that made them a person; for a person the
	// user clicked, the best detection matched to them on a detection
	// frame, 0 when none was.
	Score   float64 `json:"score"`
	Clicked bool    `json:"clicked,omitempty"` // prompted by the user, not found
}

// Result is what Find found.
type Result struct {
	Prompts scene.Prompts    // the user's prompts plus one box per found person
	People  []Person         // ascending id
	Masks   scene.MaskSource // the tracks of Prompts
	Frames  []int            // the frames the detector ran on
}

// Find detects people on frame 0 and every opts.Redetect frames, adds a
// prompt for each detection that is not a tracked person, and
// tracks again after each frame that added someone, so later frames are
// matched against every person found so far. given are the user's
// prompts (may be empty): their people keep their ids and found people
// get the next free ones. A found person's prompt is their detection's
// box and a positive click on their mask (the pixel nearest its
// centroid): the reference adds a detection to the tracker as its mask
// (add_new_mask), which body4d's tracker does not take, and the click
// carries the mask's location where a box alone is ambiguous. When nobody is found and nothing was given,
// Find returns an error naming the frames it looked at.
func Find(ctx context.Context, frames scene.FrameSource, given scene.Prompts, det Detector, seg Segmenter, opts Options) (*Result, error) {
	if opts.Redetect < 0 {
		return nil, fmt.Errorf("auto: redetect interval %d must be ≥ 0", opts.Redetect)
	}
	if opts.NewScore == 0 {
		opts.NewScore = DefaultNewScore
	}
	if opts.MatchIoU == 0 {
		opts.MatchIoU = DefaultMatchIoU
	}
	n := frames.Info().Frames
	if n <= 0 {
		return nil, fmt.Errorf("auto: the video has no frames")
	}
	res := &Result{Prompts: clonePrompts(given)}
	next := scene.PersonID(1)
	byID := map[scene.PersonID]*Person{}
	for _, id := range given.People() {
		byID[id] = &Person{ID: id, FirstFrame: firstFrame(given, id), Clicked: true}
		next = max(next, id+1)
	}
	if len(byID) > 0 {
		m, err := seg(ctx, res.Prompts)
		if err != nil {
			return nil, err
		}
		res.Masks = m
	}
	step := opts.Redetect
	if step == 0 {
		step = n
	}
	for f := 0; f < n; f += step {
		res.Frames = append(res.Frames, f)
		dets, err := det.Detect(ctx, frames, f)
		if err != nil {
			return nil, fmt.Errorf("auto: detect on frame %d: %w", f, err)
		}
		tracks, err := tracked(res.Masks, f)
		if err != nil {
			return nil, err
		}
		added := false
		for _, d := range dets {
			best, bestID, err := bestMatch(d, tracks)
			if err != nil {
				return nil, fmt.Errorf("auto: frame %d: %w", f, err)
			}
			if best >= opts.MatchIoU {
				if p := byID[bestID]; p != nil && p.Clicked && d.Score > p.Score {
					p.Score = d.Score
				}
				continue
			}
			if d.Score < opts.NewScore {
				continue
			}
			id := next
			next++
			byID[id] = &Person{ID: id, FirstFrame: f, Score: d.Score}
			res.Prompts.Boxes = append(res.Prompts.Boxes, scene.Box{Frame: f, X0: d.X0, Y0: d.Y0, X1: d.X1, Y1: d.Y1, Person: id})
			if x, y, ok := inside(d.Mask); ok {
				res.Prompts.Clicks = append(res.Prompts.Clicks, scene.Click{Frame: f, X: x, Y: y, Person: id})
			}
			// Later detections on this frame are matched against it
			// too, as the reference's NMS keeps them apart.
			tracks = append(tracks, track{id, d.Mask})
			added = true
		}
		if added {
			m, err := seg(ctx, res.Prompts)
			if err != nil {
				return nil, err
			}
			res.Masks = m
		}
	}
	if len(byID) == 0 {
		return nil, fmt.Errorf("auto: no person detected with score ≥ %g on frame(s) %s; click on the people instead", opts.NewScore, frameList(res.Frames))
	}
	for id := scene.PersonID(1); id < next; id++ {
		if p := byID[id]; p != nil {
			res.People = append(res.People, *p)
		}
	}
	return res, nil
}

type track struct {
	id   scene.PersonID
	mask *scene.Mask
}

// tracked returns the people present on frame f (a non-empty mask).
func tracked(m scene.MaskSource, f int) ([]track, error) {
	if m == nil {
		return nil, nil
	}
	var out []track
	for _, id := range m.People() {
		mk, err := m.Mask(f, id)
		if err != nil {
			return nil, fmt.Errorf("auto: person %d on frame %d: %w", id, f, err)
		}
		if mk != nil && mk.Area() > 0 {
			out = append(out, track{id, mk})
		}
	}
	return out, nil
}

// bestMatch returns the highest mask IoU of d with the tracks and whose
// track it is; -1 when there are none.
func bestMatch(d Detection, tracks []track) (float64, scene.PersonID, error) {
	if d.Mask == nil {
		return 0, 0, fmt.Errorf("detection has no mask")
	}
	best, id := -1.0, scene.PersonID(0)
	for _, t := range tracks {
		iou, err := scene.IoU(d.Mask, t.mask)
		if err != nil {
			return 0, 0, err
		}
		if iou > best {
			best, id = iou, t.id
		}
	}
	return best, id, nil
}

func firstFrame(p scene.Prompts, id scene.PersonID) int {
	first := -1
	for _, c := range p.Clicks {
		if c.Person == id && (first < 0 || c.Frame < first) {
			first = c.Frame
		}
	}
	for _, b := range p.Boxes {
		if b.Person == id && (first < 0 || b.Frame < first) {
			first = b.Frame
		}
	}
	return first
}

func clonePrompts(p scene.Prompts) scene.Prompts {
	return scene.Prompts{
		Clicks: append([]scene.Click(nil), p.Clicks...),
		Boxes:  append([]scene.Box(nil), p.Boxes...),
	}
}

func frameList(fs []int) string {
	const show = 8
	var s []string
	for i, f := range fs {
		if i == show {
			s = append(s, fmt.Sprintf("… (%d in all)", len(fs)))
			break
		}
		s = append(s, fmt.Sprint(f))
	}
	return strings.Join(s, ", ")
}

// inside returns the centre of the mask pixel nearest the mask's
// centroid; false for an empty mask.
func inside(m *scene.Mask) (float64, float64, bool) {
	var sx, sy, n float64
	for i, v := range m.Pix {
		if v != 0 {
			sx += float64(i % m.W)
			sy += float64(i / m.W)
			n++
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	cx, cy := sx/n, sy/n
	best, bx, by := math.Inf(1), 0, 0
	for i, v := range m.Pix {
		if v == 0 {
			continue
		}
		x, y := i%m.W, i/m.W
		if d := (float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy); d < best {
			best, bx, by = d, x, y
		}
	}
	return float64(bx) + 0.5, float64(by) + 0.5, true
}
