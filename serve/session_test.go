package serve

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/body4d/body4d/scene"
)

// Cookie-less requests (what any web page can make a browser send, e.g.
// 65 image tags) create no session, and a session with results is never
// evicted to make room: new sessions are refused with 503 instead.
func TestSessionsWithResultsKept(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxSessions: 2})
	a := newClient(t, hs)
	a.session()
	a.json("POST", "/api/sample", nil, 200, nil)
	a.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	var j jobJSON
	a.json("POST", "/api/run", nil, http.StatusAccepted, &j)
	if got := a.wait(j.ID); got.State != stateDone {
		t.Fatalf("job: %+v", got)
	}
	for range 65 {
		for _, p := range []string{"/", "/api/session", "/api/frames/0"} {
			res, err := http.Get(hs.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
	}
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d sessions after cookie-less GETs, want 1", n)
	}
	b := newClient(t, hs)
	b.session()
	for range 3 {
		newClient(t, hs).session() // each evicts the idle session without results
	}
	b.wantError("GET", "/api/session", nil, http.StatusUnauthorized, "no session")
	// Fill the last place with another session with results: then new
	// sessions are refused.
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	c.json("POST", "/api/run", nil, http.StatusAccepted, &j)
	c.wait(j.ID)
	newClient(t, hs).wantError("POST", "/api/session", nil, http.StatusServiceUnavailable, "max_sessions")
	var st sessionJSON
	a.json("GET", "/api/session", nil, 200, &st)
	if len(st.Jobs) != 1 || st.Jobs[0].State != stateDone {
		t.Errorf("a's results after the others: %+v", st.Jobs)
	}
	if code, body := a.do("GET", "/api/jobs/"+st.Jobs[0].ID+"/files/summary.json", nil); code != 200 {
		t.Errorf("a's summary: %d %s", code, body)
	}
}

// A state-changing request a browser sends from another origin (another
// site, or another port of this host) is refused; same-origin and
// non-browser requests pass.
func TestCrossOriginRefused(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	host := hs.Listener.Addr().String()
	for _, h := range [][]string{
		{"Origin", "http://127.0.0.1:1"},
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		for _, req := range []struct{ method, path string }{
			{"POST", "/api/session"}, {"POST", "/api/sample"}, {"PUT", "/api/clicks"}, {"POST", "/api/run"},
			{"POST", "/api/jobs/x/cancel"}, {"POST", "/api/video"},
		} {
			code, body := c.do(req.method, req.path, nil, h...)
			if code != http.StatusForbidden {
				t.Errorf("%s %s with %s: %s: %d %s, want 403", req.method, req.path, h[0], h[1], code, body)
			}
		}
	}
	var st sessionJSON
	c.json("GET", "/api/session", nil, 200, &st)
	if st.Video != nil {
		t.Errorf("a refused request changed the session: %+v", st.Video)
	}
	if code, _ := c.do("POST", "/api/sample", nil, "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Errorf("same-origin POST: %d", code)
	}
}

// The janitor drops a session idle for SessionTTL, with its files.
func TestSessionIdleExpiry(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, SessionTTL: 50 * time.Millisecond})
	c := newClient(t, hs)
	c.session()
	u, _ := url.Parse(hs.URL)
	var dir string
	for _, k := range c.hc.Jar.Cookies(u) {
		if k.Name == sessionCookie {
			dir = filepath.Join(s.root, k.Value)
		}
	}
	if dir == "" {
		t.Fatal("no session cookie")
	}
	// Polled without requests, which would keep the session alive.
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions a minute after a TTL of 50 ms, want 0", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the expired session's folder is still there (%v)", err)
	}
	c.wantError("GET", "/api/session", nil, http.StatusUnauthorized, "no session")
}

// Idle expiry keeps a session whose job is running.
func TestIdleExpiryKeepsRunningJob(t *testing.T) {
	fr := &fakeRun{block: true, release: make(chan struct{}), started: make(chan string, 1)}
	s, hs := newTestServer(t, Options{Run: fr.run})
	defer close(fr.release)
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, http.StatusOK, nil)
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	c.json("POST", "/api/run", nil, http.StatusAccepted, nil)
	<-fr.started
	s.dropIdle(time.Now().Add(time.Hour)) // every session counts as idle
	c.json("GET", "/api/session", nil, http.StatusOK, nil)
}
