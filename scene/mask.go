package scene

import (
	"fmt"
	"image"
)

// Mask is a binary mask: one byte a pixel, 0 or 1, row-major.
type Mask struct {
	W, H int
	Pix  []uint8
}

// NewMask returns an empty w×h mask.
func NewMask(w, h int) *Mask { return &Mask{W: w, H: h, Pix: make([]uint8, w*h)} }

// Area returns the number of set pixels.
func (m *Mask) Area() int {
	n := 0
	for _, v := range m.Pix {
		if v != 0 {
			n++
		}
	}
	return n
}

// Bounds returns the tight bounding box of the set pixels, or the empty
// rectangle when none is set.
func (m *Mask) Bounds() image.Rectangle {
	x0, y0, x1, y1 := m.W, m.H, -1, -1
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*m.W : (y+1)*m.W]
		for x, v := range row {
			if v == 0 {
				continue
			}
			x0, x1 = min(x0, x), max(x1, x)
			y0, y1 = min(y0, y), max(y1, y)
		}
	}
	if x1 < 0 {
		return image.Rectangle{}
	}
	return image.Rect(x0, y0, x1+1, y1+1)
}

// IoU returns the intersection over union of two masks of the same size;
// two empty masks have IoU 1.
func IoU(a, b *Mask) (float64, error) {
	if a.W != b.W || a.H != b.H {
		return 0, fmt.Errorf("iou: mask sizes differ: %dx%d vs %dx%d", a.W, a.H, b.W, b.H)
	}
	var inter, union int
	for i := range a.Pix {
		pa, pb := a.Pix[i] != 0, b.Pix[i] != 0
		if pa && pb {
			inter++
		}
		if pa || pb {
			union++
		}
	}
	if union == 0 {
		return 1, nil
	}
	return float64(inter) / float64(union), nil
}

// MaskSource gives each person's mask on each frame. A nil mask with a nil
// error means the person is absent on that frame (out of view), which is
// different from an error.
type MaskSource interface {
	People() []PersonID
	Mask(frame int, id PersonID) (*Mask, error)
}
