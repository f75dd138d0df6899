package serve

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/scene"
)

type runJSON struct {
	Amodal         *bool   `json:"amodal"` // default true
	Camera         *bool   `json:"camera"` // default true
	CameraPerFrame bool    `json:"camera_per_frame"`
	FOVX           float64 `json:"fovx"`
	Smooth         string  `json:"smooth"`      // kalman (default), oneeuro, reference, off
	Quick          bool    `json:"quick"`       // faster, rougher occlusion recovery
	AmodalFast     bool    `json:"amodal_fast"` // skip people fully in view, fewer steps
	Mesh           string  `json:"mesh"`        // body (default) or full
	Frames         int     `json:"frames"`      // only the first N frames; 0: all
	World          bool    `json:"world"`       // world frame for a static camera (--world static)
}

// spec builds a job spec from the session's current video and clicks,
// or answers why it cannot.
func (s *Server) spec(w http.ResponseWriter, se *session, st job.Stages) (job.Spec, bool) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.video == nil {
		writeError(w, http.StatusConflict, "no video: upload one (POST /api/video) or pick the sample (POST /api/sample) first")
		return job.Spec{}, false
	}
	if len(se.clicks)+len(se.boxes) == 0 {
		writeError(w, http.StatusBadRequest, "no clicks: click at least one point on a person, or find people (PUT /api/clicks) before running")
		return job.Spec{}, false
	}
	return job.Spec{
		Video: se.video.path,
		// The job decodes the upload again: with the same allow-list.
		Untrusted: !se.video.sample,
		Models:    s.opt.Models,
		Prompts:   scene.Prompts{Clicks: slices.Clone(se.clicks), Boxes: slices.Clone(se.boxes)},
		Stages:    st,
		Export:    slices.Clone(s.opt.Export),
		// A job's outputs are all the web UI serves; its caches go.
		DropWork: true,
	}, true
}

func (s *Server) run(w http.ResponseWriter, r *http.Request, se *session) {
	var req runJSON
	if !decodeJSON(w, r, &req, true) {
		return
	}
	switch req.Smooth {
	case "", "kalman", "oneeuro", "reference", "off":
	default:
		writeError(w, http.StatusBadRequest, "smooth %q: want kalman, oneeuro, reference or off", req.Smooth)
		return
	}
	if _, err := mesh.ParseMode(req.Mesh); err != nil {
		writeError(w, http.StatusBadRequest, "mesh %q: want body or full", req.Mesh)
		return
	}
	if req.Frames < 0 {
		writeError(w, http.StatusBadRequest, "frames %d: want a positive number, or 0 for all", req.Frames)
		return
	}
	if !(req.FOVX >= 0 && req.FOVX < 180) {
		writeError(w, http.StatusBadRequest, "fovx %g: want degrees in (0, 180), or 0 to estimate it", req.FOVX)
		return
	}
	st := job.Stages{
		NoAmodal:       req.Amodal != nil && !*req.Amodal,
		NoCamera:       req.Camera != nil && !*req.Camera,
		FOVX:           req.FOVX,
		CameraPerFrame: req.CameraPerFrame,
		Smooth:         req.Smooth,
		Quick:          req.Quick,
		AmodalFast:     req.AmodalFast,
		Mesh:           req.Mesh,
	}
	if req.World {
		st.World = "static"
	}
	spec, ok := s.spec(w, se, st)
	if !ok {
		return
	}
	spec.Frames = req.Frames
	// A job's outputs cannot be sized before it runs: a session at its
	// disk budget runs nothing more until it frees space (a new upload
	// replaces its video; a session keeps its last few jobs).
	if used := diskUsage(se.dir); used >= s.opt.MaxSessionDiskBytes {
		writeError(w, http.StatusInsufficientStorage, "this session stores %d bytes, at its limit of %d (max_session_disk_bytes): its outputs would not fit",
			used, s.opt.MaxSessionDiskBytes)
		return
	}
	id := newID(8)
	spec.Out = filepath.Join(se.dir, "job-"+id)
	j := newJob(s.ctx, id, spec.Out, spec)

	se.mu.Lock()
	if se.dropped {
		se.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "no session: it expired while this request ran; POST /api/session")
		return
	}
	if a := se.activeJob(); a != nil {
		se.mu.Unlock()
		writeError(w, http.StatusConflict, "job %s is already %s in this session: cancel it or wait", a.id, a.status())
		return
	}
	if se.video == nil || se.video.path != spec.Video {
		se.mu.Unlock()
		writeError(w, http.StatusConflict, "the video changed while the job was being made; run again")
		return
	}
	if err := s.queue.push(j); err != nil {
		se.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	se.addJob(j)
	se.mu.Unlock()
	s.logf("session %s…: job %s queued (%d clicks)", se.id[:6], id, len(spec.Prompts.Clicks))
	writeJSON(w, http.StatusAccepted, s.jobStatus(j))
}

func (j *jobState) status() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}

type jobJSON struct {
	ID       string          `json:"id"`
	State    string          `json:"state"`
	Position int             `json:"position,omitempty"` // jobs ahead while queued
	Stages   []stageProgress `json:"stages"`
	Error    string          `json:"error,omitempty"`
	Created  time.Time       `json:"created"`
	Started  *time.Time      `json:"started,omitempty"`
	Finished *time.Time      `json:"finished,omitempty"`
	Result   *resultJSON     `json:"result,omitempty"`
}

type resultJSON struct {
	Video         string            `json:"video"`           // URL of the MP4
	Summary       string            `json:"summary"`         // URL of summary.json
	Scene         string            `json:"scene,omitempty"` // URL of scene.glb (every person and the camera), when exported
	World         string            `json:"world,omitempty"` // URL of the top view (GET /api/jobs/{id}/world), when the run has a world frame
	Width         int               `json:"width"`
	Height        int               `json:"height"`
	Frames        int               `json:"frames"`
	FPS           string            `json:"fps"`
	ModelSet      string            `json:"model_set"`
	Camera        *scene.Intrinsics `json:"camera_frame0,omitempty"`
	StagesRan     []string          `json:"stages_ran"`
	StagesSkipped []string          `json:"stages_skipped"`
	Notes         []string          `json:"notes,omitempty"`
	People        []personJSON      `json:"people"`
	Profile       []profileJSON     `json:"profile"`
}

type personJSON struct {
	ID     scene.PersonID `json:"id"`
	Frames int            `json:"frames"`           // frames with a mesh
	Params string         `json:"params"`           // URL of params.json
	Meshes string         `json:"meshes"`           // URL of a zip of the person's folder
	Motion string         `json:"motion,omitempty"` // URL of motion.glb (skinned glTF), when exported
	BVH    string         `json:"bvh,omitempty"`    // URL of motion.bvh, when exported
}

type profileJSON struct {
	Stage   string  `json:"stage"`
	Ran     bool    `json:"ran"`
	WallMS  float64 `json:"wall_ms"`
	PeakRSS int64   `json:"peak_rss_bytes,omitempty"`
	Skipped string  `json:"skipped_because,omitempty"`
}

// jobStatus snapshots a job for the API. File system paths in the
// summary are not shown: files are reached by URL only.
func (s *Server) jobStatus(j *jobState) jobJSON {
	j.mu.Lock()
	out := jobJSON{ID: j.id, State: j.state, Stages: slices.Clone(j.stages), Error: j.err, Created: j.created}
	if out.Stages == nil {
		out.Stages = []stageProgress{}
	}
	if !j.started.IsZero() {
		t := j.started
		out.Started = &t
	}
	if !j.finished.IsZero() {
		t := j.finished
		out.Finished = &t
	}
	sum := j.summary
	j.mu.Unlock()
	if out.State == stateQueued {
		out.Position = s.queue.position(j)
	}
	if sum != nil && out.State == stateDone {
		base := "/api/jobs/" + j.id
		res := &resultJSON{Video: base + "/files/result.mp4", Summary: base + "/files/summary.json",
			Width: sum.Width, Height: sum.Height, Frames: sum.Frames, FPS: sum.FPS, ModelSet: sum.ModelSet,
			Camera: sum.Camera, StagesRan: sum.StagesRan, StagesSkipped: sum.StagesSkipped, Notes: sum.Notes,
			People: []personJSON{}, Profile: []profileJSON{}}
		exported := func(name string) bool { return slices.Contains(sum.Exports, filepath.FromSlash(name)) }
		if exported("scene.glb") {
			res.Scene = base + "/files/scene.glb"
		}
		if sum.World != nil {
			res.World = base + "/world"
		}
		for _, p := range sum.People {
			pb := fmt.Sprintf("%s/people/%d/", base, p.ID)
			pj := personJSON{ID: p.ID, Frames: p.Frames, Params: pb + "params.json", Meshes: pb + "meshes.zip"}
			if exported(fmt.Sprintf("people/%d/motion.glb", p.ID)) {
				pj.Motion = pb + "motion.glb"
			}
			if exported(fmt.Sprintf("people/%d/motion.bvh", p.ID)) {
				pj.BVH = pb + "motion.bvh"
			}
			res.People = append(res.People, pj)
		}
		for _, p := range sum.Profile {
			res.Profile = append(res.Profile, profileJSON{Stage: p.Stage, Ran: p.Ran,
				WallMS: float64(p.Wall.Microseconds()) / 1000, PeakRSS: p.PeakRSS, Skipped: p.Skipping})
		}
		out.Result = res
	}
	return out
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, se *session) {
	if j := s.lookupJob(w, r, se); j != nil {
		writeJSON(w, http.StatusOK, s.jobStatus(j))
	}
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request, se *session) {
	j := s.lookupJob(w, r, se)
	if j == nil {
		return
	}
	if s.queue.remove(j) {
		j.finish(stateCancelled, "cancelled before it started", nil)
	} else {
		j.cancel() // the worker records the end and removes the outputs
	}
	writeJSON(w, http.StatusAccepted, s.jobStatus(j))
}

// events streams a job's status as server-sent events ("status" events
// whose data is the job's JSON) until the job ends or the client goes.
func (s *Server) events(w http.ResponseWriter, r *http.Request, se *session) {
	j := s.lookupJob(w, r, se)
	if j == nil {
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		j.mu.Lock()
		changed := j.changed
		j.mu.Unlock()
		st := s.jobStatus(j)
		b, _ := json.Marshal(st)
		if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if isTerminal(st.State) {
			return
		}
	wait:
		for {
			select {
			case <-changed:
				break wait
			case <-keepalive.C:
				if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
					return
				}
				rc.Flush()
			case <-r.Context().Done():
				return
			case <-s.ctx.Done():
				return
			}
		}
		// Coalesce bursts: a stage may report every frame.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
}

// doneJob returns the session's job from the path if it finished
// successfully, or answers why not.
func (s *Server) doneJob(w http.ResponseWriter, r *http.Request, se *session) (*jobState, *job.Summary) {
	j := s.lookupJob(w, r, se)
	if j == nil {
		return nil, nil
	}
	j.mu.Lock()
	state, sum := j.state, j.summary
	j.mu.Unlock()
	if state != stateDone {
		writeError(w, http.StatusNotFound, "job %s is %s: it has no results", j.id, state)
		return nil, nil
	}
	return j, sum
}

// jobFile serves one of a finished job's files by its fixed name; the
// name from the URL only selects from this list, it is never a path.
func (s *Server) jobFile(w http.ResponseWriter, r *http.Request, se *session) {
	files := map[string]string{"result.mp4": "video/mp4", "summary.json": "application/json", "scene.glb": "model/gltf-binary"}
	name := r.PathValue("name")
	ctype, ok := files[name]
	if !ok {
		writeError(w, http.StatusNotFound, "no file %q: a job has result.mp4, summary.json and (when exported) scene.glb", name)
		return
	}
	j, _ := s.doneJob(w, r, se)
	if j == nil {
		return
	}
	serveFile(w, r, filepath.Join(j.dir, name), name, ctype)
}

func serveFile(w http.ResponseWriter, r *http.Request, path, name, ctype string) {
	f, err := os.Open(path)
	if err != nil {
		writeError(w, http.StatusNotFound, "%s is gone (the job was replaced by newer ones)", name)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, "%s is not available", name)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.URL.Query().Has("download") {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	}
	http.ServeContent(w, r, name, st.ModTime(), f) // ranges, for seeking in <video>
}

// maxTopViewPoints thins each person's path in the top view: enough for
// a drawing a few hundred pixels wide, and a bounded answer for any clip.
const maxTopViewPoints = 2000

// topView answers a finished world-frame job's top view (job.TopView).
func (s *Server) topView(w http.ResponseWriter, r *http.Request, se *session) {
	j, sum := s.doneJob(w, r, se)
	if j == nil {
		return
	}
	v, err := job.ReadTopView(j.dir, sum.People, maxTopViewPoints)
	switch {
	case err != nil:
		s.logf("job %s: top view: %v", j.id, err) // paths stay in the log
		writeError(w, http.StatusInternalServerError, "job %s: its world frame could not be read", j.id)
	case v == nil:
		writeError(w, http.StatusNotFound, "job %s has no world frame (run it with world: true on a static camera; see its notes)", j.id)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// personFile serves one person's params.json or a zip of their folder.
// The person must be in the job's summary; the folder is the job's
// people/<id> and the zip holds its regular files by their own names.
func (s *Server) personFile(w http.ResponseWriter, r *http.Request, se *session) {
	name := r.PathValue("name")
	if name != "params.json" && name != "meshes.zip" && name != "motion.glb" && name != "motion.bvh" {
		writeError(w, http.StatusNotFound, "no file %q: a person has params.json, meshes.zip and (when exported) motion.glb and motion.bvh", name)
		return
	}
	pid, err := strconv.Atoi(r.PathValue("person"))
	if err != nil {
		writeError(w, http.StatusNotFound, "person %q is not a number", r.PathValue("person"))
		return
	}
	j, sum := s.doneJob(w, r, se)
	if j == nil {
		return
	}
	if !slices.ContainsFunc(sum.People, func(p job.PersonOutput) bool { return int(p.ID) == pid }) {
		writeError(w, http.StatusNotFound, "job %s has no output for person %d", j.id, pid)
		return
	}
	dir := filepath.Join(j.dir, "people", strconv.Itoa(pid))
	if ctype, ok := map[string]string{"params.json": "application/json", "motion.glb": "model/gltf-binary", "motion.bvh": "text/plain"}[name]; ok {
		serveFile(w, r, filepath.Join(dir, name), fmt.Sprintf("person%d_%s", pid, name), ctype)
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		writeError(w, http.StatusNotFound, "person %d's outputs are gone", pid)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"person%d.zip\"", pid))
	zw := zip.NewWriter(w)
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := addToZip(zw, filepath.Join(dir, e.Name()), fmt.Sprintf("person%d/%s", pid, e.Name())); err != nil {
			s.logf("zip of person %d: %v", pid, err)
			return // the client sees a truncated zip, which fails its check
		}
	}
	zw.Close()
}

func addToZip(zw *zip.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dst, err := zw.Create(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, f)
	return err
}
