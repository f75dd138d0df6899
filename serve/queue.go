package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/world"
)

// Job states.
const (
	stateQueued    = "queued"
	stateRunning   = "running"
	stateDone      = "done"
	stateFailed    = "failed"
	stateCancelled = "cancelled"
)

// jobState is one submitted job. Its mutable fields are guarded by mu;
// every change closes and replaces changed, which is how event streams
// wait for news without polling.
type jobState struct {
	id     string
	dir    string // the job's output folder: spec.Out
	spec   job.Spec
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	state    string
	stages   []stageProgress // in the order the stages first reported
	err      string
	summary  *job.Summary
	created  time.Time
	started  time.Time
	finished time.Time
	changed  chan struct{}
}

type stageProgress struct {
	Stage string `json:"stage"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

func newJob(parent context.Context, id, dir string, spec job.Spec) *jobState {
	ctx, cancel := context.WithCancel(parent)
	return &jobState{id: id, dir: dir, spec: spec, ctx: ctx, cancel: cancel,
		state: stateQueued, created: time.Now(), changed: make(chan struct{})}
}

// notify wakes everyone waiting on the current changed channel. The
// caller holds mu.
func (j *jobState) notify() {
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *jobState) terminal() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return isTerminal(j.state)
}

func isTerminal(state string) bool {
	return state == stateDone || state == stateFailed || state == stateCancelled
}

// progress records a pipeline event; it may be called from any goroutine.
func (j *jobState) progress(ev body4d.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if isTerminal(j.state) {
		return
	}
	i := slices.IndexFunc(j.stages, func(p stageProgress) bool { return p.Stage == ev.Stage })
	if i < 0 {
		j.stages = append(j.stages, stageProgress{Stage: ev.Stage})
		i = len(j.stages) - 1
	}
	j.stages[i].Done, j.stages[i].Total = ev.Done, ev.Total
	j.notify()
}

// start moves a queued job to running; false if it was cancelled first.
func (j *jobState) start() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != stateQueued {
		return false
	}
	j.state, j.started = stateRunning, time.Now()
	j.notify()
	return true
}

// finish records the end of a job once; later calls do nothing.
func (j *jobState) finish(state, msg string, sum *job.Summary) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if isTerminal(j.state) {
		return
	}
	j.state, j.err, j.summary, j.finished = state, msg, sum, time.Now()
	j.cancel() // release the context's resources
	j.notify()
}

// queue is a bounded FIFO of jobs waiting for a worker. A slice rather
// than a channel, so that a queued job can be withdrawn and its position
// reported.
type queue struct {
	mu      sync.Mutex
	ready   *sync.Cond
	waiting []*jobState
	limit   int
	closed  bool
}

func newQueue(limit int) *queue {
	q := &queue{limit: limit}
	q.ready = sync.NewCond(&q.mu)
	return q
}

var errQueueFull = errors.New("the job queue is full")

func (q *queue) push(j *jobState) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errors.New("server is stopping")
	}
	if len(q.waiting) >= q.limit {
		return fmt.Errorf("%w (%d jobs waiting); try again later", errQueueFull, len(q.waiting))
	}
	q.waiting = append(q.waiting, j)
	q.ready.Signal()
	return nil
}

// pop waits for a job; nil once the queue is closed.
func (q *queue) pop() *jobState {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.waiting) == 0 && !q.closed {
		q.ready.Wait()
	}
	if q.closed {
		return nil
	}
	j := q.waiting[0]
	q.waiting = slices.Delete(q.waiting, 0, 1)
	return j
}

// remove withdraws a waiting job; false if a worker has it already.
func (q *queue) remove(j *jobState) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.waiting, j)
	if i < 0 {
		return false
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	return true
}

// position is the number of jobs ahead of j; -1 when j is not waiting.
func (q *queue) position(j *jobState) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Index(q.waiting, j)
}

// close wakes the workers to stop and returns the jobs still waiting.
func (q *queue) close() []*jobState {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	left := q.waiting
	q.waiting = nil
	q.ready.Broadcast()
	return left
}

func (s *Server) worker() {
	for {
		j := s.queue.pop()
		if j == nil {
			return
		}
		s.runJob(j)
	}
}

// runJob runs one job. Whatever ends it other than success (cancel,
// error, panic, server stop) deletes its output folder, so no partial
// output is ever served or left behind.
func (s *Server) runJob(j *jobState) {
	if !j.start() {
		return
	}
	t0 := time.Now()
	sum, err := s.safeRun(j)
	if errors.Is(err, world.ErrMoving) && sum != nil && sum.Output != "" {
		// A moving camera refuses only the world frame: the camera-frame
		// results are whole, and the summary's notes say why.
		err = nil
	}
	if err == nil {
		// The frame store that job.Run keeps for resuming is not an
		// output; a session's next run gets a fresh folder anyway.
		os.RemoveAll(filepath.Join(j.dir, "work"))
		j.finish(stateDone, "", sum)
		s.logf("job %s done in %v", j.id, time.Since(t0).Round(time.Millisecond))
		return
	}
	if rmErr := os.RemoveAll(j.dir); rmErr != nil {
		s.logf("job %s: removing partial outputs: %v", j.id, rmErr)
	}
	// After a cancel, whatever error the stage that noticed it returned
	// is the cancel's doing.
	if j.ctx.Err() != nil {
		msg := "cancelled"
		if s.ctx.Err() != nil {
			msg = "server stopped"
		}
		j.finish(stateCancelled, msg, nil)
		s.logf("job %s cancelled after %v", j.id, time.Since(t0).Round(time.Millisecond))
		return
	}
	j.finish(stateFailed, err.Error(), nil)
	s.logf("job %s failed: %v", j.id, err)
}

// safeRun calls the RunFunc, turning a panic into an error so that one
// bad job cannot take the server down.
func (s *Server) safeRun(j *jobState) (sum *job.Summary, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return nil, err
	}
	return s.opt.Run(j.ctx, j.spec, j.progress)
}
