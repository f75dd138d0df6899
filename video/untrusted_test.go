package video

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

// attacks are files that make an ffmpeg which detects formats by itself
// open another file on the server: an HLS playlist, an ffconcat list and
// (through the name, see TestUntrustedImagePattern) an image sequence.
func attacks(secret string) map[string]string {
	return map[string]string{
		"hls":      "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n" + secret + "\n#EXT-X-ENDLIST\n",
		"ffconcat": "ffconcat version 1.0\nfile '" + secret + "'\n",
	}
}

// prefixes are what an attacker may put in front: nothing, a binary byte
// (which got past the old content sniff) and each allowed container's
// magic, so the refusal cannot rest on the first bytes alone.
var prefixes = map[string]string{
	"none":     "",
	"binary":   "\x00",
	"bom":      "\xef\xbb\xbf",
	"mp4":      "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
	"matroska": "\x1a\x45\xdf\xa3",
	"avi":      "RIFF\x00\x00\x00\x00AVI LIST",
}

func TestUntrustedRefusesPlaylists(t *testing.T) {
	tools := requireFFmpeg(t)
	dir := t.TempDir()
	secret, err := filepath.Abs(sampleClip)
	if err != nil {
		t.Fatal(err)
	}
	for kind, body := range attacks(secret) {
		for pname, prefix := range prefixes {
			path := filepath.Join(dir, kind+"-"+pname)
			if err := os.WriteFile(path, []byte(prefix+body), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, f := range []func() error{
				func() error { _, err := ProbeUntrusted(context.Background(), path, "clip.mp4", tools); return err },
				func() error {
					d, err := OpenUntrusted(context.Background(), path, "clip.mp4", tools)
					if err == nil {
						_, err = d.Next()
						d.Close()
					}
					return err
				},
			} {
				err := f()
				if err == nil {
					t.Fatalf("%s with prefix %s: decoded; want refused", kind, pname)
				}
				msg := err.Error()
				if strings.Contains(msg, dir) || strings.Contains(msg, secret) || heapAddr.MatchString(msg) {
					t.Errorf("%s with prefix %s: error reveals a server path or address: %s", kind, pname, msg)
				}
				if !strings.Contains(msg, "clip.mp4") {
					t.Errorf("%s with prefix %s: error does not name the upload: %s", kind, pname, msg)
				}
			}
		}
	}
}

// An image-sequence pattern in the file's name is never expanded: the
// demuxer is forced from the content, and images are not allowed.
func TestUntrustedImagePattern(t *testing.T) {
	tools := requireFFmpeg(t)
	dir := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n")
	for _, n := range []string{"img001.png", "img002.png", "img%03d.png"} {
		if err := os.WriteFile(filepath.Join(dir, n), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ProbeUntrusted(context.Background(), filepath.Join(dir, "img%03d.png"), "up", tools)
	if err == nil || !strings.Contains(err.Error(), "not a supported container") {
		t.Fatalf("image pattern: got %v, want refused as not a supported container", err)
	}
}

// The allowed containers still decode, and the first frame matches the
// trusted path's.
func TestUntrustedDecodesAllowed(t *testing.T) {
	tools := requireFFmpeg(t)
	dir := t.TempDir()
	for _, ext := range []string{"mp4", "mkv", "mov"} {
		path := filepath.Join(dir, "clip."+ext)
		writeClip(t, tools, path, 64, 48, 3, scene.Rational{Num: 30, Den: 1})
		d, err := OpenUntrusted(context.Background(), path, "clip."+ext, tools)
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		got, err := d.Next()
		d.Close()
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		tr, err := OpenFile(context.Background(), path, tools)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tr.Next()
		tr.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%s: untrusted decode differs from trusted", ext)
		}
	}
}

func TestCleanStripsAddresses(t *testing.T) {
	s := source{path: "/srv/x/upload", name: "a.mp4", demuxer: "mov"}
	got := s.clean("[mov,mp4 @ 0x55d0c0a1b2c0] file:/srv/x/upload: moov atom not found")
	if want := "[mov,mp4] a.mp4: moov atom not found"; got != want {
		t.Errorf("clean: %q, want %q", got, want)
	}
}

// FuzzSniffUntrusted: whatever the bytes, a file is accepted only when it
// starts with an allowed container's signature (checked here
// independently), so no playlist, list or image gets a demuxer.
func FuzzSniffUntrusted(f *testing.F) {
	for _, body := range attacks("/etc/passwd") {
		for _, p := range prefixes {
			f.Add([]byte(p + body))
		}
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Add([]byte("<?xml version=\"1.0\"?><MPD>"))
	f.Add([]byte("\x47\x40\x00\x10")) // MPEG-TS
	f.Fuzz(func(t *testing.T, data []byte) {
		dm, err := SniffUntrusted(data)
		if err != nil {
			if dm != "" {
				t.Fatalf("error with a demuxer %q", dm)
			}
			return
		}
		var ok bool
		switch dm {
		case "mov":
			ok = len(data) >= 8 && strings.Contains("ftyp moov mdat free wide skip pnot", string(data[4:8]))
		case "matroska":
			ok = bytes.HasPrefix(data, []byte("\x1a\x45\xdf\xa3"))
		case "avi":
			ok = bytes.HasPrefix(data, []byte("RIFF")) && len(data) >= 12 && string(data[8:12]) == "AVI "
		}
		if !ok {
			t.Fatalf("%q accepted as %s", data, dm)
		}
	})
}
