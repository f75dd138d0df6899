package segment

import (
	"fmt"
	"slices"

	"github.com/body4d/body4d/scene"
)

// Point labels of the SAM prompt encoder (reference notes A.2).
const (
	labelNegative = 0
	labelPositive = 1
	labelBoxTL    = 2
	labelBoxBR    = 3
	labelPad      = -1
)

// maxPromptPoints is the predictor's max_point_num_in_prompt_enc: beyond
// it the first half and the last half are kept.
const maxPromptPoints = 16

// framePrompt is one person's prompt on one frame in model coordinates.
type framePrompt struct {
	frame  int
	person scene.PersonID
	coords []float32 // x, y per point, in model pixels
	labels []int32
}

// numPoints is the number of points the multimask rule counts (a box is
// two), without the padding point.
func (p *framePrompt) numPoints() int { return len(p.labels) }

// toModel maps a pixel coordinate of a w×h frame to the square model
// input: the reference takes relative coordinates and multiplies them by
// the model size (the frame is squashed, not letterboxed).
func toModel(x, y float64, w, h, size int) (float32, float32) {
	return float32(x / float64(w) * float64(size)), float32(y / float64(h) * float64(size))
}

// groupPrompts turns the user's prompts into one prompt per person per
// frame, in model coordinates, ordered by frame and then person. A box
// comes first as points labelled 2 and 3, then the clicks in the order
// given, as add_new_points_or_box builds them. A person may have one box
// per frame.
func groupPrompts(p scene.Prompts, info scene.VideoInfo, size int) ([]framePrompt, error) {
	if err := p.Validate(info); err != nil {
		return nil, err
	}
	type key struct {
		frame  int
		person scene.PersonID
	}
	byKey := map[key]*framePrompt{}
	get := func(f int, id scene.PersonID) *framePrompt {
		k := key{f, id}
		if byKey[k] == nil {
			byKey[k] = &framePrompt{frame: f, person: id}
		}
		return byKey[k]
	}
	for i, b := range p.Boxes {
		fp := get(b.Frame, b.Person)
		if len(fp.labels) > 0 {
			return nil, fmt.Errorf("box %d: person %d has two boxes on frame %d", i, b.Person, b.Frame)
		}
		x0, y0 := toModel(b.X0, b.Y0, info.Width, info.Height, size)
		x1, y1 := toModel(b.X1, b.Y1, info.Width, info.Height, size)
		fp.coords = append(fp.coords, x0, y0, x1, y1)
		fp.labels = append(fp.labels, labelBoxTL, labelBoxBR)
	}
	type point struct {
		key
		x, y float64
	}
	negative := map[point]bool{}
	for i, c := range p.Clicks {
		// The same point marked both on and off a person is a
		// contradiction the model cannot resolve; say so.
		pt := point{key{c.Frame, c.Person}, c.X, c.Y}
		if neg, ok := negative[pt]; ok && neg != c.Negative {
			return nil, fmt.Errorf("click %d: person %d has both a positive and a negative click at (%g,%g) on frame %d",
				i, c.Person, c.X, c.Y, c.Frame)
		}
		negative[pt] = c.Negative
		fp := get(c.Frame, c.Person)
		x, y := toModel(c.X, c.Y, info.Width, info.Height, size)
		fp.coords = append(fp.coords, x, y)
		l := int32(labelPositive)
		if c.Negative {
			l = labelNegative
		}
		fp.labels = append(fp.labels, l)
	}
	out := make([]framePrompt, 0, len(byKey))
	for _, fp := range byKey {
		if n := len(fp.labels); n > maxPromptPoints {
			first, last := maxPromptPoints/2, maxPromptPoints-maxPromptPoints/2
			fp.labels = slices.Concat(fp.labels[:first], fp.labels[n-last:])
			fp.coords = slices.Concat(fp.coords[:2*first], fp.coords[2*(n-last):])
		}
		out = append(out, *fp)
	}
	slices.SortFunc(out, func(a, b framePrompt) int {
		if a.frame != b.frame {
			return a.frame - b.frame
		}
		return int(a.person - b.person)
	})
	for _, id := range p.People() {
		positive := false
		for _, fp := range out {
			if fp.person == id && slices.ContainsFunc(fp.labels, func(l int32) bool { return l != labelNegative }) {
				positive = true
			}
		}
		if !positive {
			return nil, fmt.Errorf("person %d has only negative clicks: click at least one point on the person", id)
		}
	}
	return out, nil
}

// decoderPoints returns the mask decoder's point input for a prompt: the
// points followed by the padding point the prompt encoder appends when
// there is no box input (the engine does not add it). No prompt is the
// tracker's single padding point, plus that padding point.
func decoderPoints(p *framePrompt) ([]float32, []int32) {
	if p == nil {
		return []float32{0, 0, 0, 0}, []int32{labelPad, labelPad}
	}
	return append(slices.Clone(p.coords), 0, 0), append(slices.Clone(p.labels), labelPad)
}
