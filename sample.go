package body4d

import (
	"embed"
	"io/fs"
)

// The built-in sample: the tiny random-weight models (every engine the
// pipeline uses, with the real engines' I/O contracts) and a short
// synthetic clip with suggested clicks. The linker keeps these bytes only
// in programs that call Sample.
//
//go:embed testdata/clip/sample.mp4 testdata/clip/clicks.json testdata/clip/masks
//go:embed testdata/models/tiny/manifest.yaml testdata/models/tiny/*.onnx testdata/models/tiny/*.npz
var sample embed.FS

// Names of the sample clip, its clicks and its true masks (a folder of
// label images, package masks) inside Sample()'s "clip" folder.
const (
	SampleClip   = "sample.mp4"
	SampleClicks = "clicks.json"
	SampleMasks  = "masks"
)

// Sample returns the built-in sample as a file system with two folders:
// "clip" (SampleClip, SampleClicks, SampleMasks) and "models/tiny" (a model directory).
// The tiny models have random weights: they show that every part runs,
// their output is not meaningful.
func Sample() fs.FS {
	sub, err := fs.Sub(sample, "testdata")
	if err != nil {
		panic(err) // "testdata" is a valid path; fs.Sub cannot fail here
	}
	return sub
}
