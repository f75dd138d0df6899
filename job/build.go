package job

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/amodal"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/masks"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/segment"
	"github.com/body4d/body4d/smooth"
	"github.com/body4d/body4d/world"
)

// stages is the pipeline a job runs, made from a model directory.
type stages struct {
	pipe    *body4d.Pipeline
	body    *mesh.Body // nil when the mesh stage is not offered
	notes   []string
	closers []func() error
	windows *AmodalWindows  // filled when occlusion recovery runs
	kernels kernels.Kernels // GPU kernels for rendering; nil: the Go path
	camera  cameraSolves    // filled when the camera is estimated
	// What the cache report needs: frames the tracker ran on, the
	// amodal windows' reuse, the mesh stage's work directory.
	tracked     int
	amodalCache *CacheUse
	meshDir     string
	ground      *world.Ground // filled when --world static fitted one
}

// cameraSolves counts the frames whose focal was estimated, and lists
// those whose solve was ill-conditioned.
type cameraSolves struct {
	estimated int
	ill       []int
}

// note is the line said when a solve was ill-conditioned; "" if none was.
func (c cameraSolves) note() string {
	if len(c.ill) == 0 {
		return ""
	}
	return fmt.Sprintf("camera: the focal length is unreliable: its solve was ill-conditioned (depth varies too little for the point map's errors) "+
		"on %d of %d frames estimated; give the horizontal field of view if it is known (--fovx DEG)", len(c.ill), c.estimated)
}

func (s *stages) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// buildStages makes the stages this build offers from a model directory.
// A stage whose engines are missing is not offered and a note says so.
// Each stage caches its outputs under workDir in a folder keyed by what
// they depend on.
func buildStages(m *Models, spec Spec, info scene.VideoInfo, workDir string, progress func(body4d.Event)) (*stages, error) {
	dir, dev := m.dir, m.dev
	s := &stages{pipe: &body4d.Pipeline{}, kernels: dev.kernels}
	// Each stage loads its engines through the backend its manifest
	// entries name, on its own stream; m keeps them loaded.
	loader := m.loader
	// Each stage's cache folder is keyed by everything its outputs
	// depend on: the engines (by manifest checksums), the settings, and
	// the outputs of the stages before it.
	models := dir.Manifest
	segKey := key("segment", models, spec.Prompts)
	if spec.Masks != "" {
		id, err := videoID(spec.Masks) // a hash of every file's name and bytes
		if err != nil {
			return s, err
		}
		segKey = key("masks", id)
	}
	amoKey := key("amodal", models, segKey, spec.Stages.NoAmodal, spec.Stages.Quick, spec.Stages.AmodalFast)
	camKey := key(spec.Stages.NoCamera, spec.Stages.FOVX, spec.Stages.CameraPerFrame)
	meshMode, err := mesh.ParseMode(spec.Stages.Mesh)
	if err != nil {
		return s, err
	}
	meshKey := key("mesh", models, amoKey, camKey, meshMode)
	if spec.Masks != "" {
		m, err := masks.OpenFolder(spec.Masks, info)
		if err != nil {
			return s, err
		}
		s.pipe.Masks = m
		s.notes = append(s.notes, "masks from "+spec.Masks+": the segment stage does not run")
	} else if _, err := dir.EnginePath("segment", "image_encoder"); err != nil {
		s.notes = append(s.notes, "no segment engines in the model directory: no masks, so no meshes")
	} else {
		// The tracker writes its per-frame outputs to disk (bounded
		// memory) and does not resume: a rerun tracks again, so the
		// folder starts empty.
		segDir := filepath.Join(workDir, "segment")
		if err := os.RemoveAll(segDir); err != nil {
			return s, err
		}
		tr, err := segment.Open(dir, loader("segment"), segment.Options{Dir: segDir, OnFrame: func(segment.FrameReport) {
			s.tracked++
			progress(body4d.Event{Stage: "segment", Done: min(s.tracked, info.Frames), Total: info.Frames})
		}})
		if err != nil {
			return s, fmt.Errorf("segment: %w", err)
		}
		s.closers = append(s.closers, tr.Close)
		s.pipe.Segmenter = tr
	}

	switch _, err := dir.EnginePath("amodal", "unet"); {
	case spec.Stages.NoAmodal:
		s.notes = append(s.notes, "amodal stage off: occluded people are recovered from their visible parts only")
	case err != nil:
		s.notes = append(s.notes, "no amodal engines in the model directory: occluded people are recovered from their visible parts only")
	default:
		opts := amodal.Options{Dir: filepath.Join(workDir, "amodal"), Progress: func(done, total int) {
			progress(body4d.Event{Stage: "amodal", Done: done, Total: total})
		}}
		if spec.Stages.Quick {
			opts.Steps, opts.Height, opts.Width, opts.CompletionHeight, opts.CompletionWidth = 4, 128, 256, 128, 256
		}
		if spec.Stages.AmodalFast {
			opts.Fast = &amodal.FastOptions{}
			s.notes = append(s.notes, "amodal fast mode: people fully in view in a window are not recovered; fewer denoising steps")
		}
		comp, err := amodal.Open(dir, loader("amodal"), opts)
		if err != nil {
			return s, fmt.Errorf("amodal: %w", err)
		}
		s.closers = append(s.closers, comp.Close)
		s.pipe.Amodal = amodal.PipelineStage{C: comp, Windows: func(ws []amodal.WindowReport) {
			s.windows = countWindows(ws)
			s.amodalCache = &CacheUse{Stage: "amodal", Unit: "person-window"}
			for _, w := range ws {
				if w.Reused {
					s.amodalCache.Loaded++
				} else {
					s.amodalCache.Computed++
				}
			}
		}}
	}

	if _, err := dir.EnginePath("mesh", "backbone"); err != nil {
		s.notes = append(s.notes, "no mesh engines in the model directory: no body meshes")
	} else {
		opts := mesh.Options{Dir: filepath.Join(workDir, "mesh-"+meshKey), Mode: meshMode, Kernels: dev.kernels}
		s.meshDir = opts.Dir
		if dev.name == "cpu" {
			// On the CPU a batch beyond a few crops buys no speed (the
			// runtime already uses every core per crop) and costs memory.
			opts.MaxBatch = 8
		}
		if p := dev.pool(); p != nil {
			// The batch comes from what the GPU's pool can still hold.
			opts.FreeMemory = func() (uint64, error) { return p.Available(), nil }
		}
		rec, err := mesh.Open(dir, loader("mesh"), opts)
		if err != nil {
			return s, fmt.Errorf("mesh: %w", err)
		}
		s.closers = append(s.closers, rec.Close)
		s.pipe.Mesh = rec
		s.body = rec.Body()
	}

	switch o := spec.Stages; {
	case o.NoCamera:
		s.notes = append(s.notes, "camera stage off: default camera (focal = image diagonal)")
	case o.FOVX != 0:
		est, err := fov.New(nil, fov.Options{FOVX: o.FOVX})
		if err != nil {
			return s, err
		}
		s.pipe.Camera = est
	default:
		path, err := dir.EnginePath("fov", "moge")
		if err != nil {
			s.notes = append(s.notes, "no fov/moge engine in the model directory: default camera (focal = image diagonal)")
			break
		}
		eng, err := loader("fov")(path)
		if err != nil {
			return s, fmt.Errorf("fov/moge: %w", err)
		}
		est, err := fov.New(eng, fov.Options{PerFrame: o.CameraPerFrame, OnFrame: func(i int, r fov.FrameResult) {
			s.camera.estimated++
			if r.IllConditioned() {
				s.camera.ill = append(s.camera.ill, i)
			}
		}})
		if err != nil {
			return s, err
		}
		s.pipe.Camera = est
	}

	switch spec.Stages.World {
	case "":
	case "static":
		path, err := dir.EnginePath("fov", "moge")
		if err != nil {
			return s, fmt.Errorf("--world static needs the fov/moge engine for point maps: %w", err)
		}
		eng, err := loader("fov")(path)
		if err != nil {
			return s, fmt.Errorf("fov/moge: %w", err)
		}
		est, err := fov.New(eng, fov.Options{})
		if err != nil {
			return s, err
		}
		ws := &world.Stage{Geometry: est, Fit: func(g world.Ground, _ world.Static) { s.ground = &g }}
		switch {
		case spec.Stages.NoFootContact:
			s.notes = append(s.notes, "world: foot contact off")
		case s.body == nil:
			s.notes = append(s.notes, "world: no body model, so no foot contact")
		default:
			body := s.body
			ws.Feet = func(p scene.Params) ([]float32, error) {
				m, err := body.Mesh(p)
				if err != nil {
					return nil, err
				}
				return m.Vertices, nil
			}
		}
		s.pipe.World = ws
	default:
		return s, fmt.Errorf("job: world mode %q: want static", spec.Stages.World)
	}

	sm, err := smoother(spec.Stages.Smooth)
	if err != nil {
		return s, err
	}
	if sm != nil {
		s.pipe.Smoother = sm
	}
	return s, nil
}

// smoother maps a mode name to the smoother the job uses. Kalman and
// One-Euro run with every improvement over the reference on (whole
// tracks, camera translation smoothed, median shape, rotation-safe);
// "reference" is the reference tool's own method and settings.
func smoother(mode string) (body4d.Smoother, error) {
	switch mode {
	case "", "kalman":
		return smooth.Options{Mode: smooth.Kalman, CamT: true}, nil
	case "oneeuro":
		return smooth.Options{Mode: smooth.OneEuro, CamT: true}, nil
	case "reference":
		return smooth.ReferenceOptions(), nil
	case "off":
		return nil, nil
	}
	return nil, fmt.Errorf("job: unknown smoothing mode %q (want kalman, oneeuro, reference or off)", mode)
}

// countWindows sums occlusion recovery's per-person-window report.
func countWindows(ws []amodal.WindowReport) *AmodalWindows {
	var c AmodalWindows
	for _, w := range ws {
		switch {
		case w.Absent:
			c.Absent++
		case w.Skipped:
			c.Skipped++
		default:
			c.Run++
			if w.Occluded {
				c.Completed++
			}
		}
	}
	return &c
}
