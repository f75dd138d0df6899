// Package orttest gives tests the ONNX Runtime and the tiny model
// directory. A missing library fails the test with a clear message (CI
// installs it, so its absence is a broken setup, not a reason to pass);
// BODY4D_SKIP_ORT=1 skips such tests explicitly.
package orttest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/models"
)

// Runtime opens the ONNX Runtime with opts for the test and closes it
// at cleanup; an empty opts.Library means ort.FindLibrary's.
func Runtime(tb testing.TB, opts ort.Options) *ort.Runtime {
	tb.Helper()
	if os.Getenv("BODY4D_SKIP_ORT") == "1" {
		tb.Skip("BODY4D_SKIP_ORT=1: skipping tests that need the ONNX Runtime library")
	}
	if opts.Library == "" {
		lib, err := ort.FindLibrary()
		if err != nil {
			tb.Fatalf("the ONNX Runtime library is needed: run scripts/setup.sh (or set BODY4D_SKIP_ORT=1): %v", err)
		}
		opts.Library = lib
	}
	rt, err := ort.Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close() })
	return rt
}

// Tiny opens the module's tiny model directory, sample/models/tiny,
// found from the test's working directory upwards.
func Tiny(tb testing.TB) *models.Dir {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("orttest: no go.mod above the test's directory")
		}
		dir = parent
	}
	d, err := models.Open(filepath.Join(dir, "sample", "models", "tiny"))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
