package video

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/body4d/body4d/scene"
)

// Writer writes frames to a video.
type Writer interface {
	// Write appends a frame. Every frame must have the size of the first.
	Write(*scene.RGB) error
	// Close finishes the video. The output file appears, complete, only
	// when Close returns nil.
	Close() error
}

// EncodeOptions configure the H.264 encoders.
type EncodeOptions struct {
	// FPS is the exact frame rate to write; it must be positive.
	FPS scene.Rational
	// CRF is x264's constant rate factor (0–51, lower is better); zero
	// means DefaultCRF.
	CRF int
	// Preset is the x264 speed preset; empty means "medium".
	Preset string
	// Tools locates ffmpeg for the ffmpeg encoder; zero fields are found
	// with FindTools.
	Tools Tools
}

// DefaultCRF gives visually lossless output for rendered overlays
// (≈ 40 dB PSNR on natural frames) at modest size.
const DefaultCRF = 18

func (o EncodeOptions) check(path string) (EncodeOptions, error) {
	if o.FPS.Num <= 0 || o.FPS.Den <= 0 {
		return o, fmt.Errorf("encode %s: frame rate %v must be positive", path, o.FPS)
	}
	if o.CRF == 0 {
		o.CRF = DefaultCRF
	}
	if o.CRF < 0 || o.CRF > 51 {
		return o, fmt.Errorf("encode %s: CRF %d is outside 0–51", path, o.CRF)
	}
	if o.Preset == "" {
		o.Preset = "medium"
	}
	return o, nil
}

// Check validates and completes the options; encoders in subpackages use
// it so that all encoders accept the same options.
func (o EncodeOptions) Check(path string) (EncodeOptions, error) { return o.check(path) }

// EvenSize returns w and h rounded up to even numbers. yuv420p stores
// chroma at half resolution, so H.264 in yuv420p (what browsers play)
// needs even dimensions.
func EvenSize(w, h int) (int, int) { return w + w&1, h + h&1 }

// PadEven returns src, or, when its width or height is odd, a copy one
// pixel wider/taller whose extra column/row repeats the last one. The
// encoders pad rather than refuse: an odd-sized video can then be written
// back with its content intact, one edge pixel larger, and edge repetition
// keeps the chroma of the last real column/row from bleeding into black.
func PadEven(src *scene.RGB) *scene.RGB {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	ew, eh := EvenSize(w, h)
	if ew == w && eh == h && src.Stride == 3*w {
		return src
	}
	dst := scene.NewRGB(image.Rect(0, 0, ew, eh))
	for y := 0; y < eh; y++ {
		sy := min(y, h-1)
		row := src.Pix[sy*src.Stride : sy*src.Stride+3*w]
		d := dst.Pix[y*dst.Stride:]
		copy(d, row)
		if ew != w {
			copy(d[3*w:3*w+3], row[3*w-3:])
		}
	}
	return dst
}

// PendingFile is an output file written under a temporary name in the
// target's directory and renamed into place on Commit, so that a failed or
// interrupted encode never leaves a half-written file under the real name.
type PendingFile struct {
	Path string // final path
	Temp string // temporary path being written
}

// NewPendingFile reserves a temporary file next to path.
func NewPendingFile(path string) (*PendingFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(name)
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	return &PendingFile{Path: path, Temp: name}, nil
}

// Commit renames the temporary file to the final path.
func (p *PendingFile) Commit() error {
	// CreateTemp makes the file private (0600); the result is an
	// ordinary output file.
	if err := os.Chmod(p.Temp, 0o644); err != nil {
		os.Remove(p.Temp)
		return fmt.Errorf("encode %s: %w", p.Path, err)
	}
	if err := os.Rename(p.Temp, p.Path); err != nil {
		os.Remove(p.Temp)
		return fmt.Errorf("encode %s: %w", p.Path, err)
	}
	return nil
}

// Abort removes the temporary file.
func (p *PendingFile) Abort() { os.Remove(p.Temp) }

// Encoder writes H.264 MP4 through the ffmpeg command line (libx264,
// yuv420p, +faststart so browsers can start playing before the download
// ends).
type Encoder struct {
	ctx    context.Context
	opt    EncodeOptions
	out    *PendingFile
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	w, h   int // size of the first frame
	n      int // frames written
	err    error
	done   bool
}

// Create starts an MP4 encoder writing to path. ffmpeg starts at the first
// frame, whose size fixes the video's size. Cancelling ctx kills ffmpeg;
// Close then reports the cancellation and leaves no file behind.
func Create(ctx context.Context, path string, opt EncodeOptions) (*Encoder, error) {
	opt, err := opt.check(path)
	if err != nil {
		return nil, err
	}
	if opt.Tools, err = opt.Tools.resolve(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	out, err := NewPendingFile(path)
	if err != nil {
		return nil, err
	}
	return &Encoder{ctx: ctx, opt: opt, out: out}, nil
}

func (e *Encoder) start(w, h int) error {
	ew, eh := EvenSize(w, h)
	rate := strconv.Itoa(e.opt.FPS.Num) + "/" + strconv.Itoa(e.opt.FPS.Den)
	args := []string{"-nostdin", "-v", "error",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", ew, eh), "-framerate", rate, "-i", "pipe:0",
		"-c:v", "libx264", "-preset", e.opt.Preset, "-crf", strconv.Itoa(e.opt.CRF), "-pix_fmt", "yuv420p",
		// swscale converts with BT.601 limited range; say so, so that
		// players do not guess BT.709 for HD sizes.
		"-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-color_range", "tv",
		"-r", rate, "-movflags", "+faststart", "-f", "mp4", "-y", e.out.Temp}
	e.cmd = exec.CommandContext(e.ctx, e.opt.Tools.FFmpeg, args...)
	e.stderr = &tailBuffer{max: 8192}
	e.cmd.Stderr = e.stderr
	stdin, err := e.cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("starting ffmpeg: %w", err)
	}
	e.stdin = stdin
	e.w, e.h = w, h
	return nil
}

// Write implements Writer.
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
	if err := CheckFrame(e.n, e.w, e.h, img); err != nil {
		return e.fail(err)
	}
	if e.cmd == nil {
		if err := e.start(img.Rect.Dx(), img.Rect.Dy()); err != nil {
			return e.fail(err)
		}
	}
	if _, err := e.stdin.Write(PadEven(img).Pix); err != nil {
		e.stdin.Close()
		werr := e.cmd.Wait()
		e.cmd = nil
		if e.ctx.Err() != nil {
			return e.fail(e.ctx.Err())
		}
		return e.fail(fmt.Errorf("ffmpeg stopped at frame %d: %v: %s", e.n, werr, e.stderr.summary()))
	}
	e.n++
	return nil
}

// fail makes err sticky, stops ffmpeg and removes the partial output.
func (e *Encoder) fail(err error) error {
	e.err = fmt.Errorf("encode %s: %w", e.out.Path, err)
	if e.cmd != nil {
		e.stdin.Close()
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
		e.cmd = nil
	}
	e.out.Abort()
	return e.err
}

// CheckFrame checks img as the next frame of a video of which n frames,
// each w×h, were written: the first frame must not be empty and fixes
// the size of the others.
func CheckFrame(n, w, h int, img *scene.RGB) error {
	fw, fh := img.Rect.Dx(), img.Rect.Dy()
	switch {
	case n == 0 && (fw <= 0 || fh <= 0):
		return fmt.Errorf("frame 0 is empty (%dx%d)", fw, fh)
	case n > 0 && (fw != w || fh != h):
		return fmt.Errorf("frame %d is %dx%d, but the video is %dx%d", n, fw, fh, w, h)
	}
	return nil
}

// Frames returns the number of frames written so far.
func (e *Encoder) Frames() int { return e.n }

// Close implements Writer. After an error (in Write or here) no file is
// left at the path.
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
	e.stdin.Close()
	err := e.cmd.Wait()
	e.cmd = nil
	if e.ctx.Err() != nil {
		return e.fail(e.ctx.Err())
	}
	if err != nil {
		return e.fail(fmt.Errorf("ffmpeg: %v: %s", err, e.stderr.summary()))
	}
	if err := e.out.Commit(); err != nil {
		e.err = err
		return err
	}
	return nil
}
