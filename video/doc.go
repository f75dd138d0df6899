// Package video reads and writes the videos body4d works on.
//
// Decoding runs the ffmpeg command line (ffprobe for the stream facts,
// ffmpeg for raw rgb24 frames over a pipe), so every container and codec
// that the user's ffmpeg knows is accepted without cgo. Image folders
// (PNG/JPEG) are read in Go. Encoding writes browser-playable H.264 MP4
// through ffmpeg; the video/x264 subpackage (build tag x264) does the same
// in-process through libx264.
//
// Unlike the reference tool, which truncates the frame rate to an integer
// and resamples the frames it saves (reference app-pipeline.md §1b, §5),
// the rate is kept exact (scene.Rational) end to end and every source
// frame is delivered once, unresampled.
//
// Decoded frames go into a Store, a bounded on-disk frame store, so that
// memory does not grow with the length of the video.
//
// Rules in brief:
//   - Files: any container/codec ffmpeg reads; the first video stream that
//     is not cover art; every pixel format, converted by ffmpeg to 8-bit
//     rgb24; display rotation applied. No video stream, zero frames, or a
//     stream ffmpeg cannot give a size or pixel format is an error naming
//     the file, with ffmpeg's last error lines.
//   - Folders: .png/.jpg/.jpeg (any case) in natural name order, all one
//     size; other files are ignored; the caller gives the rate (30/1).
//   - Encoding: H.264 High, yuv420p BT.601 limited range (tagged
//     smpte170m), exact rate, +faststart; odd sizes are padded to even by
//     repeating the last column/row; the file appears only on a
//     successful Close.
//   - ffmpeg and ffprobe are found through BODY4D_FFMPEG / BODY4D_FFPROBE,
//     then PATH.
package video
