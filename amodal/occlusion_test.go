package amodal

import (
	"image"
	"testing"

	"github.com/body4d/body4d/scene"
)

func maskFrom(rows ...string) *scene.Mask {
	m := scene.NewMask(len(rows[0]), len(rows))
	for y, r := range rows {
		for x, c := range r {
			if c == '#' {
				m.Pix[y*m.W+x] = 1
			}
		}
	}
	return m
}

func TestKeepLargestComponent(t *testing.T) {
	for _, c := range []struct {
		name     string
		in, want *scene.Mask
	}{
		// Diagonal neighbours join under 8-connectivity (4 px beat 2).
		{"diagonal", maskFrom("#....", ".#..#", "#.#.#"), maskFrom("#....", ".#...", "#.#..")},
		// Equal sizes: the component met first in raster order wins.
		{"tie", maskFrom("...##", "#....", "#...."), maskFrom("...##", ".....", ".....")},
		{"empty", maskFrom("...", "..."), maskFrom("...", "...")},
	} {
		got := keepLargestComponent(c.in)
		if string(got.Pix) != string(c.want.Pix) {
			t.Errorf("%s: got %v, want %v", c.name, got.Pix, c.want.Pix)
		}
	}
}

func TestBinariseAmodal(t *testing.T) {
	img := scene.NewRGB(image.Rect(0, 0, 3, 1))
	copy(img.Pix, []uint8{200, 200, 200, 201, 200, 200, 255, 255, 255})
	m := binariseAmodal(img)
	if m.Pix[0] != 0 || m.Pix[1] != 1 || m.Pix[2] != 1 {
		t.Errorf("got %v, want [0 1 1] (sum > 600)", m.Pix)
	}
}

func TestOccludedSpan(t *testing.T) {
	for _, c := range []struct {
		name   string
		scores []float64
		opt    OcclusionOptions
		want   Span
		ok     bool
	}{
		{"none", []float64{1, 0.9, 0.7}, OcclusionOptions{}, Span{}, false},
		{"middle", []float64{1, 1, 1, 0.5, 1, 0.2, 1, 1, 1, 1}, OcclusionOptions{}, Span{1, 7}, true},
		{"middle exclusive", []float64{1, 1, 1, 0.5, 1, 0.2, 1, 1, 1, 1}, OcclusionOptions{ExclusiveSpanEnd: true}, Span{1, 6}, true},
		{"clipped", []float64{0.1, 1, 0.3}, OcclusionOptions{}, Span{0, 2}, true},
		{"single frame exclusive", []float64{0.1}, OcclusionOptions{ExclusiveSpanEnd: true}, Span{}, false},
	} {
		got, ok := occludedSpan(c.scores, c.opt)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
	v := visibleFrames([]float64{0.7, 0.71, 0.2})
	if v[0] || !v[1] || v[2] {
		t.Errorf("Visible = %v, want [false true false]", v)
	}
}

func TestOcclusionScoreBad(t *testing.T) {
	for _, c := range []struct {
		name          string
		modal, amodal *scene.Mask
	}{
		{"nil modal", nil, scene.NewMask(2, 2)},
		{"size differs", scene.NewMask(2, 2), scene.NewMask(3, 2)},
		{"short pixels", &scene.Mask{W: 2, H: 2, Pix: make([]uint8, 3)}, scene.NewMask(2, 2)},
	} {
		if _, err := occlusionScore(c.modal, c.amodal, 3, OcclusionOptions{}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
