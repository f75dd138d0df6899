package scene

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

func TestPromptsPeople(t *testing.T) {
	p := Prompts{
		Clicks: []Click{{Person: 3}, {Person: 1}, {Person: 3}},
		Boxes:  []Box{{Person: 2}},
	}
	got := p.People()
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("People() = %v, want [1 2 3]", got)
	}
}

func TestDefaultIntrinsics(t *testing.T) {
	k := DefaultIntrinsics(640, 480)
	if k.Fx != 800 || k.Fy != 800 || k.Cx != 320 || k.Cy != 240 {
		t.Fatalf("DefaultIntrinsics(640,480) = %+v", k)
	}
}

func TestMask(t *testing.T) {
	m := NewMask(5, 4)
	if m.Bounds() != (image.Rectangle{}) || m.Area() != 0 {
		t.Fatal("empty mask has bounds or area")
	}
	m.Pix[1*5+2], m.Pix[3*5+4] = 1, 1
	if got := m.Bounds(); got != image.Rect(2, 1, 5, 4) {
		t.Errorf("Bounds = %v", got)
	}
	n := NewMask(5, 4)
	n.Pix[1*5+2] = 1
	if iou, err := IoU(m, n); err != nil || iou != 0.5 {
		t.Errorf("IoU = %v, %v; want 0.5", iou, err)
	}
	if iou, _ := IoU(NewMask(2, 2), NewMask(2, 2)); iou != 1 {
		t.Errorf("IoU of two empty masks = %v, want 1", iou)
	}
	if _, err := IoU(m, NewMask(4, 5)); err == nil || !strings.Contains(err.Error(), "5x4 vs 4x5") {
		t.Errorf("IoU of different sizes: %v", err)
	}
}

func TestMeshValidate(t *testing.T) {
	ok := &Mesh{Vertices: make([]float32, 9), Faces: []uint32{0, 1, 2}}
	if err := ok.Validate(); err != nil || ok.NumVertices() != 3 || ok.NumFaces() != 1 {
		t.Fatalf("valid mesh: %v", err)
	}
	for _, m := range []*Mesh{
		{Vertices: make([]float32, 8)},
		{Vertices: make([]float32, 9), Faces: []uint32{0, 1}},
		{Vertices: make([]float32, 9), Faces: []uint32{0, 1, 3}},
	} {
		if err := m.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", m)
		}
	}
}

func TestRGB(t *testing.T) {
	img := NewRGB(image.Rect(10, 20, 14, 23))
	img.Set(11, 21, color.RGBA{1, 2, 3, 255})
	img.SetRGB(13, 22, 7, 8, 9)
	img.SetRGB(99, 99, 1, 1, 1) // outside: ignored
	if got := img.RGBAAt(11, 21); got != (color.RGBA{1, 2, 3, 255}) {
		t.Errorf("RGBAAt = %v", got)
	}
	back := FromImage(image.Image(img))
	if back != img {
		t.Error("FromImage copied an *RGB")
	}
	rgba := image.NewRGBA(img.Bounds())
	rgba.Set(13, 22, color.RGBA{7, 8, 9, 255})
	if got := FromImage(rgba).RGBAAt(13, 22); got != (color.RGBA{7, 8, 9, 255}) {
		t.Errorf("FromImage(RGBA) pixel = %v", got)
	}
}

func TestRational(t *testing.T) {
	if r := (Rational{30000, 1001}); r.String() != "30000/1001" || r.Float() < 29.97 || r.Float() > 29.98 {
		t.Errorf("%v = %v", r, r.Float())
	}
	if (Rational{25, 1}).String() != "25" || (Rational{1, 0}).Float() != 0 {
		t.Error("Rational formatting")
	}
}
