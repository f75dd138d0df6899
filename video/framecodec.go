package video

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"github.com/body4d/body4d/scene"
)

// The frame store's lossless codec: each row through PNG's Paeth
// predictor (bytes 3 apart are the same channel), then deflate. Paeth on
// every row avoids PNG's per-row filter search, which buys little on
// video frames and costs a pass per filter.

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

// encode returns img's compressed bytes, valid until the next call.
func (e *frameEncoder) encode(img *scene.RGB) ([]byte, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	rowBytes := 3 * w
	e.buf.Reset()
	e.zw.Reset(&e.buf)
	if cap(e.filt) < rowBytes {
		e.filt = make([]byte, rowBytes)
	}
	out := e.filt[:rowBytes]
	var prev []byte
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+rowBytes]
		for i, v := range row {
			var a, b, c byte
			if i >= 3 {
				a = row[i-3]
			}
			if prev != nil {
				b = prev[i]
				if i >= 3 {
					c = prev[i-3]
				}
			}
			out[i] = v - paeth(a, b, c)
		}
		if _, err := e.zw.Write(out); err != nil {
			return nil, err
		}
		prev = row
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// decodeFrame fills img (its full size) from encode's output; data that
// does not inflate to exactly the frame is an error.
func decodeFrame(data []byte, img *scene.RGB) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	rowBytes := 3 * w
	zr := flate.NewReader(bytes.NewReader(data))
	defer zr.Close()
	var prev []byte
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+rowBytes]
		if _, err := io.ReadFull(zr, row); err != nil {
			return fmt.Errorf("corrupt frame data at row %d: %w", y, err)
		}
		for i := range row {
			var a, b, c byte
			if i >= 3 {
				a = row[i-3]
			}
			if prev != nil {
				b = prev[i]
				if i >= 3 {
					c = prev[i-3]
				}
			}
			row[i] += paeth(a, b, c)
		}
		prev = row
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
