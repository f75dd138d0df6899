// Package serve is body4d's web UI and JSON API (body4d serve): upload a
// video or pick the built-in sample, scrub its frames, click points on
// the people to follow, choose stages, run the whole workflow with live
// progress, cancel, watch the result and download its files.
//
// Unlike the reference Gradio app, whose one global state dict is shared
// by every browser and every overlapping callback (reference
// app-pipeline.md §8), all state lives in a Server: one session object
// per browser session (a random id in a cookie), each with its own video,
// clicks and jobs under its own folder of the data directory. Jobs go
// through one bounded queue served by a fixed number of workers, so the
// machine never runs more pipelines at once than it was sized for. No
// name or path sent by a client is ever used as a file path: uploads and
// outputs get generated names, and result files are served by fixed
// names from the job's own output folder.
//
// The JSON API is documented in API.md beside this file.
package serve

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/detect"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// RunFunc runs one job; job.Run is the real one. It must write its
// outputs under spec.Out and return ctx.Err() (possibly wrapped) when
// cancelled.
type RunFunc func(ctx context.Context, spec job.Spec, progress func(body4d.Event)) (*job.Summary, error)

// PreviewFunc computes the tracker's masks on one frame from the clicks
// on that frame (their Frame fields are frame), as the reference UI
// shows them after each click. img is the frame; the caller must not
// modify it.
type PreviewFunc func(ctx context.Context, img *scene.RGB, frame int, clicks []scene.Click) (map[scene.PersonID]*scene.Mask, error)

// DetectFunc finds people on one frame with the concept detector
// (package detect), for the page's "Find people". img is the frame; the
// caller must not modify it.
type DetectFunc func(ctx context.Context, img *scene.RGB) ([]detect.Detection, error)

// Options configure a Server. Zero limits take the defaults below.
type Options struct {
	Run     RunFunc     // required
	Preview PreviewFunc // nil: the UI says that mask preview is unavailable
	Detect  DetectFunc  // nil: no "Find people" (the model directory has no detector)
	Models  string      // model directory passed to every job; "" is the built-in tiny models
	// Export lists the animation files every job writes (job.Spec.Export:
	// "glb", "bvh"); they need a model directory with the body model.
	Export []string
	// Viewer is the path of model-viewer's script (FindViewer); "": the
	// UI says that the 3D viewer is not installed.
	Viewer string
	// Data is the folder under which the server keeps its files (in a
	// fresh subfolder of its own, removed by Close); "" is the system's
	// temporary directory.
	Data string
	// SampleDir holds the built-in sample (clip/<sample.Clip> and
	// clip/<sample.Clicks>, as job.SampleDir lays out); "" hides
	// the sample.
	SampleDir string

	Workers        int   // jobs run at once (default 1)
	QueueSize      int   // jobs waiting beyond those running (default 16)
	MaxUploadBytes int64 // largest accepted upload (default 512 MiB)
	MaxFrames      int   // longest accepted video in frames (default 1800, the reference tracker's limit)
	// MaxPixels is the largest accepted frame, width×height (default
	// 3840×2160).
	MaxPixels int
	// MaxVideoBytes bounds one video's decoded frames (width×height×3 per
	// frame, as stored on disk; default 4 GiB).
	MaxVideoBytes int64
	// MaxDiskBytes bounds the server's data folder: an upload whose
	// decoded frames would take it over is refused before decoding
	// (default 16 GiB).
	MaxDiskBytes int64
	// MaxSessionDiskBytes bounds one session's stored files (its upload,
	// frame store and job outputs; default 4 GiB): an upload or decode
	// that would take the session over it is refused, and so is a run
	// once the session is at it. Nothing already stored is removed.
	MaxSessionDiskBytes int64
	// MaxDecodes is how many uploads are decoded at once, server-wide
	// (default 2); more wait for a slot. A session has one upload at a
	// time; a second is refused with 429.
	MaxDecodes int
	// MaxPreviews is how many mask previews run at once, server-wide
	// (default 1); a session has at most one running or waiting, a
	// second is refused with 429, so no session can queue ahead of the
	// others.
	MaxPreviews int
	// MaxEncodes is how many frame images (JPEG frames, preview PNGs)
	// are encoded at once, server-wide (default 4); more wait for a
	// slot. MaxSessionEncodes is how many frame requests of one session
	// encode or wait at once (default 6); more are refused with 429, so
	// no session can queue ahead of the others.
	MaxEncodes        int
	MaxSessionEncodes int
	// UploadStall closes an upload that sends nothing for this long
	// (default 30s).
	UploadStall time.Duration
	MaxSessions int           // sessions kept; the least recently used idle one is dropped beyond it (default 64)
	SessionTTL  time.Duration // idle sessions are dropped after this (default 2h)
	Tools       video.Tools   // ffmpeg/ffprobe; zero fields are found as package video does
	Log         *log.Logger   // nil: no log
	// LoopbackOnly refuses requests whose Host is not localhost or a
	// loopback address: a server bound to loopback is then out of reach
	// of web pages that rebind their own name to 127.0.0.1.
	LoopbackOnly bool
}

const (
	defaultWorkers     = 1
	defaultQueue       = 16
	defaultMaxUpload   = 512 << 20
	defaultMaxFrames   = 1800 // the reference tracks at most 1800 frames (app-pipeline.md §1b)
	defaultMaxSessions = 64
	defaultMaxPixels   = 3840 * 2160
	defaultMaxVideo    = 4 << 30
	defaultMaxDisk     = 16 << 30
	defaultMaxDecodes  = 2
	defaultMaxPreviews = 1
	defaultSessionDisk = 4 << 30
	defaultMaxEncodes  = 4
	defaultSessEncodes = 6 // a browser opens at most 6 connections to a host
	defaultStall       = 30 * time.Second
	defaultTTL         = 2 * time.Hour
	maxJSONBytes       = 1 << 20
	maxClicks          = 2000
	maxPeople          = 16 // colours in the palette; far beyond what one view tracks well
	keptJobs           = 3  // finished jobs kept per session (older ones are deleted)
	sessionCookie      = "body4d_session"
	sessionIDBytes     = 16 // 128 random bits
	janitorPeriod      = time.Minute
	rootPrefix         = "body4d-serve-" // a server's data folder under Options.Data
)

//go:embed static
var staticFiles embed.FS

// Server is the web UI and API. It is an http.Handler; Close stops its
// workers, cancels running jobs and removes its files.
type Server struct {
	opt    Options
	root   string   // this server's own folder under opt.Data
	lock   *os.File // root's lock file, locked while the server runs
	mux    *http.ServeMux
	static http.Handler
	queue  *queue
	ctx    context.Context // cancelled by Close: ends every job
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers and the janitor

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool

	decodes  chan struct{} // a slot per upload being decoded
	previews chan struct{} // a slot per mask preview running
	encodes  chan struct{} // a slot per frame image being encoded

	diskMu   sync.Mutex
	reserved int64 // bytes promised to decodes in progress

	sampleMu sync.Mutex
	sample   *sharedVideo // the sample's frame store, decoded once for all sessions
}

// New starts a server: its workers and a janitor that drops idle
// sessions.
func New(opt Options) (*Server, error) {
	if opt.Run == nil {
		return nil, errors.New("serve: Options.Run is nil")
	}
	if opt.Workers <= 0 {
		opt.Workers = defaultWorkers
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = defaultQueue
	}
	if opt.MaxUploadBytes <= 0 {
		opt.MaxUploadBytes = defaultMaxUpload
	}
	if opt.MaxFrames <= 0 {
		opt.MaxFrames = defaultMaxFrames
	}
	if opt.MaxSessions <= 0 {
		opt.MaxSessions = defaultMaxSessions
	}
	if opt.MaxPixels <= 0 {
		opt.MaxPixels = defaultMaxPixels
	}
	if opt.MaxVideoBytes <= 0 {
		opt.MaxVideoBytes = defaultMaxVideo
	}
	if opt.MaxDiskBytes <= 0 {
		opt.MaxDiskBytes = defaultMaxDisk
	}
	if opt.MaxSessionDiskBytes <= 0 {
		opt.MaxSessionDiskBytes = defaultSessionDisk
	}
	if opt.MaxEncodes <= 0 {
		opt.MaxEncodes = defaultMaxEncodes
	}
	if opt.MaxSessionEncodes <= 0 {
		opt.MaxSessionEncodes = defaultSessEncodes
	}
	if opt.MaxDecodes <= 0 {
		opt.MaxDecodes = defaultMaxDecodes
	}
	if opt.MaxPreviews <= 0 {
		opt.MaxPreviews = defaultMaxPreviews
	}
	if opt.UploadStall <= 0 {
		opt.UploadStall = defaultStall
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = defaultTTL
	}
	if opt.Data == "" {
		opt.Data = os.TempDir()
	}
	if err := os.MkdirAll(opt.Data, 0o755); err != nil {
		return nil, fmt.Errorf("serve: data directory: %w", err)
	}
	// Folders of servers that died without Close (kill -9, a crash)
	// are removed before this one makes its own.
	orphans, err := removeOrphans(opt.Data)
	if err != nil {
		return nil, fmt.Errorf("serve: removing data folders of earlier servers: %w", err)
	}
	root, err := os.MkdirTemp(opt.Data, rootPrefix)
	if err != nil {
		return nil, fmt.Errorf("serve: data directory: %w", err)
	}
	lock, err := lockRoot(root)
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("serve: data directory: %w", err)
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opt:      opt,
		root:     root,
		static:   http.FileServerFS(sub),
		queue:    newQueue(opt.QueueSize),
		ctx:      ctx,
		cancel:   cancel,
		sessions: map[string]*session{},
		decodes:  make(chan struct{}, opt.MaxDecodes),
		previews: make(chan struct{}, opt.MaxPreviews),
		encodes:  make(chan struct{}, opt.MaxEncodes),
	}
	s.lock = lock
	for _, o := range orphans {
		s.logf("removed %s, the data folder of a server that did not stop cleanly", o)
	}
	s.routes()
	for range opt.Workers {
		s.wg.Go(s.worker)
	}
	s.wg.Go(s.janitor)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opt.LoopbackOnly && !loopbackHost(r.Host) {
		http.Error(w, fmt.Sprintf("host %q: this server answers only to localhost", r.Host), http.StatusMisdirectedRequest)
		return
	}
	// The UI is one same-origin page; nothing may frame it or sniff types.
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", csp)
	if err := sameOrigin(r); err != nil {
		writeError(w, http.StatusForbidden, "%v", err)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// csp allows the page's own scripts and styles and what model-viewer
// needs: WebGL needs no directive, the GLB comes from this origin, its
// textures become blob: URLs, its shadow DOM carries inline styles and
// its mesh decoder is WebAssembly ('wasm-unsafe-eval' allows compiling
// wasm only, not eval of script text).
// No inline script, no other origin, no framing, no plugins.
const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' blob: data:; " +
	"worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// sameOrigin refuses a state-changing request that a browser sent from
// another origin: another site, or another port of this host, whose
// requests the session cookie's SameSite does not stop. Browsers send
// Sec-Fetch-Site and Origin on such requests; clients that send neither
// (scripts, curl) are not browsers acting for a page and pass.
func sameOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("cross-origin request refused (Sec-Fetch-Site: %s)", site)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("cross-origin request refused: Origin %q is not this server (%s)", o, r.Host)
		}
	}
	return nil
}

// Close cancels queued and running jobs, waits for the workers to stop
// and removes the server's files.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	for _, j := range s.queue.close() {
		j.finish(stateCancelled, "server stopped", nil)
	}
	s.wg.Wait()
	s.mu.Lock()
	for id, sess := range s.sessions {
		sess.release()
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	s.sampleMu.Lock()
	if s.sample != nil {
		s.sample.close()
	}
	s.sampleMu.Unlock()
	err := os.RemoveAll(s.root)
	s.lock.Close()
	return err
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport // no port
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) logf(format string, args ...any) {
	if s.opt.Log != nil {
		s.opt.Log.Printf(format, args...)
	}
}

// janitor drops sessions idle for longer than the TTL.
func (s *Server) janitor() {
	t := time.NewTicker(min(janitorPeriod, s.opt.SessionTTL))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.dropIdle(now.Add(-s.opt.SessionTTL))
		}
	}
}
