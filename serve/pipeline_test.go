package serve

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
)

// TestRealJobCancel cancels the real pipeline (job.Run on the tiny
// models) while it decodes the 90-frame sample: the job must end
// cancelled with its output folder gone; a rerun then completes.
func TestRealJobCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline")
	}
	s, hs := newTestServer(t, Options{Run: job.Run})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	var j jobJSON
	c.json("POST", "/api/run", nil, 202, &j)
	// Cancel once the job has made progress, so that it has outputs to lose.
	deadline := time.Now().Add(hangGuard)
	for len(j.Stages) == 0 || j.State != stateRunning {
		if isTerminal(j.State) || time.Now().After(deadline) {
			t.Fatalf("job never reported progress: %+v", j)
		}
		time.Sleep(5 * time.Millisecond)
		c.json("GET", "/api/jobs/"+j.ID, nil, 200, &j)
	}
	sess := s.session(&http.Request{Header: http.Header{"Cookie": {sessionCookie + "=" + sessionIDOf(t, c, hs.URL)}}})
	dir := sess.findJob(j.ID).dir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("running job's folder: %v", err)
	}
	c.json("POST", "/api/jobs/"+j.ID+"/cancel", nil, 202, nil)
	j = c.wait(j.ID)
	if j.State != stateCancelled {
		t.Fatalf("after cancel: %+v (cancel came too late to test anything)", j)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cancelled job's folder %s: %v, want it removed", dir, err)
	}
	c.wantError("GET", "/api/jobs/"+j.ID+"/files/result.mp4", nil, http.StatusNotFound, "is cancelled")

	c.json("POST", "/api/run", `{"quick": true, "frames": 8}`, 202, &j)
	if j = c.wait(j.ID); j.State != stateDone {
		t.Fatalf("rerun: %+v", j)
	}
	code, mp4 := c.do("GET", j.Result.Video, nil)
	if code != 200 || len(mp4) < 1000 || string(mp4[4:8]) != "ftyp" {
		t.Errorf("rerun's MP4: %d, %d bytes", code, len(mp4))
	}
	if _, err := os.Stat(filepath.Join(sess.findJob(j.ID).dir, "work")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the job's frame store was kept: %v", err)
	}
}

// sessionIDOf returns the session cookie a client holds for url.
func sessionIDOf(t *testing.T, c *client, url string) string {
	req, _ := http.NewRequest("GET", url, nil)
	for _, ck := range c.hc.Jar.Cookies(req.URL) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	t.Fatal("client has no session cookie")
	return ""
}
