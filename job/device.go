package job

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/trt"
)

// planBackend is what a job needs of the TensorRT backend (package trt);
// tests put a fake device behind it.
type planBackend interface {
	engine.Backend
	// Stage returns the backend for one stage's engines (its own stream).
	Stage(name string) (engine.Backend, error)
	// Target is this machine's GPU and TensorRT version.
	Target() models.Target
	Close() error
}

// runtime is an engine backend that is closed after use: ONNX Runtime.
type runtime interface {
	engine.Backend
	Close() error
}

// openers open what a device needs; tests replace them.
type openers struct {
	ort     func(ort.Provider) (runtime, error)
	trt     func() (planBackend, error)
	kernels func(*gpu.Pool) (kernels.Kernels, string)
}

func defaultOpeners() openers {
	return openers{
		ort: func(p ort.Provider) (runtime, error) {
			lib, err := ort.FindLibrary()
			if err != nil {
				return nil, err
			}
			rt, err := ort.Open(ort.Options{Library: lib, Provider: p})
			if err != nil {
				return nil, err
			}
			return rt, nil
		},
		trt: func() (planBackend, error) {
			b, err := trt.Open(trt.Options{})
			if err != nil {
				return nil, err
			}
			return b, nil
		},
		kernels: kernels.Default,
	}
}

// pool returns the GPU pool the TensorRT engines allocate from, which
// batch sizes follow; nil without one.
func (d *device) pool() *gpu.Pool {
	if p, ok := d.plans.(interface{ Pool() *gpu.Pool }); ok {
		return p.Pool()
	}
	return nil
}

// device is where a job's engines and kernels run: the backends by
// manifest backend name, chosen per entry.
type device struct {
	name    string                  // cpu, cuda or tensorrt
	onnx    runtime                 // ONNX Runtime, for backend onnx entries
	plans   planBackend             // TensorRT, for backend trt entries (--device tensorrt)
	kernels kernels.Kernels         // GPU kernels for render, MHR and crops; nil: Go paths
	notes   []string                // said once in the summary
	entries map[string]models.Entry // engine path → manifest entry
}

// openDevice opens the backends that a model directory needs on the named
// device. It fails at once, in one line, when the device cannot run the
// directory: a plan with --device cpu or cuda, no GPU, driver or
// TensorRT for --device cuda or tensorrt, or plans built for another GPU
// or TensorRT version. It never falls back silently.
func openDevice(name string, dir *models.Dir, op openers) (d *device, err error) {
	d = &device{name: name, entries: map[string]models.Entry{}}
	defer func() {
		if err != nil {
			d.close()
			d = nil
		}
	}()
	var plans, onnx []string
	for _, e := range dir.Manifest.Engines {
		p, _ := dir.EnginePath(e.Stage, e.Name)
		d.entries[filepath.Clean(p)] = e
		if e.Backend == "trt" {
			plans = append(plans, e.Key())
		} else {
			onnx = append(onnx, e.Key())
		}
	}
	var prov ort.Provider
	switch name {
	case "", "cpu":
		d.name = "cpu"
		if len(plans) > 0 {
			return d, fmt.Errorf("engines %s are TensorRT plans (backend trt): run them with --device tensorrt", strings.Join(plans, ", "))
		}
		prov = ort.CPU
	case "cuda":
		if len(plans) > 0 {
			return d, fmt.Errorf("engines %s are TensorRT plans (backend trt): run them with --device tensorrt", strings.Join(plans, ", "))
		}
		if _, err := gpu.Devices(); err != nil {
			return d, fmt.Errorf("--device cuda: %w", err)
		}
		prov = ort.CUDA
	case "tensorrt":
		if d.plans, err = op.trt(); err != nil {
			return d, fmt.Errorf("--device tensorrt: %w", err)
		}
		if len(plans) == 0 {
			return d, errors.New("--device tensorrt runs TensorRT plans, and this model directory has none: convert it with body4d engines build")
		}
		here := d.plans.Target()
		for _, k := range plans {
			if err := trt.CheckTarget(k, *dir.Manifest.Built, here); err != nil {
				return d, err
			}
		}
		prov = ort.CPU
		if len(onnx) > 0 {
			d.notes = append(d.notes, fmt.Sprintf("engines %s are ONNX files: they run on ONNX Runtime on the CPU", strings.Join(onnx, ", ")))
		}
	default:
		return d, fmt.Errorf("job: unknown device %q (want cpu, cuda or tensorrt)", name)
	}
	if len(onnx) > 0 || d.plans == nil {
		if d.onnx, err = op.ort(prov); err != nil {
			return d, err
		}
	}
	if d.name != "cpu" {
		var why string
		if d.kernels, why = op.kernels(d.pool()); why != "" {
			d.notes = append(d.notes, why)
		}
	}
	return d, nil
}

// loader returns the function a stage loads its engines with: each path
// goes to the backend its manifest entry names, on the stage's stream.
func (d *device) loader(stage string) func(path string) (engine.Engine, error) {
	return func(path string) (engine.Engine, error) {
		e, ok := d.entries[filepath.Clean(path)]
		if !ok {
			return nil, fmt.Errorf("job: %s is not an engine of the model directory", path)
		}
		switch e.Backend {
		case "trt":
			if d.plans == nil {
				return nil, fmt.Errorf("%s is a TensorRT plan: run it with --device tensorrt", e.Key())
			}
			b, err := d.plans.Stage(stage)
			if err != nil {
				return nil, err
			}
			return b.Load(path)
		default:
			if d.onnx == nil {
				return nil, fmt.Errorf("%s: no ONNX Runtime open", e.Key())
			}
			return d.onnx.Load(path)
		}
	}
}

// info reads an engine's inputs and outputs without loading it where its
// backend can (ONNX Runtime reads them from the file); ok is false where
// it cannot.
func (d *device) info(path string) (info engine.Info, ok bool, err error) {
	e, found := d.entries[filepath.Clean(path)]
	r, can := d.onnx.(interface {
		Info(string) (engine.Info, error)
	})
	if !found || e.Backend == "trt" || !can {
		return engine.Info{}, false, nil
	}
	info, err = r.Info(path)
	return info, true, err
}

// backends returns the backends by manifest name, for Dir.Check.
func (d *device) backends() map[string]engine.Backend {
	m := map[string]engine.Backend{}
	if d.onnx != nil {
		m["onnx"] = d.onnx
	}
	if d.plans != nil {
		m["trt"] = d.plans
	}
	return m
}

// used lists the backends in use, for messages.
func (d *device) used() []string {
	var out []string
	for name := range d.backends() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (d *device) close() error {
	var errs []error
	if c, ok := d.kernels.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
	}
	if d.onnx != nil {
		errs = append(errs, d.onnx.Close())
	}
	if d.plans != nil {
		errs = append(errs, d.plans.Close())
	}
	return errors.Join(errs...)
}
