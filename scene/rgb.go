package scene

import (
	"image"
	"image/color"
)

// RGB is an in-memory image of 8-bit RGB pixels, the frame format of every
// stage. It is image.RGBA without the alpha byte: video frames have none,
// and a 1080p frame is 6 MiB instead of 8.
type RGB struct {
	Pix    []uint8 // R, G, B for each pixel, row-major
	Stride int     // bytes between vertically adjacent pixels
	Rect   image.Rectangle
}

// NewRGB returns a black image with the given bounds.
func NewRGB(r image.Rectangle) *RGB {
	w, h := r.Dx(), r.Dy()
	return &RGB{Pix: make([]uint8, 3*w*h), Stride: 3 * w, Rect: r}
}

// ColorModel implements image.Image.
func (p *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds implements image.Image.
func (p *RGB) Bounds() image.Rectangle { return p.Rect }

// At implements image.Image.
func (p *RGB) At(x, y int) color.Color { return p.RGBAAt(x, y) }

// RGBAAt returns the pixel at (x, y) as opaque color.RGBA.
func (p *RGB) RGBAAt(x, y int) color.RGBA {
	if !(image.Point{x, y}.In(p.Rect)) {
		return color.RGBA{}
	}
	i := p.PixOffset(x, y)
	s := p.Pix[i : i+3 : i+3]
	return color.RGBA{s[0], s[1], s[2], 0xff}
}

// PixOffset returns the index of the first byte of pixel (x, y) in Pix.
func (p *RGB) PixOffset(x, y int) int {
	return (y-p.Rect.Min.Y)*p.Stride + (x-p.Rect.Min.X)*3
}

// Set implements draw.Image; alpha is ignored.
func (p *RGB) Set(x, y int, c color.Color) {
	if !(image.Point{x, y}.In(p.Rect)) {
		return
	}
	r, g, b, _ := c.RGBA()
	i := p.PixOffset(x, y)
	p.Pix[i], p.Pix[i+1], p.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(b>>8)
}

// SetRGB sets the pixel at (x, y).
func (p *RGB) SetRGB(x, y int, r, g, b uint8) {
	if !(image.Point{x, y}.In(p.Rect)) {
		return
	}
	i := p.PixOffset(x, y)
	p.Pix[i], p.Pix[i+1], p.Pix[i+2] = r, g, b
}

// FromImage converts any image to RGB, dropping alpha.
func FromImage(src image.Image) *RGB {
	if p, ok := src.(*RGB); ok {
		return p
	}
	b := src.Bounds()
	dst := NewRGB(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := src.At(x, y).RGBA()
			i := dst.PixOffset(x, y)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
		}
	}
	return dst
}

// FrameSource gives random access to a video's decoded frames. The frame
// store implements it; stages read frames through it and never hold the
// whole video.
type FrameSource interface {
	Info() VideoInfo
	// Frame returns frame i (0-based). The caller must not modify it.
	Frame(i int) (*RGB, error)
}
