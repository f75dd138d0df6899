package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/internal/proc"
	"github.com/body4d/body4d/models"
)

// Models is a model directory opened on a device. Its engines load on
// first use and stay loaded until Close, so that many jobs run on one
// Models load each engine once: body4d batch keeps one per shard. Run
// opens one per job. On the CPU, when the model files take more than
// half of the machine's memory, only the running stage's engines stay
// loaded (stageResidency).
//
// Jobs may share a Models one after another; concurrent jobs should
// each have their own (as Run does).
type Models struct {
	path string // the model directory
	tiny bool   // the built-in tiny models
	dir  *models.Dir
	dev  *device

	mu      sync.Mutex
	engines map[engineKey]*resident
	// perStage: the engines do not all fit in memory at once, so each
	// stage's are loaded while it runs and released when another starts
	// (see stageResidency).
	perStage  bool
	residency string // the note that says so; "" when all stay loaded
}

type engineKey struct{ stage, path string }

// OpenModels checks a model directory ("" is the built-in tiny models)
// and opens the device that runs it: "cpu" (or ""), "cuda" or
// "tensorrt", as Spec.Device. A directory or device that cannot run
// fails here, before any video is decoded.
func OpenModels(dir, device string) (*Models, error) {
	return openModels(dir, device, defaultOpeners())
}

func openModels(path, device string, op openers) (*Models, error) {
	m := &Models{path: path, engines: map[engineKey]*resident{}}
	if path == "" {
		sample, err := SampleDir()
		if err != nil {
			return nil, err
		}
		m.path, m.tiny = filepath.Join(sample, "models", "tiny"), true
	}
	var err error
	if m.dir, err = models.Open(m.path); err != nil {
		return nil, err
	}
	if errs := m.dir.Verify(); len(errs) > 0 {
		return nil, fmt.Errorf("model directory %s: %w", m.path, errors.Join(errs...))
	}
	if m.dev, err = openDevice(device, m.dir, op); err != nil {
		return nil, err
	}
	if m.dev.name == "cpu" {
		m.perStage, m.residency = stageResidency(m.dir, proc.MemTotal())
	}
	return m, nil
}

// stageResidency decides whether a CPU run keeps every engine loaded
// (fast: a batch loads each once) or only the running stage's: at real
// size the engines' weights alone (25 GB in float32) exceed a 24 GB
// machine, and ONNX Runtime holds them in anonymous memory, so a run
// that kept them all was killed by the kernel (README, Real-size dry
// run). The rule: per stage when the model files take more than half of
// the machine's memory, which leaves room for one stage's activations.
func stageResidency(dir *models.Dir, memTotal uint64) (bool, string) {
	total := modelBytes(dir)
	if memTotal == 0 || total <= memTotal/2 {
		return false, ""
	}
	return true, fmt.Sprintf("models: the model files (%s) take over half of this machine's memory (%s): "+
		"each stage's engines are loaded while it runs and released when the next starts",
		gpu.FormatBytes(total), gpu.FormatBytes(memTotal))
}

// Dir is the model directory (for the built-in tiny models, where they
// were unpacked).
func (m *Models) Dir() string { return m.path }

// notes are the lines every job on these models says.
func (m *Models) notes() []string {
	var n []string
	if m.tiny {
		n = append(n, TinyModelsNote)
	}
	if m.residency != "" {
		n = append(n, m.residency)
	}
	return append(n, m.dev.notes...)
}

// modelBytes is the size of every file the manifest lists (engines, their
// external data, other files); Verify has checked that they exist.
func modelBytes(dir *models.Dir) uint64 {
	var total uint64
	for _, e := range append(append([]models.Entry(nil), dir.Manifest.Engines...), dir.Manifest.Files...) {
		if fi, err := os.Stat(filepath.Join(dir.Path, filepath.FromSlash(e.File))); err == nil {
			total += uint64(fi.Size())
		}
	}
	return total
}

// loader is the device's loader for a stage with each engine kept: a
// stage's Close leaves it loaded for the next job, and Models.Close
// closes it. With perStage a stage opening an engine only reads its Info
// (from the file, where the backend can; else the engine is loaded and
// closed again), and the engine loads on its first Run.
func (m *Models) loader(stage string) func(string) (engine.Engine, error) {
	load := m.dev.loader(stage)
	return func(path string) (engine.Engine, error) {
		k := engineKey{stage, filepath.Clean(path)}
		m.mu.Lock()
		defer m.mu.Unlock()
		if r, ok := m.engines[k]; ok {
			return r, nil
		}
		r := &resident{open: func() (engine.Engine, error) { return load(path) }}
		if m.perStage {
			info, ok, err := m.dev.info(path)
			if err != nil {
				return nil, err
			}
			if ok {
				r.info = info
				m.engines[k] = r
				return r, nil
			}
		}
		if err := r.load(); err != nil {
			return nil, err
		}
		r.info = r.e.Info()
		m.engines[k] = r
		if m.perStage {
			if err := r.release(); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
}

// engineStage is the model-directory stage whose engines a pipeline
// stage runs: the camera stage runs fov's, the others their own.
func engineStage(pipelineStage string) string {
	if pipelineStage == "camera" {
		return "fov"
	}
	return pipelineStage
}

// startStage is called as a pipeline stage starts: with perStage it
// releases the engines of every other stage.
func (m *Models) startStage(pipelineStage string) error {
	if !m.perStage {
		return nil
	}
	own := engineStage(pipelineStage)
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for k, r := range m.engines {
		if k.stage != own {
			errs = append(errs, r.release())
		}
	}
	return errors.Join(errs...)
}

// Loaded is the number of engines loaded so far.
func (m *Models) Loaded() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.engines)
}

// Close closes every loaded engine and the device.
func (m *Models) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for k, r := range m.engines {
		errs = append(errs, r.release())
		delete(m.engines, k)
	}
	return errors.Join(append(errs, m.dev.close())...)
}

// A resident is a Models engine shared by the stages that load it: its
// Close is the owner's (Models.Close), not the stage's, and Models may
// release it between stages; Run reopens a released engine.
type resident struct {
	mu    sync.RWMutex // Run holds it shared; load and release exclusively
	open  func() (engine.Engine, error)
	e     engine.Engine // nil while released
	info  engine.Info
	loads int // times opened (tests)
}

func (r *resident) Info() engine.Info { return r.info }

func (r *resident) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	for {
		r.mu.RLock()
		if e := r.e; e != nil {
			defer r.mu.RUnlock()
			return e.Run(ctx, in)
		}
		r.mu.RUnlock()
		r.mu.Lock()
		err := r.load()
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// load opens the engine unless it is open; the caller holds mu
// exclusively (or has the only reference).
func (r *resident) load() error {
	if r.e != nil {
		return nil
	}
	e, err := r.open()
	if err != nil {
		return err
	}
	r.e = e
	r.loads++
	return nil
}

// Close does nothing: the engine belongs to Models.
func (r *resident) Close() error { return nil }

func (r *resident) release() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.e == nil {
		return nil
	}
	err := r.e.Close()
	r.e = nil
	return err
}
