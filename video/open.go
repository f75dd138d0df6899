package video

import (
	"context"
	"fmt"
	"os"

	"github.com/body4d/body4d/scene"
)

// Options configure Open.
type Options struct {
	// FPS is the frame rate of an image folder, which has none of its
	// own; zero means 30/1. It is ignored for video files, whose own
	// rate is exact.
	FPS scene.Rational
	// Tools locates ffmpeg/ffprobe; zero fields are found with FindTools.
	Tools Tools
	// Untrusted decodes a video file as OpenUntrusted does (allowed
	// containers only, no other file or URL opened). Image folders are
	// read in Go and are not affected.
	Untrusted bool
}

// Open opens a video file (through ffmpeg) or a folder of images, chosen
// by what path is.
func Open(ctx context.Context, path string, opt Options) (Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	if st.IsDir() {
		return OpenFolder(ctx, path, opt.FPS)
	}
	if opt.Untrusted {
		return OpenUntrusted(ctx, path, path, opt.Tools)
	}
	return OpenFile(ctx, path, opt.Tools)
}
