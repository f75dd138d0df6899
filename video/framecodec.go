package video

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"github.com/body4d/body4d/scene"
)

// The frame store's lossless codec. A frame is one kind byte, then
// deflated data:
//   - intra: each row through PNG's Paeth predictor (bytes 3 apart are
//     the same channel); Paeth on every row avoids PNG's per-row filter
//     search, which buys little on video frames and costs a pass per
//     filter;
//   - delta: each byte minus the same byte of the previous frame (mod
//     256). Decoded video changes little from frame to frame, so this is
//     about half the size of intra on the sample (66 vs 148 KB a frame).
//
// Every keyInterval-th frame is intra, so a read decodes at most
// keyInterval frames, and fewer when the one before is in the cache.
const (
	frameIntra  = 0
	frameDelta  = 1
	keyInterval = 8
)

// frameEncoder reuses its buffers across frames (one import at a time).
type frameEncoder struct {
	buf  bytes.Buffer
	zw   *flate.Writer
	filt []byte
}

func newFrameEncoder() *frameEncoder {
	zw, _ := flate.NewWriter(nil, flate.BestSpeed) // the level is valid
	return &frameEncoder{zw: zw}
}

// encode returns img's compressed bytes, valid until the next call: a
// delta from prev, or intra when prev is nil.
func (e *frameEncoder) encode(img, prev *scene.RGB) ([]byte, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	rowBytes := 3 * w
	e.buf.Reset()
	kind := byte(frameIntra)
	if prev != nil {
		if prev.Rect.Dx() != w || prev.Rect.Dy() != h {
			return nil, fmt.Errorf("frame codec: delta from a %dx%d frame to a %dx%d one", prev.Rect.Dx(), prev.Rect.Dy(), w, h)
		}
		kind = frameDelta
	}
	e.buf.WriteByte(kind)
	e.zw.Reset(&e.buf)
	if cap(e.filt) < rowBytes {
		e.filt = make([]byte, rowBytes)
	}
	out := e.filt[:rowBytes]
	var up []byte
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+rowBytes]
		if prev != nil {
			ref := prev.Pix[y*prev.Stride : y*prev.Stride+rowBytes]
			for i, v := range row {
				out[i] = v - ref[i]
			}
		} else {
			paethRow(out, row, up, -1)
		}
		if _, err := e.zw.Write(out); err != nil {
			return nil, err
		}
		up = row
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// paethRow writes row's Paeth residuals into out (sign −1), or, with sign
// +1, turns the residuals in row back into pixels in place (out is row).
// up is the row above, already in pixels; nil for the first.
func paethRow(out, row, up []byte, sign int) {
	for i := range row {
		var a, b, c byte
		if i >= 3 {
			a = out[i-3]
			if sign < 0 {
				a = row[i-3]
			}
		}
		if up != nil {
			b = up[i]
			if i >= 3 {
				c = up[i-3]
			}
		}
		if sign < 0 {
			out[i] = row[i] - paeth(a, b, c)
		} else {
			out[i] = row[i] + paeth(a, b, c)
		}
	}
}

// decodeFrame fills img (its full size) from encode's output; prev is the
// frame before, which a delta frame needs. Data that does not inflate to
// exactly the frame is an error.
func decodeFrame(data []byte, prev, img *scene.RGB) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	rowBytes := 3 * w
	if len(data) == 0 {
		return fmt.Errorf("corrupt frame data: empty")
	}
	kind := data[0]
	switch kind {
	case frameIntra:
	case frameDelta:
		if prev == nil || prev.Rect.Dx() != w || prev.Rect.Dy() != h {
			return fmt.Errorf("corrupt frame data: a delta frame without its %dx%d predecessor", w, h)
		}
	default:
		return fmt.Errorf("corrupt frame data: unknown kind %d", kind)
	}
	zr := flate.NewReader(bytes.NewReader(data[1:]))
	defer zr.Close()
	var up []byte
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+rowBytes]
		if _, err := io.ReadFull(zr, row); err != nil {
			return fmt.Errorf("corrupt frame data at row %d: %w", y, err)
		}
		if kind == frameDelta {
			ref := prev.Pix[y*prev.Stride : y*prev.Stride+rowBytes]
			for i := range row {
				row[i] += ref[i]
			}
		} else {
			paethRow(row, row, up, +1)
		}
		up = row
	}
	if n, _ := zr.Read(make([]byte, 1)); n != 0 {
		return fmt.Errorf("corrupt frame data: more than %dx%d pixels", w, h)
	}
	return nil
}

// paeth is PNG's Paeth predictor: of left, up and up-left, the one
// closest to left+up−upleft.
func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
