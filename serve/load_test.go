package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
)

// latencies collects API call times by kind of call.
type latencies struct {
	mu sync.Mutex
	by map[string][]time.Duration
}

func (l *latencies) add(kind string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.by[kind] = append(l.by[kind], d)
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// TestLoad drives loadSessions sessions at once through the JSON API on
// loopback, each uploading a short clip, clicking, running the real
// pipeline (job.Run on the built-in tiny models) and polling until its
// job ends, then downloading the MP4 and the summary. Every job must
// finish, with its own clicks, and no session may see another's job. No
// wall-clock budget gates the test (it runs on loaded machines): the
// p50/p95/max API latencies are logged, and so is the ratio of GET
// /api/session under load to the same request on the idle server, measured
// first in the same run (go test -v -run TestLoad ./serve).
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: runs 20 real jobs")
	}
	if raceEnabled {
		t.Skip("load test: measures latency, which the race detector distorts; run it without -race")
	}
	const (
		loadSessions = 20
		loadWorkers  = 2
	)
	s, hs := newTestServer(t, Options{Run: job.Run, Workers: loadWorkers, QueueSize: loadSessions})
	clip, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	lat := &latencies{by: map[string][]time.Duration{}}

	// call makes one timed API request with the client's cookie jar.
	call := func(hc *http.Client, kind, method, path string, body []byte, want int, v any) error {
		req, err := http.NewRequestWithContext(ctx, method, hs.URL+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if body != nil && kind != "upload" {
			req.Header.Set("Content-Type", "application/json")
		}
		t0 := time.Now()
		res, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		out, err := io.ReadAll(res.Body)
		res.Body.Close()
		lat.add(kind, time.Since(t0))
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if res.StatusCode != want {
			return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, out)
		}
		if v != nil {
			if p, ok := v.(*[]byte); ok {
				*p = out
				return nil
			}
			return json.Unmarshal(out, v)
		}
		return nil
	}

	newClient := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	// The baseline: the same request the sessions make while polling,
	// on the idle server.
	var idle []time.Duration
	{
		hc := newClient()
		if err := call(hc, "api", "POST", "/api/session", nil, 201, nil); err != nil {
			t.Fatal(err)
		}
		for range 50 {
			if err := call(hc, "session", "GET", "/api/session", nil, 200, nil); err != nil {
				t.Fatal(err)
			}
		}
		idle, lat.by = lat.by["session"], map[string][]time.Duration{}
	}

	session := func(hc *http.Client, i int) (jobJSON, error) {
		var j jobJSON
		if err := call(hc, "api", "POST", "/api/session", nil, 201, nil); err != nil {
			return j, err
		}
		if err := call(hc, "upload", "POST", "/api/video?name=short.mp4", clip, 200, nil); err != nil {
			return j, err
		}
		// Session i clicks person 1 at its own x, so results can be told apart.
		clicks := []scene.Click{{Frame: 0, X: float64(80 + i), Y: 175, Person: 1}}
		b, _ := json.Marshal(clicksJSON{Clicks: clicks})
		if err := call(hc, "api", "PUT", "/api/clicks", b, 200, nil); err != nil {
			return j, err
		}
		// Occlusion recovery is off to keep 20 jobs short on two cores;
		// the browser test runs the default stages.
		if err := call(hc, "api", "POST", "/api/run", []byte(`{"smooth":"kalman","amodal":false}`), 202, &j); err != nil {
			return j, err
		}
		for !isTerminal(j.State) {
			select {
			case <-ctx.Done():
				return j, fmt.Errorf("job %s still %s: %w", j.ID, j.State, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
			if err := call(hc, "api", "GET", "/api/jobs/"+j.ID, nil, 200, &j); err != nil {
				return j, err
			}
			if err := call(hc, "session", "GET", "/api/session", nil, 200, nil); err != nil {
				return j, err
			}
		}
		if j.State != stateDone {
			return j, fmt.Errorf("job %s %s: %s", j.ID, j.State, j.Error)
		}
		var mp4 []byte
		if err := call(hc, "download", "GET", j.Result.Video, nil, 200, &mp4); err != nil {
			return j, err
		}
		if len(mp4) < 1000 || string(mp4[4:8]) != "ftyp" {
			return j, fmt.Errorf("job %s: result.mp4 is %d bytes, not an MP4", j.ID, len(mp4))
		}
		var sum job.Summary
		if err := call(hc, "download", "GET", j.Result.Summary, nil, 200, &sum); err != nil {
			return j, err
		}
		if sum.Frames != 8 || len(sum.Clicks) != 1 || sum.Clicks[0] != clicks[0] {
			return j, fmt.Errorf("job %s: summary has %d frames and clicks %v, want 8 and %v", j.ID, sum.Frames, sum.Clicks, clicks)
		}
		return j, nil
	}

	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, loadSessions)
	ids := make([]string, loadSessions)
	clients := make([]*http.Client, loadSessions)
	for i := range loadSessions {
		clients[i] = newClient()
		wg.Go(func() {
			j, err := session(clients[i], i)
			errs[i], ids[i] = err, j.ID
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	done := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("session %d: %v", i, err)
		} else {
			done++
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id != "" && seen[id] {
			t.Errorf("job id %s given twice", id)
		}
		seen[id] = true
	}
	// Isolation: a session cannot read its neighbour's job.
	for i, hc := range clients {
		other := ids[(i+1)%loadSessions]
		if other == "" || other == ids[i] {
			continue
		}
		if err := call(hc, "api", "GET", "/api/jobs/"+other, nil, http.StatusNotFound, nil); err != nil {
			t.Errorf("session %d reading session %d's job: %v", i, (i+1)%loadSessions, err)
		}
	}
	var sb strings.Builder
	for _, kind := range []string{"api", "session", "upload", "download"} {
		ds := lat.by[kind]
		if len(ds) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "\n  %-8s n=%4d  p50 %8v  p95 %8v  max %8v", kind, len(ds),
			quantile(ds, 0.5).Round(10*time.Microsecond), quantile(ds, 0.95).Round(10*time.Microsecond), slices.Max(ds).Round(10*time.Microsecond))
	}
	if ds := lat.by["session"]; len(ds) > 0 {
		base := quantile(idle, 0.5)
		fmt.Fprintf(&sb, "\n  GET /api/session p50: idle %v, under load %v (%.1fx)",
			base.Round(time.Microsecond), quantile(ds, 0.5).Round(time.Microsecond), float64(quantile(ds, 0.5))/float64(base))
	}
	t.Logf("%d sessions, %d workers: %d/%d jobs done in %v (8-frame clip, tiny models)%s",
		loadSessions, loadWorkers, done, loadSessions, elapsed.Round(time.Millisecond), sb.String())
	if n := len(s.queue.waiting); n != 0 {
		t.Errorf("%d jobs left in the queue", n)
	}
}
