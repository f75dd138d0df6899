package amodal

import (
	"fmt"
	"math"

	"github.com/body4d/body4d/scene"
)

// Fast mode defaults (see FastOptions).
const (
	DefaultFastSteps   = 10
	DefaultFastBorder  = 0.02
	DefaultFastMinArea = 0.85
	DefaultFastContact = 0.05
)

// FastOptions turn on fast mode (Options.Fast). It is never on unless
// asked for: the full mode runs as the reference does. Fast mode does two
// things:
//
//   - it skips the amodal pass of a person in a window where the cheap
//     in-view test (InView), computed from the modal masks alone, finds
//     the person fully in view on every frame. Such a window hands on
//     the modal masks, marks every frame visible and completes nothing:
//     exactly what the full mode hands on for a window where no frame
//     scores as occluded, without running any engine;
//   - it runs the sampler with fewer steps (both passes).
//
// Zero fields take the defaults, so &FastOptions{} is the recommended
// fast mode. The thresholds are fractions: there is no way to set one
// to exactly 0 (use a tiny value).
//
// Why the test looks like this. The full mode hands on something other
// than the modal masks only on an occluded span, which needs a frame
// whose IoU(modal, amodal) < 0.7 and which escapes the reference's
// exceptions (modal mask only in the 5% border, modal larger than
// amodal, amodal box too long or skinny; see occlusionScore). The amodal
// mask holds the modal one where the model works, so IoU < 0.7 means the
// visible part is under 70% of the whole body. From the modal masks
// alone that shows as (1) a body cut by the frame edge, (2) a frame
// whose visible area falls well below the person's own largest area in
// the window, or (3) another person's mask against or over this one (in
// this pipeline people are the occluders it can see). The test asks for
// none of the three on every frame, with margins on the safe side:
// MinArea 0.85 against the trigger's 0.7, a band at the edges, a gap
// around the box. What it cannot see is an object (not a person)
// hiding the same part of the body for the whole window with the mask
// never touching another person: the full mode may complete that, fast
// mode hands on the modal mask. That, and the fewer steps, is why fast
// mode is an explicit choice with its effect reported
// (tools/bench/amodalfast).
type FastOptions struct {
	// Steps is the number of denoising steps in fast mode; 0 means
	// DefaultFastSteps (10), or Options.Steps when that is smaller.
	Steps int
	// NoSkip turns the in-view test off: every window runs, only the
	// steps change.
	NoSkip bool
	// Border is the band at each frame edge, as a fraction of the frame
	// width (left, right) or height (top, bottom), that the mask's
	// bounding box must stay out of; 0 means DefaultFastBorder (2%).
	Border float64
	// MinArea is the least area, as a fraction of the person's largest
	// area in the window, that every frame must keep; 0 means
	// DefaultFastMinArea (0.85).
	MinArea float64
	// Contact is the gap around the person's bounding box, as a fraction
	// of the box's longer side, that no other person's bounding box may
	// enter; 0 means DefaultFastContact (0.05).
	Contact float64
}

// withDefaults fills zero fields; steps is Options.Steps.
func (f FastOptions) withDefaults(steps int) (FastOptions, error) {
	switch {
	case f.Steps < 0:
		return f, fmt.Errorf("amodal: FastOptions.Steps is %d, must not be negative", f.Steps)
	case f.Steps == 0:
		f.Steps = min(DefaultFastSteps, steps)
	case f.Steps < 2:
		return f, fmt.Errorf("amodal: FastOptions.Steps is %d, the sampler needs at least 2", f.Steps)
	}
	for _, p := range []struct {
		v    *float64
		d    float64
		name string
		ok   func(float64) bool
		want string
	}{
		{&f.Border, DefaultFastBorder, "Border", func(v float64) bool { return v > 0 && v < 0.5 }, "(0, 0.5)"},
		{&f.MinArea, DefaultFastMinArea, "MinArea", func(v float64) bool { return v > 0 && v <= 1 }, "(0, 1]"},
		{&f.Contact, DefaultFastContact, "Contact", func(v float64) bool { return v > 0 && v <= 10 }, "(0, 10]"},
	} {
		if *p.v == 0 {
			*p.v = p.d
		}
		if !p.ok(*p.v) {
			return f, fmt.Errorf("amodal: FastOptions.%s is %g, want a value in %s", p.name, *p.v, p.want)
		}
	}
	return f, nil
}

// maskStat is a mask's bounding box (x1, y1 exclusive) and area; area 0
// means absent or empty.
type maskStat struct{ x0, y0, x1, y1, area int }

func statOf(m *scene.Mask) maskStat {
	if m == nil {
		return maskStat{}
	}
	s := maskStat{x0: m.W, y0: m.H}
	for i, v := range m.Pix {
		if v == 0 {
			continue
		}
		x, y := i%m.W, i/m.W
		s.x0, s.y0, s.x1, s.y1 = min(s.x0, x), min(s.y0, y), max(s.x1, x+1), max(s.y1, y+1)
		s.area++
	}
	if s.area == 0 {
		return maskStat{}
	}
	return s
}

// InView is fast mode's cheap test (see FastOptions for why it mirrors
// the reference's occlusion trigger): it reports whether a person is
// fully in view on every frame of a window, so that the full mode would
// hand on the modal masks unchanged. self[i] is the person's mask on
// frame i (nil: absent), others[i] the other people's masks on that
// frame (nil entries allowed); all masks are w×h. The test fails, and
// why says on which frame and why, when on some frame
//
//   - the person is absent or the mask is empty;
//   - the mask's bounding box enters the Border band of an edge;
//   - its area is under MinArea of the person's largest area in the
//     window;
//   - another person's bounding box meets this person's box widened by
//     Contact times its longer side.
//
// An empty window fails.
func (f FastOptions) InView(w, h int, self []*scene.Mask, others [][]*scene.Mask) (ok bool, why string) {
	f, err := f.withDefaults(DefaultFastSteps)
	if err != nil {
		return false, err.Error()
	}
	st := make([]maskStat, len(self))
	ot := make([][]maskStat, len(self))
	for i, m := range self {
		st[i] = statOf(m)
		if i < len(others) {
			for _, o := range others[i] {
				ot[i] = append(ot[i], statOf(o))
			}
		}
	}
	return f.inView(w, h, 0, st, ot)
}

// inView is InView on mask statistics; f has its defaults. Reasons name
// frames as first+i.
func (f FastOptions) inView(w, h, first int, self []maskStat, others [][]maskStat) (bool, string) {
	if len(self) == 0 {
		return false, "no frames"
	}
	mx := int(math.Ceil(f.Border * float64(w)))
	my := int(math.Ceil(f.Border * float64(h)))
	most := 0
	for _, s := range self {
		most = max(most, s.area)
	}
	for i, s := range self {
		switch {
		case s.area == 0:
			return false, fmt.Sprintf("frame %d: absent or empty", first+i)
		case s.x0 < mx || s.y0 < my || s.x1 > w-mx || s.y1 > h-my:
			return false, fmt.Sprintf("frame %d: box [%d,%d)x[%d,%d) within %dx%d px of the edge", first+i, s.x0, s.x1, s.y0, s.y1, mx, my)
		case float64(s.area) < f.MinArea*float64(most):
			return false, fmt.Sprintf("frame %d: area %d is %.2f of the window's largest %d (< %.2f)", first+i, s.area, float64(s.area)/float64(most), most, f.MinArea)
		}
		pad := int(math.Ceil(f.Contact * float64(max(s.x1-s.x0, s.y1-s.y0))))
		for _, o := range others[i] {
			if o.area == 0 {
				continue
			}
			if o.x0 < s.x1+pad && s.x0-pad < o.x1 && o.y0 < s.y1+pad && s.y0-pad < o.y1 {
				return false, fmt.Sprintf("frame %d: another person's box [%d,%d)x[%d,%d) is within %d px", first+i, o.x0, o.x1, o.y0, o.y1, pad)
			}
		}
	}
	return true, ""
}
