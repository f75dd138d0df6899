package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/trt"
)

// cmdEngines runs "body4d engines build": every ONNX engine of a model
// directory becomes a TensorRT plan for this GPU.
func cmdEngines(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "build" {
		return usageError{errors.New(`want "engines build" (the only engines command)`)}
	}
	fs := flag.NewFlagSet("engines build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("models", "", "model directory of ONNX engines to convert")
	out := fs.String("out", "", "directory to write the plans, data files and manifest.yaml into (created; must not hold a manifest)")
	fp16 := fs.Bool("fp16", false, "let TensorRT use fp16 where faster (TensorRT 10)")
	bf16 := fs.Bool("bf16", false, "let TensorRT use bf16 where faster (TensorRT 10)")
	workspace := fs.Uint64("workspace", 0, "cap on the builder's scratch memory in bytes (0: TensorRT's default)")
	ranges := fs.String("ranges", "", "YAML file of shape ranges for dynamic dimensions body4d has no default for (see README)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: body4d engines build --models DIR --out DIR [--fp16|--bf16] [--workspace BYTES] [--ranges FILE]\n\nConverts each ONNX engine into a TensorRT plan for this GPU (needs a GPU, TensorRT and a build with the tags cuda,tensorrt).")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError{fmt.Errorf("unexpected arguments %q", pos)}
	case *in == "" || *out == "":
		return usageError{errors.New("--models and --out are required")}
	case *fp16 && *bf16:
		return usageError{errors.New("choose --fp16 or --bf16, not both")}
	}
	extra, err := readRanges(*ranges)
	if err != nil {
		return err
	}
	dir, err := models.Open(*in)
	if err != nil {
		return err
	}
	if errs := dir.Verify(); len(errs) > 0 {
		return fmt.Errorf("model directory %s: %w", *in, errors.Join(errs...))
	}
	if _, err := os.Stat(filepath.Join(*out, models.ManifestName)); err == nil {
		return fmt.Errorf("%s already holds a %s; choose an empty directory", *out, models.ManifestName)
	}
	b, err := trt.Open(trt.Options{})
	if err != nil {
		return fmt.Errorf("engines build needs a GPU and TensorRT: %w", err)
	}
	defer b.Close()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	contracts := map[string]engine.Contract{}
	for _, c := range job.Contracts() {
		contracts[c.Stage+"/"+c.Engine] = c
	}
	precision := "fp32"
	if *fp16 {
		precision = "fp16"
	} else if *bf16 {
		precision = "bf16"
	}
	cachePath := filepath.Join(*out, "timing.cache")
	cache, _ := os.ReadFile(cachePath) // a previous run's, to start from
	target := b.Target()
	m := models.Manifest{Format: 1, Name: dir.Manifest.Name + "-trt", Built: &target,
		Description: fmt.Sprintf("TensorRT plans of %s for %v", dir.Manifest.Name, target)}
	for _, e := range dir.Manifest.Engines {
		if e.Backend != "onnx" {
			return fmt.Errorf("%s: backend %s: only ONNX engines can be built into plans", e.Key(), e.Backend)
		}
		src, _ := dir.EnginePath(e.Stage, e.Name)
		fmt.Fprintf(stdout, "building %s (%s) ...\n", e.Key(), src)
		plan, newCache, err := b.Build(ctx, src, func(inputs []engine.TensorInfo) (map[string]trt.ShapeRange, error) {
			return planRanges(e.Key(), inputs, extra)
		}, trt.BuildOptions{FP16: *fp16, BF16: *bf16, Workspace: *workspace, TimingCache: cache})
		if err != nil {
			return fmt.Errorf("%s: %w", e.Key(), err)
		}
		cache = newCache
		if err := os.WriteFile(cachePath, cache, 0o644); err != nil {
			return err
		}
		file := e.Stage + "_" + e.Name + ".plan"
		if err := os.WriteFile(filepath.Join(*out, file), plan, 0o644); err != nil {
			return err
		}
		eng, err := b.Load(filepath.Join(*out, file))
		if err != nil {
			return fmt.Errorf("%s: the plan just built does not load: %w", e.Key(), err)
		}
		info := eng.Info()
		eng.Close()
		if c, ok := contracts[e.Key()]; ok {
			if errs := c.Check(info); len(errs) > 0 {
				return fmt.Errorf("%s: the plan breaks its contract: %w", e.Key(), errors.Join(errs...))
			}
		}
		h := sha256.Sum256(plan)
		m.Engines = append(m.Engines, models.Entry{Stage: e.Stage, Name: e.Name, File: file, Backend: "trt", Precision: precision, SHA256: hex.EncodeToString(h[:])})
		fmt.Fprintf(stdout, "ok    %s: %s (%d bytes)\n", e.Key(), file, len(plan))
	}
	for _, f := range dir.Manifest.Files {
		if strings.HasSuffix(f.File, ".onnx.data") {
			continue // an ONNX file's external weights are inside its plan now
		}
		src, _ := dir.FilePath(f.Stage, f.Name)
		if err := copyFile(filepath.Join(*out, filepath.FromSlash(f.File)), src); err != nil {
			return err
		}
		m.Files = append(m.Files, f)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	data, err := yaml.Marshal(&m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, models.ManifestName), data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d plans for %v into %s; run them with body4d run --models %s --device tensorrt\n", len(m.Engines), target, *out, *out)
	return nil
}

func copyFile(dst, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// dimRange is a dynamic dimension's min, opt and max.
type dimRange [3]int64

// Batch limits of the profiles: the mesh stage's batch (the reference's
// 64), the people tracked at once, and the frames of an occlusion-recovery
// window.
const (
	maxCrops  = 64
	maxPeople = 16
	maxFrames = 64
)

// defaultDims gives the shape ranges of the dynamic dimensions body4d
// knows, by "stage/engine input dim"; "stage/* input dim" and
// "stage/* * 0" match any engine or input of the stage. Sizes are those
// the stages feed (reference notes; contract.go of each stage).
func defaultDims() map[string]dimRange {
	people := dimRange{1, 4, maxPeople}
	frames := dimRange{1, 16, maxFrames}
	latent := dimRange{16, 64, 128} // 128…1024 pixels / 8
	pixels := dimRange{128, 512, 1024}
	return map[string]dimRange{
		"mesh/* * 0":                                     {1, 16, maxCrops},
		"mesh/* prompt 1":                                {1, 1, 2},
		"segment/* * 0":                                  people,
		"segment/memory_attention src 1":                 people,
		"segment/memory_attention src_pos 1":             people,
		"segment/memory_attention prompt 0":              {1, 7 * 5184, 7*5184 + 4*maxPeople},
		"segment/memory_attention prompt_pos 0":          {1, 7 * 5184, 7*5184 + 4*maxPeople},
		"segment/memory_attention prompt 1":              people,
		"segment/memory_attention prompt_pos 1":          people,
		"segment/mask_decoder point_coords 1":            {1, 2, 16},
		"segment/mask_decoder point_labels 1":            {1, 2, 16},
		"segment/detector text 1":                        {1, 8, 32}, // the concept's text tokens (context length 32)
		"amodal/clip_vision pixel_values 0":              frames,
		"amodal/vae_encoder sample 0":                    frames,
		"amodal/vae_encoder sample 2":                    pixels,
		"amodal/vae_encoder sample 3":                    pixels,
		"amodal/vae_decoder latent 0":                    frames,
		"amodal/vae_decoder latent 2":                    latent,
		"amodal/vae_decoder latent 3":                    latent,
		"amodal/unet sample 1":                           frames,
		"amodal/unet sample 3":                           latent,
		"amodal/unet sample 4":                           latent,
		"amodal/unet encoder_hidden_states 0":            {1, 2, 2},
		"amodal/unet_completion sample 1":                frames,
		"amodal/unet_completion sample 3":                latent,
		"amodal/unet_completion sample 4":                latent,
		"amodal/unet_completion encoder_hidden_states 0": {1, 2, 2},
		"amodal/depth image 0":                           frames,
		"amodal/depth image 2":                           {14, 518, 1036},
		"amodal/depth image 3":                           {14, 518, 1036},
		"fov/moge image 2":                               {14, 518, 1036},
		"fov/moge image 3":                               {14, 700, 1400},
	}
}

// planRanges gives every input of engine key (stage/name) its profile:
// fixed dimensions as the ONNX file has them, dynamic ones from extra
// (the --ranges file) or defaultDims. A dynamic dimension with neither is
// an error naming it.
func planRanges(key string, inputs []engine.TensorInfo, extra map[string]dimRange) (map[string]trt.ShapeRange, error) {
	stage := key[:strings.IndexByte(key, '/')]
	def := defaultDims()
	out := map[string]trt.ShapeRange{}
	var missing []string
	for _, in := range inputs {
		var r trt.ShapeRange
		for i, d := range in.Shape {
			if d >= 0 {
				r.Min, r.Opt, r.Max = append(r.Min, d), append(r.Opt, d), append(r.Max, d)
				continue
			}
			dr, ok := dimRange{}, false
			for _, k := range []string{
				fmt.Sprintf("%s %s %d", key, in.Name, i),
				fmt.Sprintf("%s/* %s %d", stage, in.Name, i),
				fmt.Sprintf("%s/* * %d", stage, i),
			} {
				if dr, ok = extra[k]; ok {
					break
				}
				if dr, ok = def[k]; ok {
					break
				}
			}
			if !ok {
				missing = append(missing, fmt.Sprintf("%q (%s %v)", fmt.Sprintf("%s %s %d", key, in.Name, i), in.Name, in.Shape))
				continue
			}
			r.Min, r.Opt, r.Max = append(r.Min, dr[0]), append(r.Opt, dr[1]), append(r.Max, dr[2])
		}
		out[in.Name] = r
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no shape range for dynamic dimensions %s: give them in a --ranges file (\"ENGINE INPUT DIM: [min, opt, max]\")", strings.Join(missing, ", "))
	}
	return out, nil
}

// readRanges reads a --ranges file: "stage/engine input dim: [min, opt, max]".
func readRanges(path string) (map[string]dimRange, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]dimRange
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("--ranges %s: %w", path, err)
	}
	for k, r := range m {
		if len(strings.Fields(k)) != 3 || r[0] < 0 || r[0] > r[1] || r[1] > r[2] {
			return nil, fmt.Errorf("--ranges %s: %q: want \"stage/engine input dim: [min, opt, max]\" with min ≤ opt ≤ max, got %v", path, k, r)
		}
	}
	return m, nil
}
