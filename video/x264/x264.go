//go:build x264

package x264

/*
#cgo LDFLAGS: -lx264
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x264.h>

// b4d_open configures and opens an encoder. x264_encoder_open is a macro
// naming a versioned symbol, which cgo cannot call directly. Returns NULL
// and sets *why: 1 bad preset, 2 bad profile, 3 open failed.
static x264_t *b4d_open(int w, int h, int fps_num, int fps_den, float crf, const char *preset, int *why) {
	x264_param_t p;
	// Checked here because x264_param_default_preset logs to stderr.
	int known = 0;
	for (int i = 0; x264_preset_names[i]; i++) known |= !strcmp(preset, x264_preset_names[i]);
	if (!known || x264_param_default_preset(&p, preset, NULL) < 0) { *why = 1; return NULL; }
	p.i_log_level = X264_LOG_NONE;
	p.i_csp = X264_CSP_I420;
	p.i_width = w;
	p.i_height = h;
	p.i_fps_num = fps_num;
	p.i_fps_den = fps_den;
	p.i_timebase_num = fps_den;
	p.i_timebase_den = fps_num;
	p.b_vfr_input = 0;
	// The muxer writes no composition offsets: decode order must be
	// display order.
	p.i_bframe = 0;
	// SPS/PPS go in the avcC box once; samples carry length-prefixed NALs.
	p.b_repeat_headers = 0;
	p.b_annexb = 0;
	p.rc.i_rc_method = X264_RC_CRF;
	p.rc.f_rf_constant = crf;
	// BT.601 limited range, matching video.RGBToI420.
	p.vui.b_fullrange = 0;
	p.vui.i_colorprim = 6;
	p.vui.i_transfer = 6;
	p.vui.i_colmatrix = 6;
	if (x264_param_apply_profile(&p, "high") < 0) { *why = 2; return NULL; }
	x264_t *enc = x264_encoder_open(&p);
	if (!enc) *why = 3;
	return enc;
}

// b4d_headers finds the SPS and PPS NAL units (payloads include their
// 4-byte length prefix, as b_annexb is 0).
static int b4d_headers(x264_t *h, uint8_t **sps, int *sps_len, uint8_t **pps, int *pps_len) {
	x264_nal_t *nal;
	int n;
	if (x264_encoder_headers(h, &nal, &n) < 0) return -1;
	for (int i = 0; i < n; i++) {
		if (nal[i].i_type == NAL_SPS) { *sps = nal[i].p_payload; *sps_len = nal[i].i_payload; }
		if (nal[i].i_type == NAL_PPS) { *pps = nal[i].p_payload; *pps_len = nal[i].i_payload; }
	}
	return 0;
}

// b4d_encode encodes one I420 picture (buf == NULL flushes a delayed one).
// On output, *out points at the picture's NAL units, contiguous in memory.
static int b4d_encode(x264_t *h, uint8_t *buf, int w, int hgt, int64_t pts, uint8_t **out, int *key) {
	x264_nal_t *nal;
	int n;
	x264_picture_t in, pic;
	x264_picture_t *pin = NULL;
	if (buf) {
		x264_picture_init(&in);
		in.img.i_csp = X264_CSP_I420;
		in.img.i_plane = 3;
		in.img.plane[0] = buf;
		in.img.plane[1] = buf + w * hgt;
		in.img.plane[2] = buf + w * hgt + w * hgt / 4;
		in.img.i_stride[0] = w;
		in.img.i_stride[1] = w / 2;
		in.img.i_stride[2] = w / 2;
		in.i_pts = pts;
		pin = &in;
	}
	int size = x264_encoder_encode(h, &nal, &n, pin, &pic);
	if (size > 0) {
		*out = nal[0].p_payload;
		*key = pic.b_keyframe;
	}
	return size;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
	"github.com/body4d/body4d/video/mp4"
)

// Encoder writes H.264 MP4 through libx264. It implements video.Writer
// with the same rules as video.Encoder: exact rational rate, odd sizes
// padded to even by edge repetition, temp file renamed into place only on
// a successful Close.
type Encoder struct {
	ctx   context.Context
	opt   video.EncodeOptions
	out   *video.PendingFile
	spool *os.File
	mux   *mp4.Writer
	enc   *C.x264_t
	buf   unsafe.Pointer // C-allocated I420 picture; libx264 must not see Go memory
	w, h  int            // size of the first frame
	ew    int            // even (encoded) width and height
	eh    int
	n     int
	err   error
	done  bool
}

// Create starts an encoder writing to path; libx264 opens at the first
// frame, whose size fixes the video's. The CRF and preset options mean
// what they mean to ffmpeg's libx264 encoder.
func Create(ctx context.Context, path string, opt video.EncodeOptions) (*Encoder, error) {
	opt, err := opt.Check(path)
	if err != nil {
		return nil, err
	}
	out, err := video.NewPendingFile(path)
	if err != nil {
		return nil, err
	}
	return &Encoder{ctx: ctx, opt: opt, out: out}, nil
}

func (e *Encoder) open(w, h int) error {
	e.w, e.h = w, h
	e.ew, e.eh = video.EvenSize(w, h)
	preset := C.CString(e.opt.Preset)
	defer C.free(unsafe.Pointer(preset))
	var why C.int
	e.enc = C.b4d_open(C.int(e.ew), C.int(e.eh), C.int(e.opt.FPS.Num), C.int(e.opt.FPS.Den),
		C.float(e.opt.CRF), preset, &why)
	if e.enc == nil {
		switch why {
		case 1:
			return fmt.Errorf("unknown x264 preset %q", e.opt.Preset)
		default:
			return fmt.Errorf("libx264 cannot encode %dx%d at %v fps", e.ew, e.eh, e.opt.FPS)
		}
	}
	var sps, pps *C.uint8_t
	var spsLen, ppsLen C.int
	if C.b4d_headers(e.enc, &sps, &spsLen, &pps, &ppsLen) < 0 || spsLen <= 4 || ppsLen <= 4 {
		return errors.New("libx264 gave no SPS/PPS")
	}
	e.buf = C.malloc(C.size_t(e.ew * e.eh * 3 / 2))
	// Next to the output, not in /tmp, which may be a small RAM disk.
	spool, err := os.CreateTemp(filepath.Dir(e.out.Path), "."+filepath.Base(e.out.Path)+".*.mdat")
	if err != nil {
		return err
	}
	e.spool = spool
	mux, err := mp4.NewWriter(spool, mp4.Config{
		Width: e.ew, Height: e.eh, FPS: e.opt.FPS,
		SPS: C.GoBytes(unsafe.Pointer(sps), spsLen)[4:],
		PPS: C.GoBytes(unsafe.Pointer(pps), ppsLen)[4:],
	})
	if err != nil {
		return err
	}
	e.mux = mux
	return nil
}

// Write implements video.Writer.
func (e *Encoder) Write(img *scene.RGB) error {
	if e.err != nil {
		return e.err
	}
	if e.done {
		return fmt.Errorf("encode %s: encoder is closed", e.out.Path)
	}
	if err := e.ctx.Err(); err != nil {
		return e.fail(err)
	}
	if err := video.CheckFrame(e.n, e.w, e.h, img); err != nil {
		return e.fail(err)
	}
	if e.enc == nil {
		if err := e.open(img.Rect.Dx(), img.Rect.Dy()); err != nil {
			return e.fail(err)
		}
	}
	pic := unsafe.Slice((*byte)(e.buf), e.ew*e.eh*3/2)
	if err := video.RGBToI420(video.PadEven(img), pic); err != nil {
		return e.fail(err)
	}
	if err := e.encode(e.buf, int64(e.n)); err != nil {
		return e.fail(fmt.Errorf("frame %d: %w", e.n, err))
	}
	e.n++
	return nil
}

// encode feeds one picture (nil flushes) and muxes what comes out.
func (e *Encoder) encode(buf unsafe.Pointer, pts int64) error {
	var out *C.uint8_t
	var key C.int
	size := C.b4d_encode(e.enc, (*C.uint8_t)(buf), C.int(e.ew), C.int(e.eh), C.int64_t(pts), &out, &key)
	if size < 0 {
		return errors.New("libx264 failed to encode")
	}
	if size == 0 {
		return nil // buffered inside x264 (lookahead)
	}
	return e.mux.WriteSample(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(size)), key != 0)
}

// Close implements video.Writer: it drains libx264, writes the MP4 and
// renames it into place. After any error no file is left at the path.
func (e *Encoder) Close() error {
	if e.done {
		return e.err
	}
	e.done = true
	if e.err != nil {
		return e.err
	}
	if e.n == 0 {
		return e.fail(errors.New("no frames written"))
	}
	for C.x264_encoder_delayed_frames(e.enc) > 0 {
		if err := e.ctx.Err(); err != nil {
			return e.fail(err)
		}
		if err := e.encode(nil, 0); err != nil {
			return e.fail(fmt.Errorf("flushing: %w", err))
		}
	}
	if got := e.mux.Samples(); got != e.n {
		return e.fail(fmt.Errorf("libx264 returned %d pictures for %d frames", got, e.n))
	}
	f, err := os.OpenFile(e.out.Temp, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return e.fail(err)
	}
	err = e.mux.Finish(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return e.fail(err)
	}
	e.release()
	if err := e.out.Commit(); err != nil {
		e.err = err
		return err
	}
	return nil
}

// fail makes err sticky, frees libx264 and removes the partial output.
func (e *Encoder) fail(err error) error {
	e.err = fmt.Errorf("encode %s: %w", e.out.Path, err)
	e.release()
	e.out.Abort()
	return e.err
}

func (e *Encoder) release() {
	if e.enc != nil {
		C.x264_encoder_close(e.enc)
		e.enc = nil
	}
	if e.buf != nil {
		C.free(e.buf)
		e.buf = nil
	}
	if e.spool != nil {
		e.spool.Close()
		os.Remove(e.spool.Name())
		e.spool = nil
	}
}
