package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
)

func TestPlanRanges(t *testing.T) {
	in := []engine.TensorInfo{{Name: "image", Shape: engine.Shape{-1, 3, 512, 512}}}
	r, err := planRanges("mesh/backbone", in, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := r["image"]
	if got.Min.String() != "[1,3,512,512]" || got.Opt.String() != "[16,3,512,512]" || got.Max.String() != "[64,3,512,512]" {
		t.Errorf("mesh/backbone image: %v %v %v, want batch 1…64", got.Min, got.Opt, got.Max)
	}
	// A dynamic dimension body4d has no range for is an error naming it,
	// unless the --ranges file gives one.
	odd := []engine.TensorInfo{{Name: "x", Shape: engine.Shape{1, -1}}}
	if _, err := planRanges("fov/moge", odd, nil); err == nil || !strings.Contains(err.Error(), `"fov/moge x 1"`) {
		t.Errorf("unknown dimension: %v", err)
	}
	r, err = planRanges("fov/moge", odd, map[string]dimRange{"fov/moge x 1": {2, 3, 4}})
	if err != nil || r["x"].Max.String() != "[1,4]" {
		t.Errorf("--ranges entry: %v, %v", r, err)
	}
}

func TestReadRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ranges.yaml")
	os.WriteFile(path, []byte("mesh/decoder_layer1 prev_tokens 1: [1, 145, 256]\n"), 0o644)
	m, err := readRanges(path)
	if err != nil || m["mesh/decoder_layer1 prev_tokens 1"] != (dimRange{1, 145, 256}) {
		t.Errorf("readRanges = %v, %v", m, err)
	}
	os.WriteFile(path, []byte("mesh/decoder_layer1 prev_tokens 1: [9, 5, 256]\n"), 0o644)
	if _, err := readRanges(path); err == nil || !strings.Contains(err.Error(), "min ≤ opt ≤ max") {
		t.Errorf("bad range: %v", err)
	}
}

// TestEnginesBuildWithoutGPU: without a GPU or TensorRT (this machine, CI)
// the command fails in one line saying what is missing, and writes nothing.
func TestEnginesBuildWithoutGPU(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plans")
	code, stdout, stderr := cli(t, "engines", "build", "--models", "../../sample/models/tiny", "--out", out)
	if code != 1 || !strings.Contains(stderr, "engines build needs a GPU and TensorRT") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		if !strings.Contains(stdout, "building") { // a GPU with TensorRT: not this test's case
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil && code != 0 {
		t.Error("a failed build created the output directory")
	}
	if code, _, stderr := cli(t, "engines", "build", "--models", "x"); code != 2 || !strings.Contains(stderr, "--out") {
		t.Errorf("missing --out: exit %d, %q", code, stderr)
	}
}
