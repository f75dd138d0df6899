package serve

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shortFrameBytes is what the short clip's decoded frames take: 8 frames
// of 640×360 rgb24.
const shortFrameBytes = 640 * 360 * 3 * 8

// Each budget refuses an upload on ffprobe's facts, before any frame is
// decoded, with a status and a message naming the limit; what a session
// already has is kept.
func TestUploadBudgets(t *testing.T) {
	data, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  Options
		code int
		want string
	}{
		{"pixels", Options{MaxPixels: 640*360 - 1}, http.StatusRequestEntityTooLarge, "max_pixels"},
		{"video bytes", Options{MaxVideoBytes: shortFrameBytes - 1}, http.StatusRequestEntityTooLarge, "max_video_bytes"},
		{"frames", Options{MaxFrames: 7}, http.StatusRequestEntityTooLarge, "at most 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Run = (&fakeRun{}).run
			s, hs := newTestServer(t, tc.opt)
			c := newClient(t, hs)
			c.session()
			c.wantError("POST", "/api/video?name=a.mp4", data, tc.code, tc.want)
			if n := framesOnDisk(t, s.root); n != 0 {
				t.Errorf("%d frame files written for a refused upload", n)
			}
		})
	}
}

// The server's disk budget counts what is stored: a second upload that
// would go over it is refused, and the first session's video stays.
func TestUploadDiskBudget(t *testing.T) {
	data, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	// Room for one decoded clip and its upload, not for two.
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxDiskBytes: shortFrameBytes*3/2 + 2*int64(len(data))})
	a, b := newClient(t, hs), newClient(t, hs)
	a.session()
	b.session()
	st := a.upload(shortClip(t))
	before := framesOnDisk(t, s.root)
	b.wantError("POST", "/api/video?name=b.mp4", data, http.StatusRequestEntityTooLarge, "max_disk_bytes")
	if after := framesOnDisk(t, s.root); after != before {
		t.Errorf("frame files %d before the refused upload, %d after", before, after)
	}
	if code, body := a.do("GET", "/api/frames/7?v="+st.Video.ID, nil); code != http.StatusOK {
		t.Errorf("the first session's frame after the refusal: %d %s", code, body)
	}
}

// With every decode slot taken, an upload waits for one; a second
// upload of the same session meanwhile is refused with 429.
func TestUploadDecodeSlots(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxDecodes: 1})
	c := newClient(t, hs)
	c.session()
	data, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	s.decodes <- struct{}{} // another upload is decoding
	first := make(chan int, 1)
	go func() {
		code, _ := c.do("POST", "/api/video?name=a.mp4", data)
		first <- code
	}()
	// Wait (generously) until the first upload holds the session's
	// upload and waits for the slot.
	deadline := time.Now().Add(time.Minute)
	for !uploading(s) {
		if time.Now().After(deadline) {
			t.Fatal("the first upload never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.wantError("POST", "/api/video?name=b.mp4", data, http.StatusTooManyRequests, "max_uploads_per_session")
	<-s.decodes // the slot frees: the first upload decodes
	if code := <-first; code != http.StatusOK {
		t.Errorf("the waiting upload: %d", code)
	}
}

func uploading(s *Server) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, se := range s.sessions {
		se.mu.Lock()
		u := se.uploading
		se.mu.Unlock()
		if u {
			return true
		}
	}
	return false
}

// framesOnDisk counts the files of frame stores under root.
func framesOnDisk(t *testing.T, root string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, string(filepath.Separator)+"frames"+string(filepath.Separator)) {
			n++
		}
		return nil
	})
	return n
}
