// Package ort runs engines with ONNX Runtime through
// github.com/yalue/onnxruntime_go. The ONNX Runtime shared library is loaded
// at run time (see FindLibrary), so programs build without it and fail
// with a clear error when it is missing.
package ort

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/body4d/body4d/engine"
)

// Provider selects the ONNX Runtime execution provider.
type Provider int

// The execution providers. CUDA and TensorRT need an ONNX Runtime build
// that includes them (the CPU build that scripts/setup.sh installs does
// not); TensorRT falls back to CUDA for the nodes it cannot run.
const (
	CPU Provider = iota
	CUDA
	TensorRT
)

func (p Provider) String() string {
	switch p {
	case CPU:
		return "CPU"
	case CUDA:
		return "CUDA"
	case TensorRT:
		return "TensorRT"
	}
	return "Provider(" + strconv.Itoa(int(p)) + ")"
}

// Options configure a Runtime. The zero value runs on the CPU with ONNX
// Runtime's default threading and the library FindLibrary finds.
type Options struct {
	Library        string   // path of the shared library; "" means FindLibrary
	Provider       Provider // execution provider
	DeviceID       int      // GPU for CUDA and TensorRT
	IntraOpThreads int      // threads per operator; 0 means ONNX Runtime's default
}

// env is onnxruntime_go's process-wide state: the library it dlopens and
// the one ONNX Runtime environment can exist once per process, however
// many Runtimes there are. Every open Runtime and Engine holds a
// reference; the last one released destroys the environment. This is the
// package's only mutable state; it mirrors state that exists once in the
// C library anyway.
var env struct {
	sync.Mutex
	refs int
	lib  string // canonical path of the loaded library
}

// acquire loads lib and creates the environment on first use; later
// callers must name the same library.
func acquire(lib string) error {
	env.Lock()
	defer env.Unlock()
	if env.refs > 0 {
		if lib != env.lib {
			return fmt.Errorf("ort: ONNX Runtime %s is already loaded in this process; cannot also load %s (one library per process)", env.lib, lib)
		}
		env.refs++
		return nil
	}
	if onnx.IsInitialized() {
		return errors.New("ort: the ONNX Runtime environment was initialized outside package ort")
	}
	onnx.SetSharedLibraryPath(lib)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		return fmt.Errorf("ort: cannot load ONNX Runtime from %s (is it a libonnxruntime built for this system, version 1.24 or later?): %w", lib, err)
	}
	env.refs, env.lib = 1, lib
	return nil
}

// retain adds a reference to the environment an open Runtime holds.
func retain() {
	env.Lock()
	env.refs++
	env.Unlock()
}

func release() error {
	env.Lock()
	defer env.Unlock()
	env.refs--
	if env.refs > 0 {
		return nil
	}
	env.lib = ""
	if err := onnx.DestroyEnvironment(); err != nil {
		return fmt.Errorf("ort: releasing ONNX Runtime: %w", err)
	}
	return nil
}

// A Runtime is an engine.Backend that loads ONNX models.
type Runtime struct {
	opts Options
	lib  string

	mu     sync.Mutex
	closed bool
}

var _ engine.Backend = (*Runtime)(nil)

// Open loads the ONNX Runtime library and checks that it has the requested
// execution provider. Close the Runtime when done; its engines stay usable
// until they are closed too.
func Open(opts Options) (*Runtime, error) {
	switch {
	case opts.Provider < CPU || opts.Provider > TensorRT:
		return nil, fmt.Errorf("ort: unknown execution provider %v", opts.Provider)
	case opts.DeviceID < 0:
		return nil, fmt.Errorf("ort: device ID %d is negative", opts.DeviceID)
	case opts.IntraOpThreads < 0:
		return nil, fmt.Errorf("ort: IntraOpThreads %d is negative", opts.IntraOpThreads)
	}
	lib := opts.Library
	if lib == "" {
		var err error
		if lib, err = FindLibrary(); err != nil {
			return nil, err
		}
	} else if err := isFile(lib); err != nil {
		return nil, fmt.Errorf("ort: ONNX Runtime library %s: %w", lib, err)
	}
	lib, err := canonical(lib)
	if err != nil {
		return nil, fmt.Errorf("ort: ONNX Runtime library %s: %w", opts.Library, err)
	}
	if err := acquire(lib); err != nil {
		return nil, err
	}
	r := &Runtime{opts: opts, lib: lib}
	// Appending the provider is where a library without it fails; do it
	// now so a missing CUDA is reported by Open, not by every Load.
	so, err := r.sessionOptions()
	if err != nil {
		release()
		return nil, err
	}
	so.Destroy()
	return r, nil
}

func canonical(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Name returns "onnx", the backend name model manifests use.
func (r *Runtime) Name() string { return "onnx" }

// Library returns the path of the loaded ONNX Runtime library.
func (r *Runtime) Library() string { return r.lib }

// Version returns the version of the loaded ONNX Runtime library.
func (r *Runtime) Version() string { return onnx.GetVersion() }

// Close releases the Runtime. Engines it loaded keep the library loaded
// until they are closed.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return release()
}

// sessionOptions returns options for a new session: threads and the
// execution provider. The caller destroys them.
func (r *Runtime) sessionOptions() (*onnx.SessionOptions, error) {
	so, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: creating session options: %w", err)
	}
	if err := r.configure(so); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

func (r *Runtime) configure(so *onnx.SessionOptions) error {
	if n := r.opts.IntraOpThreads; n > 0 {
		if err := so.SetIntraOpNumThreads(n); err != nil {
			return fmt.Errorf("ort: setting %d intra-op threads: %w", n, err)
		}
	}
	device := map[string]string{"device_id": strconv.Itoa(r.opts.DeviceID)}
	if r.opts.Provider == TensorRT {
		trt, err := onnx.NewTensorRTProviderOptions()
		if err != nil {
			return r.noProvider(err)
		}
		defer trt.Destroy()
		if err := trt.Update(device); err != nil {
			return r.noProvider(err)
		}
		if err := so.AppendExecutionProviderTensorRT(trt); err != nil {
			return r.noProvider(err)
		}
	}
	if r.opts.Provider == CUDA || r.opts.Provider == TensorRT {
		cuda, err := onnx.NewCUDAProviderOptions()
		if err != nil {
			return r.noProvider(err)
		}
		defer cuda.Destroy()
		if err := cuda.Update(device); err != nil {
			return r.noProvider(err)
		}
		if err := so.AppendExecutionProviderCUDA(cuda); err != nil {
			return r.noProvider(err)
		}
	}
	return nil
}

func (r *Runtime) noProvider(err error) error {
	return fmt.Errorf("ort: ONNX Runtime %s (%s) cannot use the %v execution provider on device %d (a CPU-only build, or missing GPU libraries?): %w",
		onnx.GetVersion(), r.lib, r.opts.Provider, r.opts.DeviceID, err)
}
