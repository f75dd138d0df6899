package serve

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// An upload that would make ffmpeg read another file on the server (an
// HLS playlist or ffconcat list naming the sample clip by its absolute
// path) is refused whatever bytes it starts with, and no frame of the
// named file is ever served.
func TestUploadPlaylistRefused(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	secret, err := filepath.Abs(filepath.Join(sampleDir(t), "clip", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{
		"hls":      "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n" + secret + "\n#EXT-X-ENDLIST\n",
		"ffconcat": "ffconcat version 1.0\nfile '" + secret + "'\n",
	}
	prefixes := map[string]string{
		"none": "", "binary": "\x00", "mp4": "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
		"matroska": "\x1a\x45\xdf\xa3", "avi": "RIFF\x00\x00\x00\x00AVI LIST",
	}
	for kind, body := range bodies {
		for pname, prefix := range prefixes {
			code, msg := c.do("POST", "/api/video?name=x.mp4", []byte(prefix+body))
			if code < 400 {
				t.Fatalf("%s after %s: accepted (%d %s)", kind, pname, code, msg)
			}
			if bytes.Contains(msg, []byte(s.root)) || bytes.Contains(msg, []byte(secret)) || bytes.Contains(msg, []byte("@ 0x")) {
				t.Errorf("%s after %s: the error reveals a path or address: %s", kind, pname, msg)
			}
			if pname == "none" || pname == "binary" {
				if code != http.StatusUnsupportedMediaType || !strings.Contains(string(msg), "not a supported container") {
					t.Errorf("%s after %s: %d %s, want 415 naming the allowed containers", kind, pname, code, msg)
				}
			}
		}
	}
	if code, _ := c.do("GET", "/api/frames/0", nil); code == http.StatusOK {
		t.Errorf("a frame is served after the refused uploads")
	}
}
