package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// body4d serve starts, answers on the address it prints, and on cancel
// (Ctrl-C) stops and removes its data folder.
func TestServeCommand(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- cmdServe(ctx, []string{"--addr", "127.0.0.1:0", "--data", data}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v (exit: %v)", err, <-done)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "body4d serve: open ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	go io.Copy(io.Discard, pr)
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(res.Cookies()) != 0 {
		t.Errorf("GET %s: %d, cookies %v; want the page and no session", url, res.StatusCode, res.Cookies())
	}
	// Sessions come only from an explicit POST.
	res, err = http.Post(strings.TrimSuffix(url, "/")+"/api/session", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || len(res.Cookies()) != 1 {
		t.Errorf("POST /api/session: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	if ents, _ := os.ReadDir(data); len(ents) != 1 {
		t.Errorf("data folder holds %d entries while serving, want the server's one folder", len(ents))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(2 * time.Minute): // a safety net on a loaded machine, not a budget
		t.Fatal("serve did not stop")
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Errorf("data folder not cleaned: %v", ents)
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{{"--workers", "0"}, {"extra"}, {"--max-frames", "-1"}} {
		err := cmdServe(context.Background(), args, io.Discard, io.Discard)
		if !errors.As(err, new(usageError)) {
			t.Errorf("serve %v: %v, want a usage error", args, err)
		}
	}
	if err := cmdServe(context.Background(), []string{"--models", "/no/such/dir"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "/no/such/dir") {
		t.Errorf("missing model directory: %v", err)
	}
}

// The preview runs the tracker (tiny models) on one frame with that
// frame's clicks: the masks have the frame's size and the same clicks
// give the same masks.
func TestPreviewer(t *testing.T) {
	sampleDir, err := job.SampleDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPreviewer(filepath.Join(sampleDir, "models", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ctx := context.Background()
	r, err := video.Open(ctx, filepath.Join(sampleDir, "clip", sample.Clip), video.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var img *scene.RGB
	for range 16 { // frame 15
		if img, err = r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	clicks := []scene.Click{{Frame: 15, X: 153, Y: 175, Person: 1}, {Frame: 15, X: 466, Y: 172, Person: 2}}
	a, err := p.preview(ctx, img, 15, clicks)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.preview(ctx, img, 15, clicks)
	if err != nil {
		t.Fatal(err)
	}
	// The tiny models' random weights may well say nobody is visible
	// (no mask); what is shown must still be well formed and repeatable.
	t.Logf("%d of 2 clicked people visible to the tiny tracker", len(a))
	if len(a) != len(b) {
		t.Errorf("a second preview with the same clicks has %d masks, the first %d", len(b), len(a))
	}
	for id, m := range a {
		t.Logf("person %d: mask area %d px (tiny random-weight models: the shape is not meaningful)", id, m.Area())
		if id != 1 && id != 2 {
			t.Errorf("mask for person %d, who was not clicked", id)
		}
		if m.W != 640 || m.H != 360 {
			t.Errorf("person %d: %dx%d mask for a 640x360 frame", id, m.W, m.H)
		}
		if b[id] == nil || !slices.Equal(m.Pix, b[id].Pix) {
			t.Errorf("person %d: a second preview with the same clicks differs", id)
		}
	}
	if _, err := newPreviewer(t.TempDir()); err == nil {
		t.Error("a folder without a manifest gave a previewer")
	}
}

// TestBrowser runs the web UI end to end in headless Chromium
// (serve/e2e/ui.mjs through playwright-core) against `body4d serve` as
// users start it: upload the sample clip, scrub, click a person, preview
// the mask, undo a negative click, run and cancel, run the real pipeline
// on the built-in tiny models, wait for the result video to load and
// take a screenshot (to $BODY4D_SCREENSHOT when set, e.g.
// docs/serve.png). It needs the system Chromium and playwright-core in
// .deps/node, which scripts/setup-browser.sh installs, and runs only with
// BODY4D_BROWSER=1.
func TestBrowser(t *testing.T) {
	if os.Getenv("BODY4D_BROWSER") != "1" {
		t.Skip("browser test: set BODY4D_BROWSER=1 after running scripts/setup-browser.sh (system Chromium + playwright-core in .deps/node)")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	modules := filepath.Join(root, ".deps", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in %s: run scripts/setup-browser.sh", modules)
	}
	chromium := os.Getenv("BODY4D_CHROMIUM")
	if chromium == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			t.Fatal("no chromium on PATH: run scripts/setup-browser.sh (or set BODY4D_CHROMIUM)")
		}
		chromium = p
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("no node on PATH: run scripts/setup-browser.sh")
	}
	sampleDir, err := job.SampleDir()
	if err != nil {
		t.Fatal(err)
	}
	shot := os.Getenv("BODY4D_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "serve.png")
	} else if shot, err = filepath.Abs(shot); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // a safety net, not a budget
	defer cancel()
	pr, pw := io.Pipe()
	var logs strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- cmdServe(ctx, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, pw, &syncWriter{w: &logs})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("body4d serve did not start: %v", <-done)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimPrefix(strings.TrimSpace(line), "body4d serve: open ")

	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "serve", "e2e", "ui.mjs"))
	cmd.Env = append(os.Environ(),
		"BODY4D_URL="+url,
		"BODY4D_CLIP="+filepath.Join(sampleDir, "clip", sample.Clip),
		"BODY4D_CLICK=90,175", // person 1 on frame 0 (sample/clip/clicks.json)
		"BODY4D_SCREENSHOT="+shot,
		"BODY4D_NODE_MODULES="+modules,
		"BODY4D_CHROMIUM="+chromium,
	)
	out, err := cmd.CombinedOutput()
	t.Logf("serve/e2e/ui.mjs:\n%s", out)
	cancel()
	if serr := <-done; serr != nil {
		t.Errorf("body4d serve: %v", serr)
	}
	t.Logf("server log:\n%s", logs.String())
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
}

// syncWriter serializes writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
