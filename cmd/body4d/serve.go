package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/body4d/body4d/detect"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/segment"
	"github.com/body4d/body4d/serve"
)

// cmdServe runs the web UI and its JSON API (serve/API.md) until ctx is
// cancelled (Ctrl-C), then stops taking requests, cancels the jobs and
// removes the server's files.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	addr := fset.String("addr", "127.0.0.1:7860", "address to listen on (host:port; port 0 picks a free one)")
	modelDir := fset.String("models", "", "model directory (default: the built-in tiny models, whose output is not meaningful)")
	data := fset.String("data", "", "folder for uploads and results (default: the system's temporary folder); the server works in a fresh subfolder that it removes on exit")
	workers := fset.Int("workers", 1, "jobs run at once; more wait in a queue")
	queue := fset.Int("queue", 16, "jobs that may wait for a worker")
	maxUpload := fset.Int64("max-upload-mb", 512, "largest accepted upload in MiB")
	maxFrames := fset.Int("max-frames", 1800, "longest accepted video in frames")
	maxPixels := fset.Int("max-pixels", 3840*2160, "largest accepted frame, width×height")
	maxVideo := fset.Int64("max-video-mb", 4096, "largest accepted video's decoded frames (width×height×3 bytes each) in MiB")
	maxDisk := fset.Int64("max-disk-mb", 16384, "disk the server's data folder may take in MiB; uploads beyond it are refused")
	maxSessionDisk := fset.Int64("max-session-disk-mb", 4096, "disk one session's files (upload, frames, job outputs) may take in MiB; uploads and runs beyond it are refused")
	maxDecodes := fset.Int("max-decodes", 2, "uploads decoded at once")
	maxEncodes := fset.Int("max-encodes", 4, "frame images (JPEG frames, preview PNGs) encoded at once; more wait")
	maxSessionEncodes := fset.Int("max-session-encodes", 6, "frame requests of one session encoding or waiting at once; more are refused (429)")
	sessionTTL := fset.Duration("session-ttl", 2*time.Hour, "drop a session idle for this long, with its files")
	maxPreviews := fset.Int("max-previews", 1, "mask previews run at once (one per session at most)")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: body4d serve [flags]\n\nServes the web UI: upload a video, click the people, run, watch and download the result.\nIts JSON API is described in serve/API.md.")
		fset.PrintDefaults()
	}
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", pos[0])}
	}
	if *workers < 1 || *queue < 1 || *maxUpload < 1 || *maxFrames < 1 || *maxPixels < 1 || *maxVideo < 1 || *maxDisk < 1 || *maxSessionDisk < 1 ||
		*maxDecodes < 1 || *maxEncodes < 1 || *maxSessionEncodes < 1 || *maxPreviews < 1 {
		return usageError{errors.New("--workers, --queue, --max-upload-mb, --max-frames, --max-pixels, --max-video-mb, --max-disk-mb, --max-session-disk-mb, --max-decodes, --max-encodes, --max-session-encodes and --max-previews must be at least 1")}
	}
	if *sessionTTL <= 0 {
		return usageError{fmt.Errorf("--session-ttl %v: want a positive duration such as 30m", *sessionTTL)}
	}
	if *modelDir != "" {
		if st, err := os.Stat(*modelDir); err != nil || !st.IsDir() {
			return fmt.Errorf("model directory %s: not a directory (%v)", *modelDir, err)
		}
	}
	sample, err := job.SampleDir()
	if err != nil {
		return err
	}
	logger := log.New(stderr, "body4d serve: ", log.LstdFlags)
	modelsPath := *modelDir
	if modelsPath == "" {
		modelsPath = filepath.Join(sample, "models", "tiny")
	}
	var preview serve.PreviewFunc
	var find serve.DetectFunc
	if p, err := newPreviewer(modelsPath); err != nil {
		logger.Printf("no mask preview: %v", err)
	} else {
		defer p.close()
		preview = p.preview
		if _, err := p.dir.EnginePath("segment", "detector"); err != nil {
			logger.Printf("no \"Find people\": %v", err)
		} else {
			find = p.detect
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	loopback := net.ParseIP(host).IsLoopback()
	if !loopback {
		logger.Printf("warning: listening on %s, beyond this machine; the server has no authentication", ln.Addr())
	}
	// Jobs write motion.glb, motion.bvh and scene.glb when the model
	// directory has the body model.
	var export []string
	if md, err := models.Open(modelsPath); err == nil {
		if _, err := md.FilePath("mesh", mesh.FileMHR); err == nil {
			export = []string{"glb", "bvh"}
		}
	}
	viewer := serve.FindViewer()
	if viewer == "" {
		logger.Printf("no 3D viewer: npm @google/model-viewer is not installed in .deps/node (run scripts/setup.sh)")
	}
	srv, err := serve.New(serve.Options{
		Run:            job.Run,
		Export:         export,
		Viewer:         viewer,
		Preview:        preview,
		Detect:         find,
		Models:         *modelDir,
		Data:           *data,
		SampleDir:      sample,
		Workers:        *workers,
		QueueSize:      *queue,
		MaxUploadBytes: *maxUpload << 20,
		MaxFrames:      *maxFrames,
		MaxPixels:      *maxPixels,
		MaxVideoBytes:  *maxVideo << 20,
		MaxDiskBytes:   *maxDisk << 20,
		MaxDecodes:     *maxDecodes,
		MaxPreviews:    *maxPreviews,

		MaxSessionDiskBytes: *maxSessionDisk << 20,
		MaxEncodes:          *maxEncodes,
		MaxSessionEncodes:   *maxSessionEncodes,
		SessionTTL:          *sessionTTL,
		Log:                 logger,
		// Bound to loopback, answer only to loopback names (no DNS
		// rebinding); bound wider, the user chose who may connect.
		LoopbackOnly: loopback,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if *modelDir == "" {
		logger.Print(job.TinyModelsNote)
	}
	// Request contexts derive from base, so that closing it ends the
	// event streams that would otherwise hold Shutdown up.
	base, stopRequests := context.WithCancel(context.Background())
	defer stopRequests()
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: a large upload may take long and
		// progress is a long-lived event stream. A stalled upload is
		// closed by the server's own per-read deadline (30 s) instead.
		IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return base },
	}
	fmt.Fprintf(stdout, "body4d serve: open http://%s/\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Print("stopping")
	stopRequests()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		hs.Close()
	}
	return srv.Close()
}

// previewer shows the tracker's masks on a clicked frame, as the
// reference UI does after each click (add_new_points_or_box decodes the
// frame's clicks without memory): the tracker runs on that frame alone
// with that frame's clicks. Its engines load on first use and stay
// loaded; calls take turns, since a tracker is not for concurrent use.
type previewer struct {
	dir *models.Dir

	mu       sync.Mutex
	rt       *ort.Runtime
	tracker  *segment.Tracker
	detector *segment.Detector // loaded on the first "Find people"
}

// newPreviewer checks that the model directory has the tracker's
// engines; it loads nothing yet.
func newPreviewer(modelDir string) (*previewer, error) {
	dir, err := models.Open(modelDir)
	if err != nil {
		return nil, err
	}
	if _, err := dir.EnginePath("segment", "image_encoder"); err != nil {
		return nil, err
	}
	return &previewer{dir: dir}, nil
}

func (p *previewer) open() error {
	if p.tracker != nil {
		return nil
	}
	if errs := p.dir.Verify(); len(errs) > 0 {
		return fmt.Errorf("model directory %s: %w", p.dir.Path, errors.Join(errs...))
	}
	lib, err := ort.FindLibrary()
	if err != nil {
		return err
	}
	rt, err := ort.Open(ort.Options{Library: lib})
	if err != nil {
		return err
	}
	tr, err := segment.Open(p.dir, rt.Load, segment.Options{})
	if err != nil {
		rt.Close()
		return err
	}
	p.rt, p.tracker = rt, tr
	return nil
}

func (p *previewer) preview(ctx context.Context, img *scene.RGB, frame int, clicks []scene.Click) (map[scene.PersonID]*scene.Mask, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.open(); err != nil {
		return nil, err
	}
	one := oneFrame{img}
	prompts := scene.Prompts{}
	for _, c := range clicks {
		c.Frame = 0
		prompts.Clicks = append(prompts.Clicks, c)
	}
	ms, err := p.tracker.Segment(ctx, one, prompts)
	if err != nil {
		return nil, fmt.Errorf("frame %d: %w", frame, err)
	}
	out := map[scene.PersonID]*scene.Mask{}
	for _, id := range ms.People() {
		m, err := ms.Mask(0, id)
		if err != nil {
			return nil, fmt.Errorf("frame %d, person %d: %w", frame, id, err)
		}
		if m != nil {
			out[id] = m
		}
	}
	return out, nil
}

// detect finds the people on one frame with the model directory's
// concept detector (the shipped "person" embedding).
func (p *previewer) detect(ctx context.Context, img *scene.RGB) ([]detect.Detection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.open(); err != nil {
		return nil, err
	}
	if p.detector == nil {
		d, err := segment.OpenDetector(p.dir, p.rt.Load, segment.DefaultConcept)
		if err != nil {
			return nil, err
		}
		p.detector = d
	}
	return p.detector.Detect(ctx, oneFrame{img}, 0)
}

func (p *previewer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.detector != nil {
		p.detector.Close()
		p.detector = nil
	}
	if p.tracker != nil {
		p.tracker.Close()
		p.rt.Close()
		p.tracker, p.rt = nil, nil
	}
}

// oneFrame is a one-frame video.
type oneFrame struct{ img *scene.RGB }

func (o oneFrame) Info() scene.VideoInfo {
	return scene.VideoInfo{Width: o.img.Rect.Dx(), Height: o.img.Rect.Dy(), FPS: scene.Rational{Num: 1, Den: 1}, Frames: 1}
}

func (o oneFrame) Frame(i int) (*scene.RGB, error) {
	if i != 0 {
		return nil, fmt.Errorf("frame %d of a one-frame video", i)
	}
	return o.img, nil
}
