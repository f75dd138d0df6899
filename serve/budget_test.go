package serve

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/body4d/body4d/scene"
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
	// Room for one clip's upload and its frames counted as decoded
	// (width×height×3 a frame; the store keeps them compressed), not for
	// a second upload beside them; 4 KiB for the server's lock file.
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxDiskBytes: shortFrameBytes + int64(len(data)) + 4096})
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

// onlySession returns the server's one session.
func onlySession(t *testing.T, s *Server) *session {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(s.sessions))
	}
	for _, se := range s.sessions {
		return se
	}
	return nil
}

// A session's disk budget counts its own files: a second upload whose
// frames would take it over is refused before decoding, the session's
// video stays, and another session is not charged for it.
func TestSessionDiskBudget(t *testing.T) {
	data, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	// Room for one upload and its frames counted as decoded, not for a
	// second upload beside them.
	limit := int64(len(data)) + shortFrameBytes
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxSessionDiskBytes: limit})
	a, b := newClient(t, hs), newClient(t, hs)
	a.session()
	st := a.upload(shortClip(t))
	before := framesOnDisk(t, s.root)
	a.wantError("POST", "/api/video?name=b.mp4", data, http.StatusRequestEntityTooLarge, "max_session_disk_bytes")
	if after := framesOnDisk(t, s.root); after != before {
		t.Errorf("frame files %d before the refused upload, %d after", before, after)
	}
	if code, body := a.do("GET", "/api/frames/7?v="+st.Video.ID, nil); code != http.StatusOK {
		t.Errorf("the session's frame after the refusal: %d %s", code, body)
	}
	b.session()
	b.upload(shortClip(t)) // its own budget
	var got sessionJSON
	a.json("GET", "/api/session", nil, http.StatusOK, &got)
	if got.Limits.SessionTTL != int64(defaultTTL/time.Second) {
		t.Errorf("limits.session_ttl_seconds = %d, want %d", got.Limits.SessionTTL, int64(defaultTTL/time.Second))
	}
	if got.Limits.MaxSessionDisk != limit {
		t.Errorf("limits.max_session_disk_bytes = %d, want %d", got.Limits.MaxSessionDisk, limit)
	}
}

// A session at its budget (here filled by an earlier job's output): an
// upload is refused before a byte is stored, and so is a run (its
// outputs would not fit); the video, the clicks and the stored files
// stay.
func TestSessionDiskBudgetFull(t *testing.T) {
	data, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(len(data)) + shortFrameBytes
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxSessionDiskBytes: limit})
	c := newClient(t, hs)
	c.session()
	st := c.upload(shortClip(t))
	c.setClicks(scene.Click{Frame: 0, X: 100, Y: 100, Person: 1})
	dir := onlySession(t, s).dir
	earlier := filepath.Join(dir, "job-earlier")
	if err := os.Mkdir(earlier, 0o755); err != nil {
		t.Fatal(err)
	}
	// Half an upload left: one sent without a length is cut off while
	// it is received.
	result := filepath.Join(earlier, "result.mp4")
	if err := os.WriteFile(result, make([]byte, limit-diskUsage(dir)-int64(len(data))/2), 0o644); err != nil {
		t.Fatal(err)
	}
	c.wantError("POST", "/api/video?name=b.mp4", io.MultiReader(bytes.NewReader(data)), http.StatusRequestEntityTooLarge, "max_session_disk_bytes")
	fi, err := os.Stat(result)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(result, make([]byte, fi.Size()+limit-diskUsage(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := diskUsage(dir); got != limit {
		t.Fatalf("the session stores %d bytes, want its limit %d", got, limit)
	}
	c.wantError("POST", "/api/video?name=b.mp4", data, http.StatusRequestEntityTooLarge, "max_session_disk_bytes")
	c.wantError("POST", "/api/run", nil, http.StatusInsufficientStorage, "max_session_disk_bytes")
	if got := diskUsage(dir); got != limit {
		t.Errorf("the session stores %d bytes after the refusals, want %d", got, limit)
	}
	var got sessionJSON
	c.json("GET", "/api/session", nil, http.StatusOK, &got)
	if got.Video == nil || got.Video.ID != st.Video.ID || len(got.Clicks) != 1 || len(got.Jobs) != 0 {
		t.Errorf("after the refusals: video %+v, %d clicks, %d jobs; want the same video, 1 click, no job", got.Video, len(got.Clicks), len(got.Jobs))
	}
}

// A session encodes at most MaxSessionEncodes frames at once (429
// beyond); all sessions wait for the server's MaxEncodes slots.
func TestFrameEncodeLimits(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxEncodes: 1, MaxSessionEncodes: 2})
	c := newClient(t, hs)
	c.session()
	st := c.upload(shortClip(t))
	se := onlySession(t, s)
	url := "/api/frames/3?v=" + st.Video.ID

	// Per session: two requests already encoding or waiting.
	se.mu.Lock()
	se.encodes = 2
	se.mu.Unlock()
	c.wantError("GET", url, nil, http.StatusTooManyRequests, "max_encodes_per_session")
	se.mu.Lock()
	se.encodes = 0
	se.mu.Unlock()

	// Server-wide: with the one slot taken, a frame waits for it.
	s.encodes <- struct{}{}
	done := make(chan int, 1)
	go func() {
		code, _ := c.do("GET", url, nil)
		done <- code
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		se.mu.Lock()
		n := se.encodes
		se.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the frame request never started waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case code := <-done:
		t.Fatalf("the frame was answered (%d) while every encode slot was taken", code)
	default:
	}
	<-s.encodes // the slot frees
	if code := <-done; code != http.StatusOK {
		t.Errorf("the waiting frame: %d", code)
	}
	// The handler returns its count after it answered: wait for it.
	for {
		se.mu.Lock()
		n := se.encodes
		se.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d encodes of the session still counted after the requests", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
