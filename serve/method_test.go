package serve

import (
	"net/http"
	"strings"
	"testing"
)

// A known path with the wrong method is 405 with Allow, not 404.
func TestWrongMethod(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/api/session", "GET, HEAD, POST"},
		{"GET", "/api/run", "POST"},
		{"POST", "/api/clicks", "GET, HEAD, PUT"},
		{"POST", "/", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, hs.URL+tc.path, nil)
		res, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), tc.allow)
		}
	}
	c.wantError("GET", "/api/nothing", nil, http.StatusNotFound, "no such API endpoint")
}

// Every answer carries the Content-Security-Policy; the browser test
// (cmd/body4d TestBrowser) runs the page and the 3D viewer under it.
func TestCSP(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	for _, p := range []string{"/", "/static/app.js", "/api/session"} {
		res, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(got, "script-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") || strings.Contains(got, "'unsafe-eval'") {
			t.Errorf("GET %s: CSP %q", p, got)
		}
	}
}

// A null run body is refused, not taken as "no settings".
func TestNullBodyRefused(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.wantError("POST", "/api/run", "null", http.StatusBadRequest, "null")
	c.wantError("PUT", "/api/clicks", "null", http.StatusBadRequest, "null")
}
