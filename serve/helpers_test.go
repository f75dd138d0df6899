package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/scene"
)

// repoRoot is the module root (two levels up from this file's folder
// is wrong once moved; ask the runtime instead).
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

// sampleDir is the repository's copy of the built-in sample, laid out as
// job.SampleDir lays it out (clip/, models/tiny).
func sampleDir(t testing.TB) string { return filepath.Join(repoRoot(t), "sample") }

var shortClipOnce struct {
	sync.Once
	path string
	err  error
}

// shortClip returns the first n frames of the sample clip re-encoded to
// H.264, made once per test binary in a temporary folder.
func shortClip(t testing.TB) string {
	t.Helper()
	shortClipOnce.Do(func() {
		dir, err := os.MkdirTemp("", "body4d-serve-test-")
		if err != nil {
			shortClipOnce.err = err
			return
		}
		p := filepath.Join(dir, "short.mp4")
		cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-i",
			filepath.Join(sampleDir(t), "clip", sample.Clip),
			"-frames:v", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an", p)
		if out, err := cmd.CombinedOutput(); err != nil {
			shortClipOnce.err = fmt.Errorf("ffmpeg: %v: %s", err, out)
			return
		}
		shortClipOnce.path = p
	})
	if shortClipOnce.err != nil {
		t.Fatalf("making the short test clip: %v", shortClipOnce.err)
	}
	return shortClipOnce.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shortClipOnce.path != "" {
		os.RemoveAll(filepath.Dir(shortClipOnce.path))
	}
	os.Exit(code)
}

// newTestServer starts a Server behind an httptest.Server; both are
// closed at the end of the test.
func newTestServer(t testing.TB, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	if opt.Data == "" {
		opt.Data = t.TempDir()
	}
	if opt.SampleDir == "" {
		opt.SampleDir = sampleDir(t)
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := os.Stat(s.root); !os.IsNotExist(err) {
			t.Errorf("Close left %s behind (%v)", s.root, err)
		}
	})
	return s, hs
}

// client is one API user: its own cookie jar, so its own session.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newClient(t testing.TB, hs *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: hs.URL, hc: &http.Client{Jar: jar, Timeout: 2 * time.Minute}}
}

// do sends a request; body may be nil, []byte, io.Reader or a value
// sent as JSON. It returns the status and the body.
func (c *client) do(method, path string, body any, header ...string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading: %v", method, path, err)
	}
	return res.StatusCode, out
}

// json sends a request, checks the status and decodes the answer into v
// (when not nil).
func (c *client) json(method, path string, body any, want int, v any) {
	c.t.Helper()
	code, out := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, out)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, out)
		}
	}
}

// wantError checks that a request fails with the status and an error
// message containing substr.
func (c *client) wantError(method, path string, body any, want int, substr string) {
	c.t.Helper()
	code, out := c.do(method, path, body)
	var e apiError
	if code != want || json.Unmarshal(out, &e) != nil || !strings.Contains(e.Error, substr) {
		c.t.Fatalf("%s %s: got %d %s; want %d with an error containing %q", method, path, code, out, want, substr)
	}
}

func (c *client) session() sessionJSON {
	var st sessionJSON
	c.json("POST", "/api/session", nil, http.StatusCreated, &st)
	return st
}

func (c *client) upload(path string) sessionJSON {
	c.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	var st sessionJSON
	c.json("POST", "/api/video?name="+filepath.Base(path), data, http.StatusOK, &st)
	return st
}

func (c *client) setClicks(clicks ...scene.Click) {
	c.t.Helper()
	var got clicksJSON
	c.json("PUT", "/api/clicks", clicksJSON{Clicks: append([]scene.Click{}, clicks...)}, http.StatusOK, &got)
	if len(got.Clicks) != len(clicks) {
		c.t.Fatalf("PUT /api/clicks: got %d clicks back, sent %d", len(got.Clicks), len(clicks))
	}
}

// wait polls a job until it ends or the deadline passes.
// hangGuard bounds waits for jobs and shutdowns. It is not a speed
// requirement: on a loaded machine a fake job may take seconds to be
// scheduled, so the guard only turns a hang into a failure.
const hangGuard = 10 * time.Minute

func (c *client) wait(id string) jobJSON {
	c.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		var j jobJSON
		c.json("GET", "/api/jobs/"+id, nil, http.StatusOK, &j)
		if isTerminal(j.State) {
			return j
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s still %s after %v", id, j.State, hangGuard)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeRun is a RunFunc for handler tests (not the pipeline): it reports
// progress, writes the files job.Run writes (an MP4 placeholder,
// summary.json, people/<id>/params.json and a mesh) and records the
// clicks it was given in the summary, so tests can see whose job ran.
// With block set it writes a partial output first and then waits for
// the context (or for release).
type fakeRun struct {
	block   bool
	release chan struct{}
	fail    error
	started chan string // job output folders, as jobs start (may be nil)
}

func (f *fakeRun) run(ctx context.Context, spec job.Spec, progress func(body4d.Event)) (*job.Summary, error) {
	for i := 1; i <= 4; i++ {
		progress(body4d.Event{Stage: "segment", Done: i, Total: 4})
	}
	if err := os.WriteFile(filepath.Join(spec.Out, "partial.bin"), []byte("half"), 0o644); err != nil {
		return nil, err
	}
	// Announced only once the partial output exists: tests stat it as
	// soon as they hear of the job.
	if f.started != nil {
		f.started <- spec.Out
	}
	if f.block {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("segment: frame 2: %w", ctx.Err())
		case <-f.release:
		}
	}
	if f.fail != nil {
		return nil, f.fail
	}
	sum := &job.Summary{Video: spec.Video, Width: 640, Height: 360, Frames: 8, FPS: "30000/1001",
		Clicks: spec.Prompts.Clicks, Output: filepath.Join(spec.Out, "result.mp4"),
		StagesRan: []string{"segment"}, StagesSkipped: []string{},
		Profile: []body4d.StageTime{{Stage: "segment", Ran: true, Wall: 1500 * time.Microsecond}}}
	for _, id := range spec.Prompts.People() {
		dir := filepath.Join(spec.Out, "people", fmt.Sprint(id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		os.WriteFile(filepath.Join(dir, "params.json"), []byte(fmt.Sprintf(`[{"person":%d}]`, id)), 0o644)
		os.WriteFile(filepath.Join(dir, "mesh_000000.ply"), []byte("ply\n"), 0o644)
		sum.People = append(sum.People, job.PersonOutput{ID: id, Dir: dir, Frames: 1})
	}
	os.WriteFile(sum.Output, []byte("not really an mp4: "+spec.Out), 0o644)
	b, _ := json.Marshal(sum)
	if err := os.WriteFile(filepath.Join(spec.Out, "summary.json"), b, 0o644); err != nil {
		return nil, err
	}
	return sum, ctx.Err()
}
