package serve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/body4d/body4d/scene"
)

// One session's previews cannot queue ahead of another's: a session has
// one preview at a time (more are refused with 429 at once), so another
// session's preview waits for at most one of them. Measured in previews,
// not seconds: on an idle server B's preview waits for none, here for at
// most one (a ratio of at most 2 in preview time, whatever the machine).
func TestPreviewFairness(t *testing.T) {
	var mu sync.Mutex
	var order []string // who ran, in order
	started := make(chan string, 16)
	release := make(chan struct{})
	preview := func(ctx context.Context, img *scene.RGB, frame int, clicks []scene.Click) (map[scene.PersonID]*scene.Mask, error) {
		who := fmt.Sprint(clicks[0].X)
		mu.Lock()
		order = append(order, who)
		mu.Unlock()
		started <- who
		select {
		case <-release:
		case <-ctx.Done():
		}
		return map[scene.PersonID]*scene.Mask{}, nil
	}
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, Preview: preview, MaxPreviews: 1})
	a, b := newClient(t, hs), newClient(t, hs)
	for i, c := range []*client{a, b} {
		c.session()
		c.json("POST", "/api/sample", nil, 200, nil)
		c.setClicks(scene.Click{X: float64(10 + i), Y: 10, Person: 1}) // A's clicks at x=10, B's at 11
	}
	// A fires 8 previews; one runs, the other 7 are refused at once.
	codes := make(chan int, 8)
	go func() {
		code, _ := a.do("GET", "/api/preview/0", nil)
		codes <- code
	}()
	if who := <-started; who != "10" {
		t.Fatalf("first preview is %s's", who)
	}
	for range 7 {
		a.wantError("GET", "/api/preview/0", nil, http.StatusTooManyRequests, "max_previews_per_session")
	}
	// B's preview waits for A's one running preview only.
	bdone := make(chan int, 1)
	go func() {
		code, _ := b.do("GET", "/api/preview/0", nil)
		bdone <- code
	}()
	release <- struct{}{} // A's preview ends
	if who := <-started; who != "11" {
		t.Fatalf("after A's preview, %s's ran, want B's", who)
	}
	release <- struct{}{}
	if code := <-bdone; code != 200 {
		t.Errorf("B's preview: %d", code)
	}
	if code := <-codes; code != 200 {
		t.Errorf("A's preview: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "10,11" {
		t.Errorf("previews ran in order %v, want A's one then B's", order)
	}
}

// An upload that sends its headers and part of its body and then
// stops is answered 408 and closed, not held open.
func TestStalledUploadClosed(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, UploadStall: 200 * time.Millisecond})
	c := newClient(t, hs)
	c.session()
	u := hs.URL + "/api/session"
	req, _ := http.NewRequest("GET", u, nil)
	cookies := c.hc.Jar.Cookies(req.URL)
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/video?name=a.mp4 HTTP/1.1\r\nHost: %s\r\nCookie: %s=%s\r\nContent-Length: 100000\r\n\r\n\x00\x00\x00\x18ftypisom",
		hs.Listener.Addr(), cookies[0].Name, cookies[0].Value)
	// Generous: the server must answer on its own; this only stops a
	// hung test.
	conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the stalled upload: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled upload: %d, want 408", res.StatusCode)
	}
}
