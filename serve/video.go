package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// displayName keeps a client's file name for display only: printable
// characters of its last path element, at most 80 runes.
func displayName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	n := 0
	for _, r := range name {
		if n == 80 {
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			n++
		}
	}
	if b.Len() == 0 {
		return "upload"
	}
	return b.String()
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, se *session) {
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
		writeError(w, http.StatusUnsupportedMediaType, "send the video file itself as the request body, not a multipart form")
		return
	}
	if r.ContentLength > s.opt.MaxUploadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "the upload is %d bytes; this server takes at most %d", r.ContentLength, s.opt.MaxUploadBytes)
		return
	}
	if s.busy(se) {
		writeError(w, http.StatusConflict, "a job is queued or running in this session: cancel it or wait before changing the video")
		return
	}
	vid := newID(8)
	dir := filepath.Join(se.dir, "video-"+vid)
	if err := os.Mkdir(dir, 0o755); err != nil {
		writeError(w, http.StatusInternalServerError, "storing the upload: %v", err)
		return
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	// One upload a session at a time (max_uploads_per_session).
	se.mu.Lock()
	if se.uploading {
		se.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "an upload of this session is already in progress; one at a time (max_uploads_per_session)")
		return
	}
	se.uploading = true
	se.mu.Unlock()
	defer func() {
		se.mu.Lock()
		se.uploading = false
		se.mu.Unlock()
	}()
	// The session's budget counts what it stores now, its current video
	// too: that is removed only once the new one has replaced it.
	left := s.opt.MaxSessionDiskBytes - diskUsage(se.dir)
	if left <= 0 {
		writeError(w, http.StatusRequestEntityTooLarge, "this session stores %d bytes, at its limit of %d (max_session_disk_bytes): an upload would not fit",
			s.opt.MaxSessionDiskBytes-left, s.opt.MaxSessionDiskBytes)
		return
	}
	if r.ContentLength > left {
		writeError(w, http.StatusRequestEntityTooLarge, "the upload is %d bytes and this session has %d of its %d bytes left (max_session_disk_bytes)",
			r.ContentLength, left, s.opt.MaxSessionDiskBytes)
		return
	}
	path := filepath.Join(dir, "upload")
	code, err := s.receive(w, r, path, left)
	if err != nil {
		writeError(w, code, "%s", strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
		return
	}
	name := displayName(r.URL.Query().Get("name"))
	frames, code, err := s.decode(r.Context(), path, name, filepath.Join(dir, "frames"),
		s.opt.MaxSessionDiskBytes-diskUsage(se.dir))
	if err != nil {
		// The server's paths mean nothing to the client.
		msg := strings.NewReplacer("video "+path+": ", "", path+": ", "", path, "the upload", dir, "the upload's folder").Replace(err.Error())
		writeError(w, code, "%s", msg)
		return
	}
	frames.owned = dir
	v := &sessionVideo{id: vid, name: name, path: path, frames: frames}
	if !s.setVideo(w, se, v) {
		frames.close()
		return
	}
	keep = true
	s.logf("session %s…: video %s (%s)", se.id[:6], vid, v.name)
	writeJSON(w, http.StatusOK, s.sessionState(se))
}

// receive writes the request body to path, refusing what is too large
// (over the server's upload limit or the session's sessionLeft bytes of
// disk) or plainly not a video.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, path string, sessionLeft int64) (int, error) {
	limit := min(s.opt.MaxUploadBytes, max(0, sessionLeft))
	overLimit := func() error {
		if limit < s.opt.MaxUploadBytes {
			return fmt.Errorf("the upload is over the %d bytes this session has left of its %d (max_session_disk_bytes)", limit, s.opt.MaxSessionDiskBytes)
		}
		return fmt.Errorf("the upload is over %d bytes, this server's limit", s.opt.MaxUploadBytes)
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, limit))
	// A client that stops sending is cut off: every read must arrive
	// within UploadStall, however long the whole upload takes.
	body = &stallReader{r: body, rc: http.NewResponseController(w), stall: s.opt.UploadStall}
	head := make([]byte, 512) // what http.DetectContentType reads
	n, err := io.ReadFull(body, head)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, overLimit()
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, errors.New("the upload is empty")
	case isTimeout(err):
		return http.StatusRequestTimeout, fmt.Errorf("the upload stalled: no data for %v (upload_stall)", s.opt.UploadStall)
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, fmt.Errorf("reading the upload: %v", err)
	}
	head = head[:n]
	// Only containers that cannot make ffmpeg open another file or URL.
	if _, err := video.SniffUntrusted(head); err != nil {
		kind, _, _ := strings.Cut(http.DetectContentType(head), ";")
		return http.StatusUnsupportedMediaType, fmt.Errorf("not a supported container: the upload looks like %s; accepted are %s", kind, video.UntrustedContainers)
	}
	f, err := os.Create(path)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	_, err = io.Copy(f, io.MultiReader(bytes.NewReader(head), body))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, overLimit()
	case isTimeout(err):
		return http.StatusRequestTimeout, fmt.Errorf("the upload stalled: no data for %v (upload_stall)", s.opt.UploadStall)
	case err != nil:
		return http.StatusBadRequest, fmt.Errorf("reading the upload: %v", err)
	}
	return 0, nil
}

// stallReader sets a fresh read deadline on the connection before each
// read of the body.
type stallReader struct {
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	// A connection that cannot take deadlines (HTTP/2 tests, hijacked)
	// is read without one.
	_ = s.rc.SetReadDeadline(time.Now().Add(s.stall))
	return s.r.Read(p)
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// decode checks an uploaded video file with ffprobe and decodes it into
// a frame store in dir. The file is untrusted: errors name it as name.
// sessionLeft is what the session may still store (bytes); < 0 for
// frames that belong to no session (the sample).
func (s *Server) decode(ctx context.Context, path, name, dir string, sessionLeft int64) (*sharedVideo, int, error) {
	probe, err := video.ProbeUntrusted(ctx, path, name, s.opt.Tools)
	if err != nil {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("not a video ffmpeg can read: %v", err)
	}
	if probe.Frames > s.opt.MaxFrames {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the video has %d frames; this server takes at most %d", probe.Frames, s.opt.MaxFrames)
	}
	// Every budget is checked on ffprobe's facts, before a frame is
	// decoded. A container that understates its frame count is caught
	// by the frame-count budget while importing.
	if px := probe.Width * probe.Height; px > s.opt.MaxPixels {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the video is %dx%d (%d pixels); this server takes at most %d pixels a frame (max_pixels)",
			probe.Width, probe.Height, px, s.opt.MaxPixels)
	}
	need := int64(probe.Width) * int64(probe.Height) * 3 * int64(probe.Frames)
	if need > s.opt.MaxVideoBytes {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the video's decoded frames take %d bytes; this server takes at most %d (max_video_bytes)", need, s.opt.MaxVideoBytes)
	}
	if sessionLeft >= 0 && need > sessionLeft {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the video's decoded frames take %d bytes and this session has %d of its %d bytes left (max_session_disk_bytes)",
			need, max(0, sessionLeft), s.opt.MaxSessionDiskBytes)
	}
	// Decodes take turns for the server's slots; a session has one
	// upload at a time (upload), so no client can take them all.
	select {
	case s.decodes <- struct{}{}:
		defer func() { <-s.decodes }()
	case <-ctx.Done():
		return nil, http.StatusServiceUnavailable, fmt.Errorf("waiting for a decode slot (max_decodes): %w", ctx.Err())
	}
	release, err := s.reserveDisk(need)
	if err != nil {
		return nil, http.StatusRequestEntityTooLarge, err
	}
	defer release()
	rd, err := video.OpenUntrusted(ctx, path, name, s.opt.Tools)
	if err != nil {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("not a video ffmpeg can read: %v", err)
	}
	defer rd.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	store, err := video.Import(ctx, rd, dir, video.StoreOptions{CacheBytes: 32 << 20,
		Progress: func(done, _ int) {
			if done > probe.Frames {
				cancel(fmt.Errorf("the video has more frames than its container states (%d)", probe.Frames))
			}
		}})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(cause, context.Canceled) {
			return nil, http.StatusUnprocessableEntity, cause
		}
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("decoding the video: %v", err)
	}
	return &sharedVideo{store: store}, 0, nil
}

func (s *Server) busy(se *session) bool {
	se.mu.Lock()
	defer se.mu.Unlock()
	return se.activeJob() != nil
}

// setVideo makes v the session's video and clears the clicks (they were
// for the old one); refused while a job is active.
func (s *Server) setVideo(w http.ResponseWriter, se *session, v *sessionVideo) bool {
	se.mu.Lock()
	if se.activeJob() != nil {
		se.mu.Unlock()
		writeError(w, http.StatusConflict, "a job is queued or running in this session: cancel it or wait before changing the video")
		return false
	}
	old := se.video
	se.video, se.clicks, se.boxes = v, nil, nil
	se.mu.Unlock()
	if old != nil && !old.sample {
		old.frames.close() // waits for readers of its frames
	}
	return true
}

func (s *Server) useSample(w http.ResponseWriter, r *http.Request, se *session) {
	if s.opt.SampleDir == "" {
		writeError(w, http.StatusNotFound, "this server has no built-in sample")
		return
	}
	if s.busy(se) {
		writeError(w, http.StatusConflict, "a job is queued or running in this session: cancel it or wait before changing the video")
		return
	}
	frames, err := s.sampleFrames(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the built-in sample: %v", err)
		return
	}
	v := &sessionVideo{id: "sample", name: sample.Clip, sample: true, frames: frames,
		path: filepath.Join(s.opt.SampleDir, "clip", sample.Clip)}
	if !s.setVideo(w, se, v) {
		return
	}
	writeJSON(w, http.StatusOK, s.sessionState(se))
}

// sampleFrames decodes the sample clip once for every session.
func (s *Server) sampleFrames(ctx context.Context) (*sharedVideo, error) {
	s.sampleMu.Lock()
	defer s.sampleMu.Unlock()
	if s.sample != nil {
		return s.sample, nil
	}
	path := filepath.Join(s.opt.SampleDir, "clip", sample.Clip)
	// Not the request's context: a client that goes away must not leave
	// a half-made store that the next one would find.
	ctx = context.WithoutCancel(ctx)
	v, _, err := s.decode(ctx, path, sample.Clip, filepath.Join(s.root, "sample"), -1)
	if err != nil {
		return nil, err
	}
	s.sample = v
	return v, nil
}

func (s *Server) sampleClicks() ([]scene.Click, error) {
	b, err := os.ReadFile(filepath.Join(s.opt.SampleDir, "clip", sample.Clicks))
	if err != nil {
		return nil, err
	}
	var f struct {
		Clicks []scene.Click `json:"clicks"`
	}
	err = json.Unmarshal(b, &f)
	return f.Clicks, err
}

// currentVideo returns the session's video or answers 409.
func (s *Server) currentVideo(w http.ResponseWriter, se *session) *sessionVideo {
	se.mu.Lock()
	v := se.video
	se.mu.Unlock()
	if v == nil {
		writeError(w, http.StatusConflict, "no video: upload one (POST /api/video) or pick the sample (POST /api/sample) first")
	}
	return v
}

func frameIndex(w http.ResponseWriter, r *http.Request, v *sessionVideo) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	frames := v.frames.store.Info().Frames
	if err != nil || n < 0 || n >= frames {
		writeError(w, http.StatusNotFound, "frame %q does not exist: the video has frames 0 to %d", r.PathValue("n"), frames-1)
		return 0, false
	}
	return n, true
}

func (s *Server) frame(w http.ResponseWriter, r *http.Request, se *session) {
	v := s.currentVideo(w, se)
	if v == nil {
		return
	}
	if q := r.URL.Query().Get("v"); q != "" && q != v.id {
		writeError(w, http.StatusNotFound, "video %q was replaced by %q", q, v.id)
		return
	}
	n, ok := frameIndex(w, r, v)
	if !ok {
		return
	}
	etag := fmt.Sprintf(`"%s-%d"`, v.id, n)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// A session encodes a few frames at once (429 beyond), and all
	// sessions share the server's encode slots.
	se.mu.Lock()
	if se.encodes >= s.opt.MaxSessionEncodes {
		se.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "%d frame requests of this session are already being encoded; at most %d at once (max_encodes_per_session)",
			s.opt.MaxSessionEncodes, s.opt.MaxSessionEncodes)
		return
	}
	se.encodes++
	se.mu.Unlock()
	defer func() {
		se.mu.Lock()
		se.encodes--
		se.mu.Unlock()
	}()
	if !s.encodeSlot(r.Context()) {
		return // the client went away
	}
	defer func() { <-s.encodes }()
	img, err := v.frames.frame(n)
	if err != nil {
		writeError(w, http.StatusConflict, "frame %d: %v", n, err)
		return
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, toRGBA(img), &jpeg.Options{Quality: 88}); err != nil {
		writeError(w, http.StatusInternalServerError, "frame %d: %v", n, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(buf.Bytes())
}

// encodeSlot waits for one of the server's encode slots (max_encodes);
// false if ctx ends first. The caller returns the slot by receiving from
// s.encodes.
func (s *Server) encodeSlot(ctx context.Context) bool {
	select {
	case s.encodes <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// toRGBA converts a frame to the type image/jpeg encodes fastest.
func toRGBA(src *scene.RGB) *image.RGBA {
	b := src.Rect
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		s := src.Pix[y*src.Stride : y*src.Stride+3*b.Dx()]
		d := dst.Pix[y*dst.Stride : y*dst.Stride+4*b.Dx()]
		for x := 0; x < b.Dx(); x++ {
			d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = s[3*x], s[3*x+1], s[3*x+2], 255
		}
	}
	return dst
}

// reserveDisk promises need bytes of the server's disk budget to a
// decode, counting what is on disk now and what other decodes were
// promised; release returns the promise once the frames are on disk
// (and so counted by the walk) or were removed.
func (s *Server) reserveDisk(need int64) (release func(), err error) {
	s.diskMu.Lock()
	defer s.diskMu.Unlock()
	used := diskUsage(s.root)
	if used+s.reserved+need > s.opt.MaxDiskBytes {
		return nil, fmt.Errorf("the video's decoded frames take %d bytes and the server has %d of its %d bytes left (max_disk_bytes): try again later",
			need, max(0, s.opt.MaxDiskBytes-used-s.reserved), s.opt.MaxDiskBytes)
	}
	s.reserved += need
	return func() {
		s.diskMu.Lock()
		s.reserved -= need
		s.diskMu.Unlock()
	}, nil
}

// diskUsage is the size of the files under dir.
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
