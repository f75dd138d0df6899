// Package x264 encodes browser-playable H.264 MP4 in-process through
// libx264, with no ffmpeg executable: frames are converted to I420 in Go
// (video.RGBToI420, BT.601 limited range like ffmpeg's yuv420p), encoded by
// a small cgo binding to libx264 and muxed by video/mp4 with the exact
// rational frame rate and faststart layout.
//
// It needs the x264 headers and library (Debian: libx264-dev, installed by
// scripts/setup.sh) and is built only with the build tag x264:
//
//	go build -tags x264 ./video/...
//
// Without the tag the package is empty.
package x264
