package serve

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// session is one browser's (or one script's) state. Its fields are
// guarded by mu; a job reads only the copy of the clicks and video path
// it was given when submitted, so later edits never reach a running job.
type session struct {
	id  string
	dir string

	mu        sync.Mutex
	last      time.Time
	video     *sessionVideo
	clicks    []scene.Click
	boxes     []scene.Box // people found with "Find people", each prompted by its box
	detecting bool        // a detection of this session is running
	jobs      []*jobState // oldest first; at most one is queued or running
	dropped   bool        // removed from the server; its folder is gone
	preview   bool        // a mask preview of this session runs or waits
	uploading bool        // an upload of this session is received or decoded
	encodes   int         // frame requests of this session encoding or waiting to
}

// sessionVideo is the video a session works on: the file the jobs read
// and the frame store the UI scrubs.
type sessionVideo struct {
	id     string // generated; names the files and versions frame URLs
	name   string // the client's file name, for display only
	path   string // the video file (generated name, or the sample clip)
	sample bool
	frames *sharedVideo
}

// sharedVideo is a frame store that handlers may read while the session
// swaps in another video: readers hold use for reading, and close waits
// for them before closing the store.
type sharedVideo struct {
	use    sync.RWMutex
	store  *video.Store
	closed bool
	owned  string // folder removed on close; "" for the shared sample
}

// frame reads frame i, or reports that the store was closed meanwhile.
func (v *sharedVideo) frame(i int) (*scene.RGB, error) {
	v.use.RLock()
	defer v.use.RUnlock()
	if v.closed {
		return nil, errVideoReplaced
	}
	return v.store.Frame(i)
}

func (v *sharedVideo) close() {
	v.use.Lock()
	defer v.use.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	v.store.Close()
	if v.owned != "" {
		os.RemoveAll(v.owned)
	}
}

var errVideoReplaced = errors.New("the video was replaced while this frame was read")

// newID returns a random hex id of n bytes.
func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

// activeJob returns the session's queued or running job, if any.
// The caller holds mu.
func (se *session) activeJob() *jobState {
	for _, j := range se.jobs {
		if !j.terminal() {
			return j
		}
	}
	return nil
}

// findJob returns the session's job with the given id; nil if it has
// none (another session's job ids are never found).
func (se *session) findJob(id string) *jobState {
	se.mu.Lock()
	defer se.mu.Unlock()
	for _, j := range se.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// addJob appends j and deletes the oldest finished jobs beyond keptJobs.
// The caller holds mu.
func (se *session) addJob(j *jobState) {
	se.jobs = append(se.jobs, j)
	for len(se.jobs) > keptJobs {
		old := se.jobs[0]
		if !old.terminal() {
			break
		}
		os.RemoveAll(old.dir)
		se.jobs = slices.Delete(se.jobs, 0, 1)
	}
}

// retire marks an idle session dropped, so that no request still in
// flight can start a job in it; false if it has an active job. The
// caller holds mu.
func (se *session) retire() bool {
	if se.activeJob() != nil {
		return false
	}
	se.dropped = true
	return true
}

// hasResults reports whether a job of the session finished with
// outputs. The caller holds mu.
func (se *session) hasResults() bool {
	for _, j := range se.jobs {
		if j.status() == stateDone {
			return true
		}
	}
	return false
}

// release frees what the session holds; its jobs, if any, must be over
// (Close) or it must be retired.
func (se *session) release() {
	se.mu.Lock()
	se.dropped = true
	v := se.video
	se.video = nil
	se.mu.Unlock()
	if v != nil && !v.sample {
		v.frames.close()
	}
	os.RemoveAll(se.dir)
}

// session returns the request's session from its cookie, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	se := s.sessions[c.Value]
	s.mu.Unlock()
	if se != nil {
		se.mu.Lock()
		se.last = time.Now()
		se.mu.Unlock()
	}
	return se
}

// newSession makes a session and sets its cookie on w. When the server
// holds MaxSessions already, the least recently used one without an
// active job or finished results is dropped; if there is none, it fails
// (results are only ever removed by idle expiry or by their owner).
func (s *Server) newSession(w http.ResponseWriter) (*session, error) {
	id := newID(sessionIDBytes)
	se := &session{id: id, dir: filepath.Join(s.root, id), last: time.Now()}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errStopping
	}
	if err := os.Mkdir(se.dir, 0o755); err != nil {
		return nil, fmt.Errorf("making the session's folder: %w", err)
	}
	var drop *session
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		os.RemoveAll(se.dir)
		return nil, errStopping
	}
	if len(s.sessions) >= s.opt.MaxSessions {
		// The least recently used idle session goes.
		type use struct {
			se   *session
			last time.Time
		}
		var byUse []use
		for _, o := range s.sessions {
			o.mu.Lock()
			byUse = append(byUse, use{o, o.last})
			o.mu.Unlock()
		}
		slices.SortFunc(byUse, func(a, b use) int { return a.last.Compare(b.last) })
		for _, u := range byUse {
			u.se.mu.Lock()
			ok := !u.se.hasResults() && u.se.retire()
			u.se.mu.Unlock()
			if ok {
				drop = u.se
				break
			}
		}
		if drop == nil {
			s.mu.Unlock()
			os.RemoveAll(se.dir)
			return nil, errBusy
		}
		delete(s.sessions, drop.id)
	}
	s.sessions[id] = se
	s.mu.Unlock()
	if drop != nil {
		s.logf("session %s… dropped (session limit %d)", drop.id[:6], s.opt.MaxSessions)
		drop.release()
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		// Strict: another site cannot make the browser act in this
		// session (the API changes state on POST/PUT).
		SameSite: http.SameSiteStrictMode,
	})
	return se, nil
}

var errStopping = errors.New("server is stopping")

var errBusy = errors.New("server full: every session has a job or results (max_sessions); try again later")

// dropIdle removes sessions not used since before and without an active
// job.
func (s *Server) dropIdle(before time.Time) {
	var drop []*session
	s.mu.Lock()
	for id, se := range s.sessions {
		se.mu.Lock()
		if se.last.Before(before) && se.retire() {
			drop = append(drop, se)
			delete(s.sessions, id)
		}
		se.mu.Unlock()
	}
	s.mu.Unlock()
	for _, se := range drop {
		se.release()
	}
}
