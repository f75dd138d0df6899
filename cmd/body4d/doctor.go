package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/trt"
)

// cmdDoctor checks a model directory and the machine: manifest, checksums,
// the ONNX Runtime library, the GPU, what this build can do on it, every
// engine against its stage's contract (TensorRT plans against this GPU
// too), and ffmpeg. Each problem is one line; any problem makes the exit status 1.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: body4d doctor [DIR]\n\nChecks a model directory (default: the built-in tiny models).")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{fmt.Errorf("want at most one model directory, got %d arguments", len(pos))}
	}
	dir := ""
	if len(pos) == 1 {
		dir = pos[0]
	} else {
		sample, err := job.SampleDir()
		if err != nil {
			return err
		}
		dir = filepath.Join(sample, "models", "tiny")
	}
	problems := doctor(ctx, dir, stdout)
	if problems > 0 {
		return fmt.Errorf("%d problem(s) found", problems)
	}
	fmt.Fprintln(stdout, "all checks passed")
	return nil
}

// doctor prints one line per check and returns the number of problems.
func doctor(ctx context.Context, dir string, w io.Writer) int {
	problems := 0
	ok := func(format string, a ...any) { fmt.Fprintf(w, "ok    "+format+"\n", a...) }
	fail := func(err error) { problems++; fmt.Fprintf(w, "FAIL  %v\n", err) }

	if p, err := exec.LookPath(envOr("BODY4D_FFMPEG", "ffmpeg")); err != nil {
		fail(fmt.Errorf("ffmpeg not found (install it with scripts/setup.sh or set BODY4D_FFMPEG): %v", err))
	} else {
		ok("ffmpeg: %s", p)
	}

	switch devs, err := gpu.Devices(); {
	case errors.Is(err, gpu.ErrNoGPU):
		fmt.Fprintf(w, "info  %v; engines run on the CPU\n", err)
	case err != nil:
		fail(err)
	default:
		for _, d := range devs {
			ok("gpu %d: %s, %s free of %s", d.Index, d.Name, gpu.FormatBytes(d.FreeBytes), gpu.FormatBytes(d.Total))
		}
	}
	// What this binary can do on a GPU: the kernels (tag cuda) and the
	// TensorRT backend (tag tensorrt), each said with why not.
	if k, why := kernels.Default(nil); k != nil {
		ok("GPU kernels: %s", k.Name())
		if c, isCloser := k.(interface{ Close() error }); isCloser {
			c.Close()
		}
	} else {
		fmt.Fprintf(w, "info  %s\n", why)
	}

	d, err := models.Open(dir)
	if err != nil {
		fail(err)
		return problems
	}
	m := d.Manifest
	ok("manifest: %s (%q, %d engines, %d data files)", filepath.Join(dir, models.ManifestName), m.Name, len(m.Engines), len(m.Files))
	if errs := d.Verify(); len(errs) > 0 {
		for _, e := range errs {
			fail(e)
		}
	} else {
		ok("checksums of %d files", len(m.Engines)+len(m.Files))
	}

	backends := map[string]engine.Backend{}
	if plans := planEngines(m); len(plans) > 0 {
		// A directory of TensorRT plans: they load only here, on the
		// GPU and TensorRT version they were built for.
		switch b, err := trt.Open(trt.Options{}); {
		case err != nil:
			fail(fmt.Errorf("%d TensorRT plans (%s …) cannot be checked here: %w", len(plans), plans[0], err))
		default:
			defer b.Close()
			here, mismatch := b.Target(), false
			for _, k := range plans {
				if err := trt.CheckTarget(k, *m.Built, here); err != nil {
					fail(err)
					mismatch = true
				}
			}
			if !mismatch {
				ok("plans built for this GPU: %v", here)
				backends["trt"] = b
			}
		}
	}
	lib, err := ort.FindLibrary()
	if err != nil {
		fail(err)
	} else if rt, err := ort.Open(ort.Options{Library: lib}); err != nil {
		fail(err)
	} else {
		defer rt.Close()
		backends["onnx"] = rt
		ok("onnxruntime: %s", lib)
	}
	contracts := job.Contracts()
	errs := d.Check(ctx, backends, contracts)
	for _, e := range errs {
		fail(e)
	}
	if len(errs) == 0 {
		ok("every engine loads and matches its stage's contract")
	}
	for _, absent := range missingOptional(d.Manifest, contracts) {
		fmt.Fprintf(w, "info  no optional engines %s: %s is not available\n", strings.Join(absent.engines, ", "), absent.mode)
	}
	var m2 *engine.Mismatch
	for _, e := range errs {
		if errors.As(e, &m2) {
			fmt.Fprintf(w, "      (a contract mismatch means the file was exported for another stage or with other settings; re-export it with tools/export)\n")
			break
		}
	}
	return problems
}

// planEngines lists the manifest's TensorRT plans.
func planEngines(m *models.Manifest) []string {
	var out []string
	for _, e := range m.Engines {
		if e.Backend == "trt" {
			out = append(out, e.Key())
		}
	}
	return out
}

// optionalMode names what a stage's optional engines serve.
func optionalMode(stage string) string {
	switch stage {
	case "mesh":
		return "--mesh-mode full (hand refinement)"
	case "segment":
		return "--auto (finding people without clicks)"
	}
	return "a mode of stage " + stage
}

// absentMode is a mode the model directory cannot serve and the optional
// engines it lacks for it.
type absentMode struct {
	mode    string
	engines []string
}

// missingOptional lists the optional engines that the manifest lacks,
// by stage: not a problem, but modes the directory cannot serve.
func missingOptional(m *models.Manifest, contracts []engine.Contract) []absentMode {
	var out []absentMode
	byStage := map[string]int{}
	for _, c := range contracts {
		if _, has := m.Engine(c.Stage, c.Engine); !c.Optional || has {
			continue
		}
		i, ok := byStage[c.Stage]
		if !ok {
			i = len(out)
			byStage[c.Stage] = i
			out = append(out, absentMode{mode: optionalMode(c.Stage)})
		}
		out[i].engines = append(out[i].engines, c.Stage+"/"+c.Engine)
	}
	return out
}
