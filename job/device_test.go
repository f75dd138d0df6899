package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// fakeEngine is a loaded engine that records nothing.
type fakeEngine struct{ path string }

func (fakeEngine) Info() engine.Info { return engine.Info{} }
func (fakeEngine) Run(context.Context, map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	return nil, errors.New("fake engine")
}
func (fakeEngine) Close() error { return nil }

// fakeBackend records the paths loaded through it, by stage.
type fakeBackend struct {
	name   string
	stage  string
	loads  *[]string
	closed *bool
}

func (b fakeBackend) Name() string { return b.name }
func (b fakeBackend) Load(path string) (engine.Engine, error) {
	*b.loads = append(*b.loads, b.stage+":"+filepath.Base(path))
	return fakeEngine{path}, nil
}
func (b fakeBackend) Close() error { *b.closed = true; return nil }

// fakePlans is a GPU with TensorRT: a fake device backend.
type fakePlans struct {
	fakeBackend
	target models.Target
	pool   *gpu.Pool
}

func (p fakePlans) Stage(name string) (engine.Backend, error) {
	b := p.fakeBackend
	b.stage = name
	return b, nil
}
func (p fakePlans) Target() models.Target { return p.target }
func (p fakePlans) Pool() *gpu.Pool       { return p.pool }

var h100 = models.Target{GPU: "NVIDIA H100 80GB HBM3", Compute: "9.0", TensorRT: "10.16.0"}

// planDir writes a model directory with one TensorRT plan (mesh/backbone)
// and one ONNX file (fov/moge), its plans built for target.
func planDir(t *testing.T, target models.Target) *models.Dir {
	t.Helper()
	dir := t.TempDir()
	sum := func(name, body string) string {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(body))
		return hex.EncodeToString(h[:])
	}
	manifest := fmt.Sprintf(`format: 1
name: plans
built: {gpu: %q, compute: %q, tensorrt: %q}
engines:
  - {stage: mesh, name: backbone, file: mesh_backbone.plan, backend: trt, precision: fp16, sha256: %s}
  - {stage: fov, name: moge, file: fov_moge.onnx, backend: onnx, precision: fp32, sha256: %s}
`, target.GPU, target.Compute, target.TensorRT, sum("mesh_backbone.plan", "plan"), sum("fov_moge.onnx", "onnx"))
	if err := os.WriteFile(filepath.Join(dir, models.ManifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := models.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type fakeDevices struct {
	onnxLoads, planLoads   []string
	onnxClosed, planClosed bool
	provider               ort.Provider
	target                 models.Target
	trtErr                 error
	kernelsAsked           bool
}

func (f *fakeDevices) openers() openers {
	return openers{
		ort: func(p ort.Provider) (runtime, error) {
			f.provider = p
			return fakeBackend{name: "onnx", stage: "any", loads: &f.onnxLoads, closed: &f.onnxClosed}, nil
		},
		trt: func() (planBackend, error) {
			if f.trtErr != nil {
				return nil, f.trtErr
			}
			return fakePlans{fakeBackend: fakeBackend{name: "trt", loads: &f.planLoads, closed: &f.planClosed}, target: f.target}, nil
		},
		kernels: func(*gpu.Pool) (kernels.Kernels, string) {
			f.kernelsAsked = true
			return nil, "GPU kernels not used (fake): the Go paths run instead"
		},
	}
}

// TestTrtEntriesGoToTrtBackend: with --device tensorrt, a backend: trt
// entry is loaded by the TensorRT backend on its stage's stream, and an
// onnx entry by ONNX Runtime (said in a note).
func TestTrtEntriesGoToTrtBackend(t *testing.T) {
	dir := planDir(t, h100)
	f := &fakeDevices{target: h100}
	d, err := openDevice("tensorrt", dir, f.openers())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dir.Manifest.Engines {
		p, _ := dir.EnginePath(e.Stage, e.Name)
		if _, err := d.loader(e.Stage)(p); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"mesh:mesh_backbone.plan"}; fmt.Sprint(f.planLoads) != fmt.Sprint(want) {
		t.Errorf("trt backend loaded %v, want %v", f.planLoads, want)
	}
	if want := []string{"any:fov_moge.onnx"}; fmt.Sprint(f.onnxLoads) != fmt.Sprint(want) {
		t.Errorf("ONNX Runtime loaded %v, want %v", f.onnxLoads, want)
	}
	if f.provider != ort.CPU || !strings.Contains(strings.Join(d.notes, "\n"), "fov/moge are ONNX files") {
		t.Errorf("ONNX engines under --device tensorrt: provider %v, notes %q", f.provider, d.notes)
	}
	if !f.kernelsAsked {
		t.Error("--device tensorrt did not ask for the GPU kernels")
	}
	if _, err := d.loader("mesh")(filepath.Join(dir.Path, "other.onnx")); err == nil {
		t.Error("a file the manifest does not list was loaded")
	}
	if err := d.close(); err != nil || !f.onnxClosed || !f.planClosed {
		t.Errorf("close: %v, onnx closed %v, trt closed %v", err, f.onnxClosed, f.planClosed)
	}
}

// TestPlanForAnotherGPU: plans built on an A100 fail on an H100 at once,
// naming the engine and both GPUs.
func TestPlanForAnotherGPU(t *testing.T) {
	a100 := models.Target{GPU: "NVIDIA A100-SXM4-80GB", Compute: "8.0", TensorRT: "10.16.0"}
	f := &fakeDevices{target: h100}
	_, err := openDevice("tensorrt", planDir(t, a100), f.openers())
	if err == nil {
		t.Fatal("plans for an A100 accepted on an H100")
	}
	for _, want := range []string{"mesh/backbone", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "rebuild"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !f.planClosed {
		t.Error("the TensorRT backend was left open after the failure")
	}
}

// TestPlansNeedTensorRT: a plan is never handed to ONNX Runtime.
func TestPlansNeedTensorRT(t *testing.T) {
	for _, dev := range []string{"cpu", "", "cuda"} {
		f := &fakeDevices{target: h100}
		_, err := openDevice(dev, planDir(t, h100), f.openers())
		if err == nil || !strings.Contains(err.Error(), "mesh/backbone") || !strings.Contains(err.Error(), "--device tensorrt") {
			t.Errorf("--device %q with a plan: %v", dev, err)
		}
	}
}

// TestDeviceWithoutGPU runs the real openers on a machine without a GPU
// (or a build without the tags): --device tensorrt and cuda fail at
// once, in one line that names what is missing.
func TestDeviceWithoutGPU(t *testing.T) {
	if _, err := gpu.Devices(); err == nil {
		t.Skip("a GPU is present")
	}
	for _, dev := range []string{"tensorrt", "cuda"} {
		_, err := openDevice(dev, planDir(t, h100), defaultOpeners())
		if dev == "cuda" {
			// cuda refuses the plan first; try the tiny ONNX models.
			_, err = openDevice(dev, tinyModels(t), defaultOpeners())
		}
		if err == nil {
			t.Fatalf("--device %s without a GPU succeeded", dev)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("--device %s: error is not one line: %q", dev, msg)
		}
		if !strings.Contains(msg, "--device "+dev) || !(strings.Contains(msg, "GPU") || strings.Contains(msg, "TensorRT")) {
			t.Errorf("--device %s: %q does not say what is missing", dev, msg)
		}
		t.Logf("--device %s: %s", dev, msg)
	}
}

// TestMeshBatchFollowsPool: on the GPU the mesh stage sizes its batch from
// what the device pool can still hold.
func TestMeshBatchFollowsPool(t *testing.T) {
	if os.Getenv("BODY4D_SKIP_ORT") == "1" {
		t.Skip("BODY4D_SKIP_ORT=1")
	}
	dir := tinyModels(t)
	rt, err := defaultOpeners().ort(ort.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	const crop = mesh.DefaultCropBytes
	pool := gpu.NewPoolLimit(&countingAllocator{}, 20*crop)
	var loads []string
	closed := false
	d := &device{name: "tensorrt", onnx: rt, entries: map[string]models.Entry{},
		plans: fakePlans{fakeBackend: fakeBackend{name: "trt", loads: &loads, closed: &closed}, target: h100, pool: pool}}
	for _, e := range dir.Manifest.Engines {
		p, _ := dir.EnginePath(e.Stage, e.Name)
		d.entries[filepath.Clean(p)] = e
	}
	info := scene.VideoInfo{Width: 64, Height: 48, Frames: 2, FPS: scene.Rational{Num: 30, Den: 1}}
	m := &Models{path: dir.Path, dir: dir, dev: d, engines: map[engineKey]*resident{}}
	st, err := buildStages(m, Spec{Stages: Stages{NoAmodal: true}}, info, t.TempDir(), func(body4d.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	rec, ok := st.pipe.Mesh.(*mesh.Recoverer)
	if !ok {
		t.Fatalf("mesh stage is a %T", st.pipe.Mesh)
	}
	// 20 crops' worth, less mesh's 10% margin: 18.
	if got := rec.BatchSize(); got != 18 {
		t.Errorf("empty pool: batch %d, want 18", got)
	}
	q := noQueue{}
	held, err := pool.Alloc(10*crop, q)
	if err != nil {
		t.Fatal(err)
	}
	// 10 crops' worth left (the block is a 64 MiB multiple): 9.
	if got := rec.BatchSize(); got != 9 {
		t.Errorf("half the pool held: batch %d, want 9", got)
	}
	if err := pool.Free(held, q); err != nil {
		t.Fatal(err)
	}
}

type countingAllocator struct{ next gpu.DevicePtr }

func (a *countingAllocator) Alloc(n uint64) (gpu.DevicePtr, error) {
	a.next += gpu.DevicePtr(n)
	return a.next, nil
}
func (a *countingAllocator) Free(gpu.DevicePtr) error { return nil }

type noQueue struct{}
type noFence struct{}

func (noQueue) Mark() (gpu.Fence, error) { return noFence{}, nil }
func (noQueue) After(gpu.Fence) error    { return nil }
func (noFence) Synchronize() error       { return nil }
func (noFence) Close() error             { return nil }
