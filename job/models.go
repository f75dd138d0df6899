package job

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/models"
)

// Models is a model directory opened on a device. Its engines load on
// first use and stay loaded until Close, so that many jobs run on one
// Models load each engine once: body4d batch keeps one per shard. Run
// opens one per job.
//
// Jobs may share a Models one after another; concurrent jobs should
// each have their own (as Run does).
type Models struct {
	path string // the model directory
	tiny bool   // the built-in tiny models
	dir  *models.Dir
	dev  *device

	mu      sync.Mutex
	engines map[engineKey]engine.Engine
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
	m := &Models{path: path, engines: map[engineKey]engine.Engine{}}
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
	return m, nil
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
	return append(n, m.dev.notes...)
}

// loader is the device's loader for a stage with each engine kept: a
// stage's Close leaves it loaded for the next job, and Models.Close
// closes it.
func (m *Models) loader(stage string) func(string) (engine.Engine, error) {
	load := m.dev.loader(stage)
	return func(path string) (engine.Engine, error) {
		k := engineKey{stage, filepath.Clean(path)}
		m.mu.Lock()
		defer m.mu.Unlock()
		if e, ok := m.engines[k]; ok {
			return kept{e}, nil
		}
		e, err := load(path)
		if err != nil {
			return nil, err
		}
		m.engines[k] = e
		return kept{e}, nil
	}
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
	for k, e := range m.engines {
		errs = append(errs, e.Close())
		delete(m.engines, k)
	}
	return errors.Join(append(errs, m.dev.close())...)
}

// kept is a shared engine whose Close is the owner's, not the stage's.
type kept struct{ engine.Engine }

func (kept) Close() error { return nil }
