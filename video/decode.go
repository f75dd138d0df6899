package video

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/body4d/body4d/scene"
)

// Reader delivers a video's frames in order.
type Reader interface {
	// Info describes the video. Frames is the number of frames the
	// source announces; Next may deliver a different number when the
	// container's count is wrong, and the number delivered is the truth.
	Info() scene.VideoInfo
	// Next returns the next frame, or io.EOF after the last one. The
	// frame is newly allocated and belongs to the caller.
	Next() (*scene.RGB, error)
	// Close releases the reader; it is safe to call more than once.
	Close() error
}

// Decoder reads a video file's frames through ffmpeg.
type Decoder struct {
	src    source
	path   string // how errors name the file
	ctx    context.Context
	probe  *Probe
	cmd    *exec.Cmd
	out    io.ReadCloser
	r      *bufio.Reader
	stderr *tailBuffer
	n      int   // frames delivered
	err    error // sticky error after the end or a failure
	closed bool
}

// OpenFile probes path and starts ffmpeg decoding its first video stream
// to rgb24. Every source frame is delivered exactly once
// (-fps_mode passthrough): nothing is dropped or duplicated to fit a
// nominal rate. Cancelling ctx kills ffmpeg.
func OpenFile(ctx context.Context, path string, tools Tools) (*Decoder, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	return openSource(ctx, trusted(path), tools)
}

func openSource(ctx context.Context, src source, tools Tools) (*Decoder, error) {
	path := src.name
	tools, err := tools.resolve()
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	p, err := probeSource(ctx, src, tools)
	if err != nil {
		return nil, err
	}
	args := append([]string{"-nostdin", "-v", "error"}, src.inputArgs()...)
	args = append(args, "-map", "0:"+strconv.Itoa(p.Stream), "-an", "-sn", "-dn",
		"-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	cmd := exec.CommandContext(ctx, tools.FFmpeg, args...)
	stderr := &tailBuffer{max: 8192}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("video %s: starting ffmpeg: %w", path, err)
	}
	return &Decoder{src: src, path: path, ctx: ctx, probe: p, cmd: cmd, out: out,
		r: bufio.NewReaderSize(out, 1<<20), stderr: stderr}, nil
}

// Info implements Reader.
func (d *Decoder) Info() scene.VideoInfo { return d.probe.VideoInfo }

// Probe returns what ffprobe reported about the stream.
func (d *Decoder) Probe() Probe { return *d.probe }

// Next implements Reader.
func (d *Decoder) Next() (*scene.RGB, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.closed {
		return nil, fmt.Errorf("video %s: decoder is closed", d.path)
	}
	img := scene.NewRGB(image.Rect(0, 0, d.probe.Width, d.probe.Height))
	_, err := io.ReadFull(d.r, img.Pix)
	if err == nil {
		d.n++
		return img, nil
	}
	waitErr := d.cmd.Wait()
	d.closed = true
	switch {
	case d.ctx.Err() != nil:
		d.err = fmt.Errorf("video %s: %w", d.path, d.ctx.Err())
	case waitErr != nil:
		d.err = fmt.Errorf("video %s: ffmpeg failed after %d frames: %s", d.path, d.n, d.src.clean(d.stderr.summary()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		d.err = fmt.Errorf("video %s: frame %d is truncated", d.path, d.n)
	case d.n == 0:
		d.err = fmt.Errorf("video %s: zero frames decoded: %s", d.path, d.src.clean(d.stderr.summary()))
	case d.n < d.probe.Frames && d.stderr.len() > 0:
		// ffmpeg exits 0 on a truncated or damaged file and just stops
		// early; its error output (it runs at -v error) tells that apart
		// from a container that merely overstates its frame count.
		d.err = fmt.Errorf("video %s: damaged or truncated: decoded %d of %d frames: %s",
			d.path, d.n, d.probe.Frames, d.src.clean(d.stderr.summary()))
	default:
		d.err = io.EOF
	}
	return nil, d.err
}

// Close implements Reader. Closing before the end stops ffmpeg.
func (d *Decoder) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	if d.err == nil {
		d.err = fmt.Errorf("video %s: decoder is closed", d.path)
	}
	// Killing is the only way to stop ffmpeg mid-stream; its exit status
	// then says nothing about the file, so it is not reported.
	_ = d.cmd.Process.Kill()
	_ = d.out.Close()
	_ = d.cmd.Wait()
	return nil
}
