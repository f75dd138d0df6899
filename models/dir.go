package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/body4d/body4d/engine"
)

// Dir is an opened model directory.
type Dir struct {
	Path     string
	Manifest *Manifest
}

// Open reads and validates dir/manifest.yaml. It does not read the engine
// files; Verify and Check do.
func Open(dir string) (*Dir, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("model directory %s: no %s", dir, ManifestName)
		}
		return nil, fmt.Errorf("model directory %s: %w", dir, err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("model directory %s: %w", dir, err)
	}
	return &Dir{Path: dir, Manifest: m}, nil
}

// EnginePath returns the path of engine stage/name, or an error naming it
// when the manifest does not list it.
func (d *Dir) EnginePath(stage, name string) (string, error) {
	e, ok := d.Manifest.Engine(stage, name)
	if !ok {
		return "", fmt.Errorf("model directory %s: manifest lists no engine %s/%s", d.Path, stage, name)
	}
	return d.path(e), nil
}

// FilePath returns the path of data file stage/name.
func (d *Dir) FilePath(stage, name string) (string, error) {
	e, ok := d.Manifest.File(stage, name)
	if !ok {
		return "", fmt.Errorf("model directory %s: manifest lists no file %s/%s", d.Path, stage, name)
	}
	return d.path(e), nil
}

func (d *Dir) path(e Entry) string { return filepath.Join(d.Path, filepath.FromSlash(e.File)) }

// Verify checks that every listed file exists and matches its checksum.
// It returns one error per problem.
func (d *Dir) Verify() []error {
	var errs []error
	for _, e := range append(append([]Entry(nil), d.Manifest.Engines...), d.Manifest.Files...) {
		if err := verifyFile(d.path(e), e.SHA256); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Key(), err))
		}
	}
	return errs
}

func verifyFile(p, want string) error {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file %s is missing", p)
		}
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("file %s: sha256 %s, manifest says %s", p, got, want)
	}
	return nil
}

// Check loads every engine that has a contract with the backend named in
// the manifest and checks its inputs and outputs against the contract. A
// contract with no engine in the manifest is a problem (its stage cannot
// run); an engine no contract describes is a problem too (a typo in a
// name). backends maps a manifest backend name ("onnx", "trt") to the
// Backend that loads it; a missing one is reported per engine.
func (d *Dir) Check(ctx context.Context, backends map[string]engine.Backend, contracts []engine.Contract) []error {
	var errs []error
	known := map[string]bool{}
	for _, c := range contracts {
		if err := ctx.Err(); err != nil {
			return append(errs, err)
		}
		key := c.Stage + "/" + c.Engine
		known[key] = true
		e, ok := d.Manifest.Engine(c.Stage, c.Engine)
		if !ok {
			if !c.Optional {
				errs = append(errs, fmt.Errorf("%s: engine missing from the manifest", key))
			}
			continue
		}
		b, ok := backends[e.Backend]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: backend %q is not available in this build", key, e.Backend))
			continue
		}
		eng, err := b.Load(d.path(e))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		errs = append(errs, c.Check(eng.Info())...)
		if err := eng.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: closing: %w", key, err))
		}
	}
	for _, e := range d.Manifest.Engines {
		if !known[e.Key()] {
			errs = append(errs, fmt.Errorf("%s: no stage declares this engine", e.Key()))
		}
	}
	return errs
}
