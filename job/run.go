package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/internal/proc"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
	"github.com/body4d/body4d/world"
)

// TinyModelsNote is the line said whenever the built-in tiny models run.
const TinyModelsNote = "using the built-in tiny models (random weights): their output is not meaningful; use a model directory for real results"

// Run runs one job on its own Models (Spec.Models on Spec.Device). It
// checks the model directory before decoding, so a broken one fails in a
// second rather than after minutes of work, and it reports progress
// through progress (which may be nil). On error it returns the summary
// of what was done so far alongside the error; outputs already written
// stay in the work directory, so a rerun of the same spec resumes
// instead of recomputing.
func Run(ctx context.Context, spec Spec, progress func(body4d.Event)) (*Summary, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	m, err := openModels(spec.Models, spec.Device, spec.openers())
	if err != nil {
		return &Summary{Video: spec.Video, Models: spec.Models, Clicks: spec.Prompts.Clicks}, err
	}
	defer m.Close()
	loaded := body4d.StageTime{Stage: "models", Ran: true, Wall: time.Since(t0), PeakRSS: proc.PeakRSS()}
	return m.run(ctx, spec, progress, &loaded)
}

// Run runs one job on m, whose engines stay loaded for the next one.
// Spec.Models and Spec.Device, when given, must be m's.
func (m *Models) Run(ctx context.Context, spec Spec, progress func(body4d.Event)) (*Summary, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if spec.Models != "" && filepath.Clean(spec.Models) != filepath.Clean(m.path) {
		return nil, fmt.Errorf("job: spec names model directory %s, but these models are %s", spec.Models, m.path)
	}
	if spec.Device != "" && spec.Device != m.dev.name {
		return nil, fmt.Errorf("job: spec names device %s, but these models run on %s", spec.Device, m.dev.name)
	}
	return m.run(ctx, spec, progress, nil)
}

func (s Spec) check() error {
	if s.Video == "" {
		return errors.New("job: no video given")
	}
	if s.Out == "" {
		return errors.New("job: no output directory given")
	}
	return nil
}

// run runs one job; loaded, when not nil, is the time Run took to open
// the models, reported first in the profile.
func (m *Models) run(ctx context.Context, spec Spec, progress func(body4d.Event), loaded *body4d.StageTime) (*Summary, error) {
	if progress == nil {
		progress = func(body4d.Event) {}
	}
	sum := &Summary{Video: spec.Video, Clicks: spec.Prompts.Clicks, StagesRan: []string{}, StagesSkipped: []string{}}
	sum.Models, sum.ModelSet, sum.Notes = m.path, m.dir.Manifest.Name, m.notes()
	if loaded != nil {
		sum.Profile = append(sum.Profile, *loaded)
	}
	if err := removeAbandoned(spec.Out); err != nil {
		return sum, err
	}
	timed := func(name string, fn func() error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		err := fn()
		sum.Profile = append(sum.Profile, body4d.StageTime{Stage: name, Ran: true, Wall: time.Since(t0), PeakRSS: proc.PeakRSS()})
		return err
	}
	dev, modelDir := m.dev, m.path

	// Decode once into the frame store. Its folder is named for the
	// video's content, so a different video never reuses old frames.
	id, err := videoID(spec.Video)
	if err != nil {
		return sum, err
	}
	workDir := filepath.Join(spec.Out, "work", id)
	var store *video.Store
	decoded := CacheUse{Stage: "decode", Unit: "video"}
	if err := timed("decode", func() (err error) {
		var loaded bool
		store, loaded, err = openOrImport(ctx, spec.Video, video.Options{FPS: spec.FPS, Untrusted: spec.Untrusted}, filepath.Join(workDir, "frames"), progress)
		if loaded {
			decoded.Loaded++
		} else {
			decoded.Computed++
		}
		return err
	}); err != nil {
		return sum, err
	}
	sum.Cache = append(sum.Cache, decoded)
	defer store.Close()
	var frames scene.FrameSource = store
	if spec.Frames < 0 {
		return sum, fmt.Errorf("job: %d frames: want a positive number, or 0 for all", spec.Frames)
	}
	if spec.Frames > 0 && spec.Frames < store.Info().Frames {
		frames = firstFrames{store, spec.Frames}
	}
	info := frames.Info()
	sum.Width, sum.Height, sum.Frames, sum.FPS, sum.Rate = info.Width, info.Height, info.Frames, info.FPS.String(), info.FPS
	given := len(spec.Prompts.Clicks)+len(spec.Prompts.Boxes) > 0
	if (spec.Masks == "" && spec.Auto == nil) || given {
		if err := spec.Prompts.Validate(info); err != nil {
			return sum, fmt.Errorf("job: %w", err)
		}
	}
	if spec.Auto != nil {
		if err := timed("detect", func() (err error) {
			spec.Prompts, sum.Auto, err = findPeople(ctx, m, spec, frames, workDir)
			return err
		}); err != nil {
			return sum, err
		}
	}

	st, err := buildStages(m, spec, info, workDir, progress)
	defer st.close()
	if err != nil {
		return sum, err
	}
	sum.Notes = append(sum.Notes, st.notes...)
	for _, f := range spec.Export {
		if f != "glb" && f != "bvh" {
			return sum, fmt.Errorf("job: export format %q: a run writes glb and bvh (ply and npz it always writes)", f)
		}
	}
	if len(spec.Export) > 0 && st.body == nil {
		return sum, fmt.Errorf("job: --export %s needs the body model, and model directory %s has no mesh stage", strings.Join(spec.Export, ","), modelDir)
	}
	var (
		releaseMu   sync.Mutex // a stage's own events may come from its goroutines
		releaseErrs []error
	)
	st.pipe.Progress = func(e body4d.Event) {
		if e.Done == 0 && e.Total == 0 { // a stage starts
			if err := m.startStage(e.Stage); err != nil {
				releaseMu.Lock()
				releaseErrs = append(releaseErrs, err)
				releaseMu.Unlock()
			}
		}
		progress(e)
	}
	if dev.name != "cpu" {
		st.pipe.DeviceMemory = func() (int64, error) {
			devs, err := gpu.Devices()
			if err != nil {
				return 0, err
			}
			return int64(devs[0].UsedBytes), nil // device 0: where ONNX Runtime's and the trt backend's engines run
		}
	}
	meshBefore := cacheFiles(st.meshDir, info.Frames)
	res, runErr := st.pipe.Run(ctx, frames, spec.Prompts)
	releaseMu.Lock()
	releaseErr := errors.Join(releaseErrs...)
	releaseMu.Unlock()
	if err := releaseErr; err != nil {
		sum.Notes = append(sum.Notes, "models: releasing a stage's engines: "+err.Error())
	}
	if res != nil {
		sum.Profile = append(sum.Profile, res.Profile...)
		if len(res.Cameras) > 0 {
			sum.Camera = &res.Cameras[0]
		}
		for _, s := range res.Profile {
			if s.Ran {
				sum.StagesRan = append(sum.StagesRan, s.Stage)
			} else {
				sum.StagesSkipped = append(sum.StagesSkipped, s.Stage+": "+s.Skipping)
			}
		}
	}
	sum.AmodalWindows = st.windows
	sum.CameraIllConditioned = st.camera.ill
	if n := st.camera.note(); n != "" {
		sum.Notes = append(sum.Notes, n)
	}
	if errors.Is(runErr, world.ErrNoGround) {
		// The camera-frame results are whole; only the world frame is missing.
		sum.Notes = append(sum.Notes, runErr.Error()+": outputs stay in the camera frame, no world frame written")
		runErr = nil
	}
	sum.World = st.ground
	// A moving camera refuses the world frame, but the camera-frame
	// outputs are written first so that nothing computed is lost.
	var worldErr error
	if errors.Is(runErr, world.ErrMoving) {
		worldErr, runErr = runErr, nil
		sum.Notes = append(sum.Notes, worldErr.Error()+": camera-frame outputs written, no world frame")
	}
	if runErr != nil {
		return sum, runErr
	}
	if st.pipe.Segmenter != nil {
		sum.Cache = append(sum.Cache, CacheUse{Stage: "segment", Unit: "frame", Computed: st.tracked})
	}
	if st.amodalCache != nil {
		sum.Cache = append(sum.Cache, *st.amodalCache)
	}
	if st.meshDir != "" {
		sum.Cache = append(sum.Cache, meshCache(meshBefore, cacheFiles(st.meshDir, info.Frames)))
	}

	if err := timed("outputs", func() (err error) {
		if res.Masks != nil {
			sum.Masks = filepath.Join(spec.Out, "masks")
			if err := writeMasks(sum.Masks, res.Masks, info.Frames); err != nil {
				return err
			}
		}
		sum.People, err = writePeople(ctx, filepath.Join(spec.Out, "people"), res, st.body)
		if err != nil || res.World == nil || st.ground == nil {
			return err
		}
		notes, err := writeWorld(spec.Out, res, *st.ground, sum.People, st.body)
		sum.Notes = append(sum.Notes, notes...)
		return err
	}); err != nil {
		return sum, err
	}
	out := filepath.Join(spec.Out, "result.mp4")
	if err := timed("render", func() error {
		return writeVideo(ctx, frames, res, st.body, sum.People, spec, st.kernels, out, progress)
	}); err != nil {
		return sum, err
	}
	sum.Output = out
	if len(spec.Export) > 0 {
		if err := timed("export", func() (err error) {
			v := videoFacts{Rate: info.FPS, Frames: info.Frames, Width: info.Width, Height: info.Height, Camera: sum.Camera}
			var notes []string
			sum.Exports, notes, err = writeExports(ctx, spec.Out, res.Tracks, st.body, v, spec.Export, nil, nil)
			sum.Notes = append(sum.Notes, notes...)
			if err != nil || res.World == nil {
				return err
			}
			// The same files again in the world frame (params stay in the
			// camera frame: world.json's transform places them).
			files, _, err := writeExports(ctx, spec.Out, res.Tracks, st.body, v, worldFormats(spec.Export), nil, newWorldSpace(res.World, res.Tracks))
			sum.Exports = append(sum.Exports, files...)
			return err
		}); err != nil {
			return sum, err
		}
	}
	if sum.Work, err = finishWork(spec, workDir); err != nil {
		return sum, err
	}
	if err := writeJSON(filepath.Join(spec.Out, "summary.json"), sum); err != nil {
		return sum, err
	}
	return sum, worldErr
}

// finishWork measures the work directory and, with Spec.DropWork, removes
// it (and Out/work when nothing else is left there).
func finishWork(spec Spec, workDir string) (WorkDir, error) {
	w := WorkDir{Dir: workDir, Kept: !spec.DropWork}
	var err error
	if w.Bytes, err = DirBytes(workDir); err != nil {
		return w, fmt.Errorf("job: work directory: %w", err)
	}
	if !spec.DropWork {
		return w, nil
	}
	if err := os.RemoveAll(workDir); err != nil {
		return w, fmt.Errorf("job: removing the work directory: %w", err)
	}
	// Only when empty: other videos' work directories stay.
	if err := os.Remove(filepath.Dir(workDir)); err != nil && !errors.Is(err, os.ErrNotExist) && !isNotEmpty(err) {
		return w, fmt.Errorf("job: removing the work directory: %w", err)
	}
	return w, nil
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// DirBytes is the total size of the regular files under dir.
func DirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// firstFrames is the first n frames of a video.
type firstFrames struct {
	scene.FrameSource
	n int
}

func (f firstFrames) Info() scene.VideoInfo {
	info := f.FrameSource.Info()
	info.Frames = f.n
	return info
}

func (f firstFrames) Frame(i int) (*scene.RGB, error) {
	if i < 0 || i >= f.n {
		return nil, fmt.Errorf("frame %d does not exist (using the first %d frames)", i, f.n)
	}
	return f.FrameSource.Frame(i)
}

// removeAbandoned deletes the temporary files a killed run left in the
// output directory (the encoder's .result.mp4.*.tmp, the writers'
// NAME.tmp), which nothing would otherwise remove. One job writes an
// output directory at a time, so none of them is still being written.
func removeAbandoned(out string) error {
	var paths []string
	for _, pattern := range []string{"*.tmp", ".*.tmp", filepath.Join("people", "*", "*.tmp")} {
		m, err := filepath.Glob(filepath.Join(out, pattern))
		if err != nil {
			return err
		}
		paths = append(paths, m...)
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("job: removing a killed run's temporary file: %w", err)
		}
	}
	return nil
}

// openOrImport opens the frame store in dir, or (re)imports the video
// into it; loaded says the store was already complete.
func openOrImport(ctx context.Context, videoPath string, vopt video.Options, dir string, progress func(body4d.Event)) (s *video.Store, loaded bool, err error) {
	if s, err := video.OpenStore(dir, video.StoreOptions{}); err == nil {
		return s, true, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, false, err
	}
	s, err = video.ImportFile(ctx, videoPath, vopt, dir, video.StoreOptions{
		Progress: func(done, total int) { progress(body4d.Event{Stage: "decode", Done: done, Total: total}) },
	})
	return s, false, err
}

// cacheFiles lists the mesh stage's stored frames (mesh_%08d.json, the
// mesh package's file names) of the first n frames in dir.
func cacheFiles(dir string, n int) map[int]os.FileInfo {
	files := map[int]os.FileInfo{}
	if dir == "" {
		return files
	}
	for f := range n {
		if fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("mesh_%08d.json", f))); err == nil {
			files[f] = fi
		}
	}
	return files
}

// meshCache counts the mesh frames this run read back (the same file
// before and after: the store replaces a file it recomputes) and those
// it wrote.
func meshCache(before, after map[int]os.FileInfo) CacheUse {
	c := CacheUse{Stage: "mesh", Unit: "frame"}
	for f, fi := range after {
		if old, ok := before[f]; ok && os.SameFile(old, fi) && old.ModTime().Equal(fi.ModTime()) {
			c.Loaded++
		} else {
			c.Computed++
		}
	}
	return c
}

// videoID names a video by its content: a hash of every file's name,
// size and bytes (a folder's images in order), so a changed or different
// video gets a fresh work directory.
func videoID(path string) (string, error) {
	h := sha256.New()
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("video %s: %w", path, err)
	}
	add := func(p string) error {
		file, err := os.Open(p)
		if err != nil {
			return err
		}
		defer file.Close()
		fmt.Fprintf(h, "%s\x00", filepath.Base(p))
		_, err = io.Copy(h, file)
		return err
	}
	if !st.IsDir() {
		err = add(path)
	} else {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if err == nil && p != path {
					return filepath.SkipDir
				}
				return err
			}
			return add(p)
		})
	}
	if err != nil {
		return "", fmt.Errorf("video %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// key hashes the values a stage's cached outputs depend on, so that a
// change of clicks, models or settings never picks up stale files.
func key(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		data, err := json.Marshal(p)
		if err != nil {
			// Only plain data is hashed; a failure is a programming error.
			panic(fmt.Sprintf("job: hashing %T: %v", p, err))
		}
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
