package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
)

// palette colours people by id (person p gets palette[(p-1)%len]); the
// page draws clicks and previews in the same colours.
var palette = [maxPeople]color.NRGBA{
	{230, 25, 75, 255}, {60, 180, 75, 255}, {255, 200, 25, 255}, {0, 130, 200, 255},
	{245, 130, 48, 255}, {145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255},
	{210, 245, 60, 255}, {250, 190, 212, 255}, {0, 128, 128, 255}, {220, 190, 255, 255},
	{170, 110, 40, 255}, {255, 250, 200, 255}, {128, 0, 0, 255}, {170, 255, 195, 255},
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.index)
	m.Handle("GET /static/", http.StripPrefix("/static/", s.static))
	m.HandleFunc("GET /vendor/model-viewer.min.js", s.viewer)
	m.HandleFunc("POST /api/session", s.createSession)
	m.HandleFunc("GET /api/session", s.withSession(s.getSession))
	m.HandleFunc("POST /api/video", s.withSession(s.upload))
	m.HandleFunc("POST /api/sample", s.withSession(s.useSample))
	m.HandleFunc("GET /api/frames/{n}", s.withSession(s.frame))
	m.HandleFunc("GET /api/clicks", s.withSession(s.getClicks))
	m.HandleFunc("PUT /api/clicks", s.withSession(s.putClicks))
	m.HandleFunc("GET /api/preview/{n}", s.withSession(s.preview))
	m.HandleFunc("POST /api/detect/{n}", s.withSession(s.detect))
	m.HandleFunc("POST /api/run", s.withSession(s.run))
	m.HandleFunc("GET /api/jobs/{id}", s.withSession(s.getJob))
	m.HandleFunc("GET /api/jobs/{id}/events", s.withSession(s.events))
	m.HandleFunc("POST /api/jobs/{id}/cancel", s.withSession(s.cancelJob))
	m.HandleFunc("GET /api/jobs/{id}/files/{name}", s.withSession(s.jobFile))
	m.HandleFunc("GET /api/jobs/{id}/world", s.withSession(s.topView))
	m.HandleFunc("GET /api/jobs/{id}/people/{person}/{name}", s.withSession(s.personFile))
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all also catches a known path with the wrong method:
		// that is 405 with the methods it takes.
		var allow []string
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"} {
			probe := r.Clone(r.Context())
			probe.Method = method
			if _, pattern := m.Handler(probe); pattern != "" && pattern != "/api/" {
				allow = append(allow, method)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))
			return
		}
		writeError(w, http.StatusNotFound, "no such API endpoint: %s %s (see API.md)", r.Method, r.URL.Path)
	})
	s.mux = m
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

// decodeJSON reads exactly one JSON value of at most maxJSONBytes into v;
// unknown fields are an error, so a misspelt field is not silently
// ignored. An empty body leaves v as it is when allowEmpty.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if errors.Is(err, io.EOF) && allowEmpty {
		return true
	}
	if err == nil {
		if _, e := dec.Token(); !errors.Is(e, io.EOF) {
			err = errors.New("more than one JSON value in the body")
		}
	}
	if err == nil && string(raw) == "null" {
		// null would decode to nothing at all: say so rather than
		// proceed as if the client had sent its settings.
		err = errors.New("the body is null: send a JSON object (or no body)")
	}
	if err == nil {
		vd := json.NewDecoder(bytes.NewReader(raw))
		vd.DisallowUnknownFields()
		err = vd.Decode(v)
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "request body is over %d bytes", maxJSONBytes)
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "malformed JSON: the body is empty")
	default:
		writeError(w, http.StatusBadRequest, "malformed JSON: %v", err)
	}
	return false
}

// withSession passes the request's session to h, or answers 401.
func (s *Server) withSession(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		se := s.session(r)
		if se == nil {
			writeError(w, http.StatusUnauthorized, "no session: POST /api/session first and send its %s cookie", sessionCookie)
			return
		}
		h(w, r, se)
	}
}

func (s *Server) lookupJob(w http.ResponseWriter, r *http.Request, se *session) *jobState {
	j := se.findJob(r.PathValue("id"))
	if j == nil {
		writeError(w, http.StatusNotFound, "no job %q in this session", r.PathValue("id"))
	}
	return j
}

// ---- page and session ----

// index serves the page only: a session is made by the page's own
// POST /api/session, never by a GET that any other page can cause.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	page, err := staticFiles.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// createSession returns the request's session if it has one (200), so
// the page can always POST without a failed GET first, or makes one
// (201).
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if se := s.session(r); se != nil {
		writeJSON(w, http.StatusOK, s.sessionState(se))
		return
	}
	se, err := s.newSession(w)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, s.sessionState(se))
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, se *session) {
	writeJSON(w, http.StatusOK, s.sessionState(se))
}

type videoJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Frames int    `json:"frames"`
	FPS    string `json:"fps"`
	Sample bool   `json:"sample"`
}

type sessionJSON struct {
	Video           *videoJSON    `json:"video"`
	Clicks          []scene.Click `json:"clicks"`
	Boxes           []scene.Box   `json:"boxes"`
	SuggestedClicks []scene.Click `json:"suggested_clicks,omitempty"`
	Jobs            []jobJSON     `json:"jobs"`
	Features        struct {
		Preview bool `json:"preview"`
		Detect  bool `json:"detect"` // "Find people": the model directory has the concept detector
		Sample  bool `json:"sample"`
		Viewer  bool `json:"viewer"` // model-viewer is installed
	} `json:"features"`
	Limits struct {
		MaxUploadBytes int64 `json:"max_upload_bytes"`
		MaxFrames      int   `json:"max_frames"`
		MaxPixels      int   `json:"max_pixels"`
		MaxVideoBytes  int64 `json:"max_video_bytes"`
		MaxDiskBytes   int64 `json:"max_disk_bytes"`
		MaxSessionDisk int64 `json:"max_session_disk_bytes"`
		MaxDecodes     int   `json:"max_decodes"`
		MaxEncodes     int   `json:"max_encodes"`
		MaxSessEncodes int   `json:"max_encodes_per_session"`
		MaxPeople      int   `json:"max_people"`
		SessionTTL     int64 `json:"session_ttl_seconds"` // an idle session is dropped after this
	} `json:"limits"`
	Palette []string `json:"palette"`
	Notes   []string `json:"notes,omitempty"`
}

func (s *Server) sessionState(se *session) sessionJSON {
	var out sessionJSON
	se.mu.Lock()
	if v := se.video; v != nil {
		info := v.frames.store.Info()
		out.Video = &videoJSON{ID: v.id, Name: v.name, Width: info.Width, Height: info.Height,
			Frames: info.Frames, FPS: info.FPS.String(), Sample: v.sample}
	}
	out.Clicks = append([]scene.Click{}, se.clicks...)
	out.Boxes = append([]scene.Box{}, se.boxes...)
	jobs := slices.Clone(se.jobs)
	sample := se.video != nil && se.video.sample
	se.mu.Unlock()
	out.Jobs = []jobJSON{}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, s.jobStatus(j))
	}
	if sample {
		out.SuggestedClicks, _ = s.sampleClicks()
	}
	out.Features.Preview = s.opt.Preview != nil
	out.Features.Detect = s.opt.Detect != nil
	out.Features.Sample = s.opt.SampleDir != ""
	out.Features.Viewer = s.opt.Viewer != ""
	out.Limits.MaxUploadBytes = s.opt.MaxUploadBytes
	out.Limits.MaxFrames = s.opt.MaxFrames
	out.Limits.MaxPixels = s.opt.MaxPixels
	out.Limits.MaxVideoBytes = s.opt.MaxVideoBytes
	out.Limits.MaxDiskBytes = s.opt.MaxDiskBytes
	out.Limits.MaxSessionDisk = s.opt.MaxSessionDiskBytes
	out.Limits.MaxDecodes = s.opt.MaxDecodes
	out.Limits.MaxEncodes = s.opt.MaxEncodes
	out.Limits.MaxSessEncodes = s.opt.MaxSessionEncodes
	out.Limits.MaxPeople = maxPeople
	out.Limits.SessionTTL = int64(s.opt.SessionTTL / time.Second)
	for _, c := range palette {
		out.Palette = append(out.Palette, fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B))
	}
	if s.opt.Models == "" {
		out.Notes = append(out.Notes, job.TinyModelsNote)
	}
	return out
}

// ---- clicks ----

// clicksJSON is the session's prompts: clicks, and the boxes of people
// found with "Find people" (a PUT without "boxes" clears them).
type clicksJSON struct {
	Clicks []scene.Click `json:"clicks"`
	Boxes  []scene.Box   `json:"boxes"`
}

func (s *Server) getClicks(w http.ResponseWriter, r *http.Request, se *session) {
	se.mu.Lock()
	c := clicksJSON{append([]scene.Click{}, se.clicks...), append([]scene.Box{}, se.boxes...)}
	se.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

// putClicks replaces the session's clicks with the body's list (the
// page sends the whole list after each click or undo, so a lost or
// repeated request cannot leave a half-applied edit).
func (s *Server) putClicks(w http.ResponseWriter, r *http.Request, se *session) {
	var req clicksJSON
	if !decodeJSON(w, r, &req, false) {
		return
	}
	if req.Clicks == nil {
		writeError(w, http.StatusBadRequest, `malformed JSON: want {"clicks": [...]}`)
		return
	}
	if len(req.Clicks) > maxClicks {
		writeError(w, http.StatusBadRequest, "%d clicks; at most %d", len(req.Clicks), maxClicks)
		return
	}
	for i, c := range req.Clicks {
		if c.Person > maxPeople {
			writeError(w, http.StatusBadRequest, "click %d: person id %d; at most %d people", i, c.Person, maxPeople)
			return
		}
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.video == nil {
		writeError(w, http.StatusConflict, "no video: upload one (POST /api/video) or pick the sample (POST /api/sample) first")
		return
	}
	if len(req.Clicks)+len(req.Boxes) > 0 {
		if err := (scene.Prompts{Clicks: req.Clicks, Boxes: req.Boxes}).Validate(se.video.frames.store.Info()); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
	}
	se.clicks, se.boxes = req.Clicks, req.Boxes
	writeJSON(w, http.StatusOK, clicksJSON{append([]scene.Click{}, se.clicks...), append([]scene.Box{}, se.boxes...)})
}

// ---- find people ----

// foundJSON is one detection of "Find people", in video pixels.
type foundJSON struct {
	Box   [4]float64 `json:"box"` // x0, y0, x1, y1
	Score float64    `json:"score"`
}

// detect finds the people on one frame with the concept detector. It
// stores nothing: the page turns the detections it keeps into boxes
// (PUT /api/clicks). Like a preview, one a session at a time, sharing the
// server's preview slots.
func (s *Server) detect(w http.ResponseWriter, r *http.Request, se *session) {
	if s.opt.Detect == nil {
		writeError(w, http.StatusNotImplemented, "finding people is not available: the model directory has no concept detector (segment/detector)")
		return
	}
	v := s.currentVideo(w, se)
	if v == nil {
		return
	}
	n, ok := frameIndex(w, r, v)
	if !ok {
		return
	}
	frame, err := v.frames.frame(n)
	if err != nil {
		writeError(w, http.StatusConflict, "frame %d: %v", n, err)
		return
	}
	se.mu.Lock()
	if se.detecting {
		se.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "finding people in this session is already running; one at a time")
		return
	}
	se.detecting = true
	se.mu.Unlock()
	defer func() {
		se.mu.Lock()
		se.detecting = false
		se.mu.Unlock()
	}()
	select {
	case s.previews <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	dets, err := s.opt.Detect(r.Context(), frame)
	<-s.previews
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "finding people on frame %d: %v", n, err)
		return
	}
	out := struct {
		Frame int         `json:"frame"`
		Found []foundJSON `json:"found"`
	}{n, []foundJSON{}}
	for _, d := range dets {
		out.Found = append(out.Found, foundJSON{Box: [4]float64{d.X0, d.Y0, d.X1, d.Y1}, Score: d.Score})
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- preview ----

// preview answers a PNG of the tracker's masks on one frame, each
// person in their colour at half opacity over transparency.
func (s *Server) preview(w http.ResponseWriter, r *http.Request, se *session) {
	if s.opt.Preview == nil {
		writeError(w, http.StatusNotImplemented, "mask preview is not available in this build: run the job to see the masks' result")
		return
	}
	v := s.currentVideo(w, se)
	if v == nil {
		return
	}
	n, ok := frameIndex(w, r, v)
	if !ok {
		return
	}
	var clicks []scene.Click
	se.mu.Lock()
	for _, c := range se.clicks {
		if c.Frame == n {
			clicks = append(clicks, c)
		}
	}
	se.mu.Unlock()
	if len(clicks) == 0 {
		writeError(w, http.StatusBadRequest, "no clicks on frame %d: click a person there to preview the mask", n)
		return
	}
	frame, err := v.frames.frame(n)
	if err != nil {
		writeError(w, http.StatusConflict, "frame %d: %v", n, err)
		return
	}
	// One preview a session at a time, so that one client cannot queue
	// ahead of the others for the server's preview slots.
	se.mu.Lock()
	if se.preview {
		se.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "a mask preview of this session is already running; one at a time (max_previews_per_session)")
		return
	}
	se.preview = true
	se.mu.Unlock()
	defer func() {
		se.mu.Lock()
		se.preview = false
		se.mu.Unlock()
	}()
	select {
	case s.previews <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	masks, err := s.opt.Preview(r.Context(), frame, n, clicks)
	<-s.previews
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "mask preview of frame %d: %v", n, err)
		return
	}
	info := v.frames.store.Info()
	img := image.NewNRGBA(image.Rect(0, 0, info.Width, info.Height))
	ids := make([]scene.PersonID, 0, len(masks))
	for id := range masks {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the higher id wins overlaps, as the reference paints them
	for _, id := range ids {
		m := masks[id]
		if m == nil || m.W != info.Width || m.H != info.Height {
			writeError(w, http.StatusInternalServerError, "mask preview: person %d's mask does not match the %dx%d frame", id, info.Width, info.Height)
			return
		}
		c := palette[(int(id)-1+maxPeople)%maxPeople]
		c.A = 140
		for i, on := range m.Pix {
			if on != 0 {
				img.SetNRGBA(i%m.W, i/m.W, c)
			}
		}
	}
	// Who the tracker sees, so that the page can say when it is nobody.
	seen := make([]string, 0, len(ids))
	for _, id := range ids {
		if masks[id] != nil {
			seen = append(seen, strconv.Itoa(int(id)))
		}
	}
	// The PNG takes one of the encode slots that frames share (the
	// session's one preview is its own per-session bound).
	if !s.encodeSlot(r.Context()) {
		return
	}
	var buf bytes.Buffer
	err = png.Encode(&buf, img)
	<-s.encodes
	if err != nil {
		writeError(w, http.StatusInternalServerError, "mask preview of frame %d: %v", n, err)
		return
	}
	w.Header().Set("Body4d-People", strings.Join(seen, ","))
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
