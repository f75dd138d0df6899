// Package models reads a model directory: a manifest (manifest.yaml) that
// names one engine file per network with its stage, backend, precision and
// checksum, plus the engine files themselves. It checks that every file is
// present and intact and that every engine loads and matches its stage's
// I/O contract, reporting each problem on its own line.
package models

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ManifestName is the manifest's file name inside a model directory.
const ManifestName = "manifest.yaml"

// Manifest is the parsed manifest.yaml of a model directory.
type Manifest struct {
	Format      int     `yaml:"format"`
	Name        string  `yaml:"name"`
	Description string  `yaml:"description,omitempty"`
	Engines     []Entry `yaml:"engines"`
	Files       []Entry `yaml:"files,omitempty"` // non-engine data a stage needs (constants)
	// Built records where the TensorRT plans (backend trt) were built;
	// plans run only on that GPU model with that TensorRT version. A
	// manifest with trt engines must have it.
	Built *Target `yaml:"built,omitempty"`
}

// Target is a GPU model and TensorRT version, the pair a plan is built
// for (body4d engines build writes it).
type Target struct {
	GPU      string `yaml:"gpu"`      // e.g. "NVIDIA H100 80GB HBM3"
	Compute  string `yaml:"compute"`  // compute capability, e.g. "9.0"
	TensorRT string `yaml:"tensorrt"` // e.g. "10.16.0"
}

func (t Target) String() string {
	return fmt.Sprintf("%s (compute %s, TensorRT %s)", t.GPU, t.Compute, t.TensorRT)
}

// Entry names one file of a model directory.
type Entry struct {
	Stage     string `yaml:"stage"`
	Name      string `yaml:"name"`
	File      string `yaml:"file"`
	Backend   string `yaml:"backend,omitempty"`   // engines only: onnx | trt
	Precision string `yaml:"precision,omitempty"` // engines only: fp32 | fp16 | bf16 | int8
	SHA256    string `yaml:"sha256"`
}

// Key returns "stage/name", the engine's name in messages and lookups.
func (e Entry) Key() string { return e.Stage + "/" + e.Name }

// Backends and precisions a manifest may name.
var (
	knownBackends   = []string{"onnx", "trt"}
	knownPrecisions = []string{"fp32", "fp16", "bf16", "int8"}
)

// ParseManifest parses and validates a manifest. Unknown fields are
// errors, so a typo does not silently drop a setting. All problems found
// are joined in the one error, one per line.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("manifest: more than one YAML document")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest's fields without touching the disk.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("manifest: "+format, args...)) }
	if m.Format != 1 {
		bad("format %d is not supported (want 1)", m.Format)
	}
	if strings.TrimSpace(m.Name) == "" {
		bad("name is empty")
	}
	if len(m.Engines) == 0 {
		bad("no engines listed")
	}
	seenKey := map[string]bool{}
	seenFile := map[string]bool{}
	check := func(kind string, i int, e Entry, isEngine bool) {
		where := fmt.Sprintf("%s[%d]", kind, i)
		if e.Stage != "" && e.Name != "" {
			where = fmt.Sprintf("%s %s", kind[:len(kind)-1], e.Key())
		}
		if !isIdent(e.Stage) {
			bad("%s: stage %q must be a lower-case identifier", where, e.Stage)
		}
		if !isIdent(e.Name) {
			bad("%s: name %q must be a lower-case identifier", where, e.Name)
		}
		if seenKey[e.Key()] {
			bad("%s: listed twice", where)
		}
		seenKey[e.Key()] = true
		if err := checkRelPath(e.File); err != nil {
			bad("%s: file %q: %v", where, e.File, err)
		} else if seenFile[e.File] {
			bad("%s: file %q is listed twice", where, e.File)
		}
		seenFile[e.File] = true
		if !isSHA256(e.SHA256) {
			bad("%s: sha256 %q is not 64 lower-case hex digits", where, e.SHA256)
		}
		if isEngine {
			if !slices.Contains(knownBackends, e.Backend) {
				bad("%s: backend %q is not one of %v", where, e.Backend, knownBackends)
			}
			if !slices.Contains(knownPrecisions, e.Precision) {
				bad("%s: precision %q is not one of %v", where, e.Precision, knownPrecisions)
			}
		} else if e.Backend != "" || e.Precision != "" {
			bad("%s: backend/precision apply to engines only", where)
		}
	}
	for i, e := range m.Engines {
		check("engines", i, e, true)
	}
	for i, e := range m.Files {
		check("files", i, e, false)
	}
	plans := slices.ContainsFunc(m.Engines, func(e Entry) bool { return e.Backend == "trt" })
	switch t := m.Built; {
	case plans && t == nil:
		bad("trt engines but no built: {gpu, compute, tensorrt} saying what the plans were built for")
	case t != nil && (strings.TrimSpace(t.GPU) == "" || t.Compute == "" || t.TensorRT == ""):
		bad("built: gpu, compute and tensorrt must all be given")
	}
	return errors.Join(errs...)
}

// Engine returns the entry of engine stage/name.
func (m *Manifest) Engine(stage, name string) (Entry, bool) {
	for _, e := range m.Engines {
		if e.Stage == stage && e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// File returns the entry of data file stage/name.
func (m *Manifest) File(stage, name string) (Entry, bool) {
	for _, e := range m.Files {
		if e.Stage == stage && e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Stages returns the stages that have at least one engine, in manifest order.
func (m *Manifest) Stages() []string {
	var out []string
	for _, e := range m.Engines {
		if !slices.Contains(out, e.Stage) {
			out = append(out, e.Stage)
		}
	}
	return out
}

// checkRelPath accepts only clean slash-separated paths that stay inside
// the model directory, so a manifest cannot point at arbitrary files.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case strings.ContainsRune(p, '\\') || strings.ContainsRune(p, 0):
		return errors.New("must use forward slashes and no NUL")
	case path.IsAbs(p):
		return errors.New("must be relative to the model directory")
	case path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || p == "..":
		return errors.New("must be a clean path inside the model directory")
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r == '_' || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
