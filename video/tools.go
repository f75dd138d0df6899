package video

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Tools locates the ffmpeg and ffprobe executables.
type Tools struct {
	FFmpeg  string // path of ffmpeg
	FFprobe string // path of ffprobe
}

// ErrFFmpegNotFound is returned (wrapped) when ffmpeg or ffprobe cannot be found.
var ErrFFmpegNotFound = errors.New("ffmpeg not found: install it (scripts/setup.sh) or set BODY4D_FFMPEG")

// FindTools locates ffmpeg and ffprobe: the environment variables
// BODY4D_FFMPEG and BODY4D_FFPROBE name them explicitly, otherwise they are
// looked up on PATH. An explicit path that does not exist is an error, not
// a reason to fall back to PATH: the user asked for that binary.
func FindTools() (Tools, error) {
	ffmpeg, err := findTool("ffmpeg", "BODY4D_FFMPEG")
	if err != nil {
		return Tools{}, err
	}
	ffprobe, err := findTool("ffprobe", "BODY4D_FFPROBE")
	if err != nil {
		return Tools{}, err
	}
	return Tools{FFmpeg: ffmpeg, FFprobe: ffprobe}, nil
}

func findTool(name, env string) (string, error) {
	if p := os.Getenv(env); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%w (%s=%q: %v)", ErrFFmpegNotFound, env, p, err)
		}
		return path, nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w (%s is not on PATH)", ErrFFmpegNotFound, name)
	}
	return path, nil
}

// resolve fills in missing tool paths.
func (t Tools) resolve() (Tools, error) {
	if t.FFmpeg != "" && t.FFprobe != "" {
		return t, nil
	}
	found, err := FindTools()
	if err != nil {
		return t, err
	}
	if t.FFmpeg == "" {
		t.FFmpeg = found.FFmpeg
	}
	if t.FFprobe == "" {
		t.FFprobe = found.FFprobe
	}
	return t, nil
}

// tailBuffer keeps the last max bytes written to it, so that a chatty
// ffmpeg cannot grow memory while its final error lines are still kept.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// summary returns the last few non-empty lines of ffmpeg's stderr, joined
// into one line for an error message.
func (b *tailBuffer) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	for _, l := range bytes.Split(b.buf, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	if len(lines) == 0 {
		return "no error output"
	}
	return strings.Join(lines, "; ")
}
