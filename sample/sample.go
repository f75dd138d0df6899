// Package sample is body4d's built-in sample: the tiny random-weight
// models (every engine the pipeline uses, with the real engines' I/O
// contracts) and a short synthetic clip with suggested clicks and its true
// masks. The linker keeps these bytes only in programs that import it.
//
// The tiny models have random weights: they show that every part runs;
// their output is not meaningful.
package sample

import (
	"embed"
	"io/fs"
)

//go:embed clip/sample.mp4 clip/clicks.json clip/masks
//go:embed models/tiny/manifest.yaml models/tiny/*.onnx models/tiny/*.npz models/tiny/*.npy
var files embed.FS

// Names inside FS's "clip" folder: the clip, its suggested clicks and its
// true masks (a folder of label images, package masks).
const (
	Clip   = "sample.mp4"
	Clicks = "clicks.json"
	Masks  = "masks"
)

// FS returns the sample as a file system with two folders: "clip" (Clip,
// Clicks, Masks) and "models/tiny" (a model directory).
func FS() fs.FS { return files }
