package mp4

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// splitAnnexB returns the NAL units of an H.264 Annex B stream.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+3 <= len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 { // 4-byte start code
					end--
				}
				nals = append(nals, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 {
		nals = append(nals, b[start:])
	}
	return nals
}

// TestMuxFFmpegStream muxes a raw H.264 stream made by ffmpeg (no
// B-frames, one slice per picture) and checks that ffmpeg decodes the MP4
// to exactly the pictures of the raw stream, at the exact rate.
func TestMuxFFmpegStream(t *testing.T) {
	if os.Getenv("BODY4D_SKIP_FFMPEG") == "1" {
		t.Skip("BODY4D_SKIP_FFMPEG=1")
	}
	tools, err := video.FindTools()
	if err != nil {
		t.Fatalf("%v (BODY4D_SKIP_FFMPEG=1 skips)", err)
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "clip.h264")
	out, err := exec.Command(tools.FFmpeg, "-nostdin", "-v", "error", "-f", "lavfi",
		"-i", "testsrc2=s=160x120:r=25", "-frames:v", "40", "-c:v", "libx264", "-bf", "0", "-g", "15",
		"-pix_fmt", "yuv420p", "-f", "h264", raw).CombinedOutput()
	if err != nil {
		t.Fatalf("making raw H.264: %v\n%s", err, out)
	}
	stream, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	var sps, pps []byte
	var samples [][]byte
	var keys []bool
	var pending []byte // SEI etc. waiting for their picture
	for _, nal := range splitAnnexB(stream) {
		typ := nal[0] & 0x1f
		switch {
		case typ == 7:
			sps = nal
			continue
		case typ == 8:
			pps = nal
			continue
		case typ == 9: // access unit delimiter: not needed in MP4
			continue
		}
		pending = binary.BigEndian.AppendUint32(pending, uint32(len(nal)))
		pending = append(pending, nal...)
		if typ == 1 || typ == 5 {
			samples = append(samples, pending)
			keys = append(keys, typ == 5)
			pending = nil
		}
	}
	if len(samples) != 40 || sps == nil || pps == nil {
		t.Fatalf("raw stream: %d pictures, SPS %v, PPS %v", len(samples), sps != nil, pps != nil)
	}

	fps := scene.Rational{Num: 24000, Den: 1001}
	spool, err := os.Create(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	w, err := NewWriter(spool, Config{Width: 160, Height: 120, FPS: fps, SPS: sps, PPS: pps})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		if err := w.WriteSample(s, keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	var mp4 bytes.Buffer
	if err := w.Finish(&mp4); err != nil {
		t.Fatal(err)
	}
	muxed := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(muxed, mp4.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mp4.Bytes()[4:8], []byte("ftyp")) || !bytes.Contains(mp4.Bytes()[:200], []byte("moov")) {
		t.Errorf("file does not start ftyp, moov (faststart)")
	}

	ctx := context.Background()
	dm, err := video.OpenFile(ctx, muxed, tools)
	if err != nil {
		t.Fatal(err)
	}
	if info := dm.Info(); info != (scene.VideoInfo{Width: 160, Height: 120, FPS: fps, Frames: 40}) {
		t.Errorf("muxed info %+v", info)
	}
	dr, err := video.OpenFile(ctx, raw, tools)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		a, errA := dm.Next()
		b, errB := dr.Next()
		if errA == io.EOF && errB == io.EOF {
			if i != 40 {
				t.Errorf("%d frames, want 40", i)
			}
			break
		}
		if errA != nil || errB != nil {
			t.Fatalf("frame %d: muxed %v, raw %v", i, errA, errB)
		}
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("frame %d decodes differently from the raw stream", i)
		}
	}
	dm.Close()
	dr.Close()
}

func TestWriterErrors(t *testing.T) {
	sps := []byte{0x67, 100, 0, 30}
	good := Config{Width: 16, Height: 16, FPS: scene.Rational{Num: 30, Den: 1}, SPS: sps, PPS: []byte{0x68}}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"zero size", func(c *Config) { c.Width = 0 }, "frame size"},
		{"bad rate", func(c *Config) { c.FPS.Den = 0 }, "frame rate"},
		{"no SPS", func(c *Config) { c.SPS = nil }, "SPS"},
	} {
		c := good
		tc.mod(&c)
		if _, err := NewWriter(&memFile{}, c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	w, err := NewWriter(&memFile{}, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(io.Discard); err == nil || !strings.Contains(err.Error(), "no samples") {
		t.Errorf("empty Finish: %v", err)
	}
	if err := w.WriteSample([]byte{0, 0, 0, 1, 0x41}, false); err == nil || !strings.Contains(err.Error(), "key frame") {
		t.Errorf("non-key first sample: %v", err)
	}
}

// memFile is an in-memory io.ReadWriteSeeker.
type memFile struct {
	b   []byte
	off int
}

func (m *memFile) Write(p []byte) (int, error) {
	m.b = append(m.b[:m.off], p...)
	m.off += len(p)
	return len(p), nil
}

func (m *memFile) Read(p []byte) (int, error) {
	if m.off >= len(m.b) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.off:])
	m.off += n
	return n, nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.off = int(off)
	case io.SeekCurrent:
		m.off += int(off)
	case io.SeekEnd:
		m.off = len(m.b) + int(off)
	}
	return int64(m.off), nil
}
