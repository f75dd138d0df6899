package amodal

import (
	"fmt"

	"github.com/body4d/body4d/scene"
)

// Occlusion thresholds of the reference (SAM-Body4D app.py; notes
// segment-amodal.md C.4).
const (
	OccludedBelow  = 0.7  // a frame with score < 0.7 is occluded
	VisibleAbove   = 0.7  // a frame with score > 0.7 is visible to the mesh stage
	borderFraction = 0.05 // modal masks only inside this border are ignored
	longRatio      = 0.7  // amodal bbox ≥ 70% of the image: fake completion
	skinnyRatio    = 1.0 / 5
	binariseSum    = 600 // amodal RGB output: R+G+B > 600 is foreground
)

// OcclusionOptions selects reference-compatible quirks.
type OcclusionOptions struct {
	// LongCheckOnlyObject1 reproduces the reference's is_super_long_or_wide
	// call, which tests pixels equal to the object id on a 0/1 mask and
	// so only ever fires for object 1. Off, the check applies to every
	// object, which is what it is for.
	LongCheckOnlyObject1 bool
	// ExclusiveSpanEnd reproduces the reference's range(start, end),
	// which never completes the span's last frame. Off, End is included.
	ExclusiveSpanEnd bool
}

// binariseAmodal turns a decoded amodal frame into a mask: R+G+B > 600.
func binariseAmodal(img *scene.RGB) *scene.Mask {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	m := scene.NewMask(w, h)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			if int(row[3*x])+int(row[3*x+1])+int(row[3*x+2]) > binariseSum {
				m.Pix[y*w+x] = 1
			}
		}
	}
	return m
}

// keepLargestComponent returns a mask holding only the largest
// 8-connected foreground component (cv2.connectedComponents' default).
// Ties go to the component met first in raster order, as cv2's labels
// and numpy's argmax order them. An empty mask stays empty.
func keepLargestComponent(m *scene.Mask) *scene.Mask {
	w, h := m.W, m.H
	labels := make([]int32, w*h)
	var sizes []int
	stack := make([]int, 0, 64)
	for start, v := range m.Pix {
		if v == 0 || labels[start] != 0 {
			continue
		}
		sizes = append(sizes, 0)
		lab := int32(len(sizes))
		labels[start] = lab
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			sizes[lab-1]++
			px, py := p%w, p/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					x, y := px+dx, py+dy
					if x < 0 || y < 0 || x >= w || y >= h {
						continue
					}
					q := y*w + x
					if m.Pix[q] != 0 && labels[q] == 0 {
						labels[q] = lab
						stack = append(stack, q)
					}
				}
			}
		}
	}
	out := scene.NewMask(w, h)
	best := 0
	for i, s := range sizes {
		if s > sizes[best] {
			best = i
		}
	}
	if len(sizes) == 0 {
		return out
	}
	for i, l := range labels {
		if l == int32(best+1) {
			out.Pix[i] = 1
		}
	}
	return out
}

type bbox struct{ w, h int }

func boundingBox(m *scene.Mask) (bbox, bool) {
	x0, y0, x1, y1 := m.W, m.H, -1, -1
	for i, v := range m.Pix {
		if v == 0 {
			continue
		}
		x, y := i%m.W, i/m.W
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	if x1 < 0 {
		return bbox{}, false
	}
	return bbox{x1 - x0 + 1, y1 - y0 + 1}, true
}

// insideBorder reports whether every modal pixel lies in the 5% border.
// The reference zeroes rows [:int(0.05H)] and [-int(0.05H):] (and the
// same for columns); when int(0.05H) is 0, [-0:] is the whole array, so
// images under 20 pixels count as all border. Replicated.
func insideBorder(m *scene.Mask) bool {
	bh, bw := int(float64(m.H)*borderFraction), int(float64(m.W)*borderFraction)
	if bh == 0 || bw == 0 {
		return true
	}
	for i, v := range m.Pix {
		x, y := i%m.W, i/m.W
		if v != 0 && y >= bh && y < m.H-bh && x >= bw && x < m.W-bw {
			return false
		}
	}
	return true
}

// occlusionScore is the reference's per-frame score: IoU of the modal and
// the (binarised, largest-component) amodal mask, forced to 1 (not
// occluded) when the modal mask lies entirely in the 5% border, when both
// are empty, when the modal mask is larger than the amodal one, or when
// the amodal mask looks like a fake completion (bbox ≥ 70% of the image
// width or height, or short/long bbox side < 1/5). obj is the person's
// id, needed only for LongCheckOnlyObject1.
func occlusionScore(modal, amodal *scene.Mask, obj scene.PersonID, opt OcclusionOptions) (float64, error) {
	if modal == nil || amodal == nil {
		return 0, fmt.Errorf("amodal: occlusion score for person %v needs both masks", obj)
	}
	if modal.W != amodal.W || modal.H != amodal.H || len(modal.Pix) != modal.W*modal.H || len(amodal.Pix) != amodal.W*amodal.H {
		return 0, fmt.Errorf("amodal: person %v: modal mask %dx%d (%d px) and amodal %dx%d (%d px) differ",
			obj, modal.W, modal.H, len(modal.Pix), amodal.W, amodal.H, len(amodal.Pix))
	}
	var a, b, inter, union int
	for i := range modal.Pix {
		ma, mb := modal.Pix[i] != 0, amodal.Pix[i] != 0
		if ma {
			a++
		}
		if mb {
			b++
		}
		if ma && mb {
			inter++
		}
		if ma || mb {
			union++
		}
	}
	if a > b { // covers the reference's fake-completion "modal larger" case too
		return 1, nil
	}
	if looksFake(amodal, obj, opt) {
		return 1, nil
	}
	if insideBorder(modal) || (a == 0 && b == 0) {
		return 1, nil
	}
	return float64(inter) / (float64(union) + 1e-6), nil
}

// looksFake reports the reference's fake-completion shapes of an amodal
// mask: a bounding box ≥ 70% of the image width or height, or one whose
// short side is under 1/5 of its long side.
func looksFake(amodal *scene.Mask, obj scene.PersonID, opt OcclusionOptions) bool {
	box, ok := boundingBox(amodal)
	if !ok {
		return false
	}
	long := float64(box.w)/float64(amodal.W) >= longRatio || float64(box.h)/float64(amodal.H) >= longRatio
	if long && (!opt.LongCheckOnlyObject1 || obj == 1) {
		return true
	}
	return float64(min(box.w, box.h))/float64(max(box.w, box.h)) < skinnyRatio
}

// fakeCompletion is the reference's test for resetting the completion
// pass's mask to the modal mask: the modal mask is larger than the
// amodal one at video size, or the amodal mask at completion size looks
// fake (app.py, "remove fake completions").
func fakeCompletion(modal, full, com *scene.Mask, obj scene.PersonID, opt OcclusionOptions) bool {
	return modal.Area() > full.Area() || looksFake(com, obj, opt)
}

// Span is a range of frames [Start, End] (End inclusive) to complete.
type Span struct{ Start, End int }

// occludedSpan returns the frames to complete in a window: first..last
// frame scoring below 0.7, widened by 2 each side and clipped to the
// window. ok is false when no frame is occluded. With ExclusiveSpanEnd
// the last frame is dropped as the reference does.
func occludedSpan(scores []float64, opt OcclusionOptions) (s Span, ok bool) {
	first, last := -1, -1
	for i, v := range scores {
		if v < OccludedBelow {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return Span{}, false
	}
	s = Span{max(0, first-2), min(len(scores)-1, last+2)}
	if opt.ExclusiveSpanEnd {
		s.End--
		if s.End < s.Start {
			return Span{}, false
		}
	}
	return s, true
}

// visibleFrames flags the frames the mesh stage treats as unoccluded (> 0.7).
func visibleFrames(scores []float64) []bool {
	v := make([]bool, len(scores))
	for i, s := range scores {
		v[i] = s > VisibleAbove
	}
	return v
}
