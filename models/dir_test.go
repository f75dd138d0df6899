package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
)

// fakeBackend "loads" files whose content is the name of an Info in infos.
type fakeBackend struct{ infos map[string]engine.Info }

func (b fakeBackend) Name() string { return "onnx" }
func (b fakeBackend) Load(p string) (engine.Engine, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	info, ok := b.infos[string(data)]
	if !ok {
		return nil, fmt.Errorf("%s: not a model", p)
	}
	return fakeEngine{info}, nil
}

type fakeEngine struct{ info engine.Info }

func (e fakeEngine) Info() engine.Info { return e.info }
func (e fakeEngine) Run(context.Context, map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	return nil, errors.New("not runnable")
}
func (e fakeEngine) Close() error { return nil }

var (
	encInfo = engine.Info{
		Inputs:  []engine.TensorInfo{{Name: "img", DType: engine.Float32, Shape: engine.Shape{1, 3, 8, 8}}},
		Outputs: []engine.TensorInfo{{Name: "feat", DType: engine.Float32, Shape: engine.Shape{1, 4, 2, 2}}},
	}
	decInfo = engine.Info{
		Inputs:  []engine.TensorInfo{{Name: "feat", DType: engine.Float32, Shape: engine.Shape{-1, 4, 2, 2}}},
		Outputs: []engine.TensorInfo{{Name: "mask", DType: engine.Float32, Shape: engine.Shape{-1, 1, 8, 8}}},
	}
	contracts = []engine.Contract{
		{Stage: "seg", Engine: "enc", Inputs: encInfo.Inputs, Outputs: encInfo.Outputs},
		{Stage: "seg", Engine: "dec", Inputs: decInfo.Inputs, Outputs: decInfo.Outputs},
	}
)

// writeDir makes a model directory whose files hold the given contents.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("format: 1\nname: test\nengines:\n")
	for _, name := range []string{"enc", "dec"} {
		content, ok := files[name]
		if !ok {
			continue
		}
		sum := sha256.Sum256([]byte(content))
		fmt.Fprintf(&b, "  - {stage: seg, name: %s, file: %s.onnx, backend: onnx, precision: fp32, sha256: %s}\n",
			name, name, hex.EncodeToString(sum[:]))
		if err := os.WriteFile(filepath.Join(dir, name+".onnx"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDirCheck(t *testing.T) {
	backends := map[string]engine.Backend{"onnx": fakeBackend{map[string]engine.Info{"enc": encInfo, "dec": decInfo}}}
	ctx := context.Background()

	d, err := Open(writeDir(t, map[string]string{"enc": "enc", "dec": "dec"}))
	if err != nil {
		t.Fatal(err)
	}
	if errs := d.Verify(); len(errs) != 0 {
		t.Fatalf("Verify: %v", errs)
	}
	if errs := d.Check(ctx, backends, contracts); len(errs) != 0 {
		t.Fatalf("Check: %v", errs)
	}

	// The decoder file holds the encoder: the contract check names the
	// stage/engine and the tensor.
	d, err = Open(writeDir(t, map[string]string{"enc": "enc", "dec": "enc"}))
	if err != nil {
		t.Fatal(err)
	}
	errs := d.Check(ctx, backends, contracts)
	if len(errs) == 0 {
		t.Fatal("swapped engine passed the contract check")
	}
	joined := errors.Join(errs...).Error()
	for _, want := range []string{"seg/dec", `"feat"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("mismatch report %q does not name %s", joined, want)
		}
	}

	// A missing engine and no backend for it.
	d, err = Open(writeDir(t, map[string]string{"enc": "enc"}))
	if err != nil {
		t.Fatal(err)
	}
	errs = d.Check(ctx, map[string]engine.Backend{}, contracts)
	joined = errors.Join(errs...).Error()
	for _, want := range []string{"seg/dec: engine missing from the manifest", `seg/enc: backend "onnx" is not available`} {
		if !strings.Contains(joined, want) {
			t.Errorf("report %q lacks %q", joined, want)
		}
	}

	// An optional engine may be missing; one that is there is checked.
	opt := slices.Clone(contracts)
	opt[1].Optional = true
	if errs := d.Check(ctx, backends, opt); len(errs) != 0 {
		t.Errorf("a missing optional engine was reported: %v", errs)
	}
	dSwapped, err := Open(writeDir(t, map[string]string{"enc": "enc", "dec": "enc"}))
	if err != nil {
		t.Fatal(err)
	}
	if errs := dSwapped.Check(ctx, backends, opt); len(errs) == 0 {
		t.Error("a present optional engine was not checked against its contract")
	}

	// An engine that no contract describes.
	errs = d.Check(ctx, backends, contracts[1:])
	if joined = errors.Join(errs...).Error(); !strings.Contains(joined, "seg/enc: no stage declares this engine") {
		t.Errorf("report %q does not flag the undeclared engine", joined)
	}
}

func TestDirVerifyErrors(t *testing.T) {
	dir := writeDir(t, map[string]string{"enc": "enc", "dec": "dec"})
	if err := os.WriteFile(filepath.Join(dir, "enc.onnx"), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "dec.onnx")); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	errs := d.Verify()
	if len(errs) != 2 {
		t.Fatalf("Verify found %d problems, want 2: %v", len(errs), errs)
	}
	if !strings.Contains(errs[0].Error(), "seg/enc") || !strings.Contains(errs[0].Error(), "sha256") {
		t.Errorf("checksum error %q", errs[0])
	}
	if !strings.Contains(errs[1].Error(), "seg/dec") || !strings.Contains(errs[1].Error(), "missing") {
		t.Errorf("missing-file error %q", errs[1])
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no manifest.yaml") {
		t.Fatalf("Open(empty dir) = %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ManifestName), []byte("format: 1\nname: x\n"), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "no engines listed") {
		t.Fatalf("Open(no engines) = %v", err)
	}
	d, _ := Open(writeDir(t, map[string]string{"enc": "enc"}))
	if _, err := d.EnginePath("seg", "dec"); err == nil || !strings.Contains(err.Error(), "seg/dec") {
		t.Fatalf("EnginePath(missing) = %v", err)
	}
}
