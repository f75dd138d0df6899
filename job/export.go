package job

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/bvh"
	"github.com/body4d/body4d/gltf"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/render"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

// ParseFormats parses a comma-separated list of output formats, each one
// of allowed ("glb", "bvh", "ply", "npz"), without repeats.
func ParseFormats(list string, allowed ...string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(list, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(allowed, f) {
			return nil, fmt.Errorf("unknown export format %q (want %s)", f, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// video is what the exports need to know of the run's video.
type videoFacts struct {
	Rate          scene.Rational
	Frames        int
	Width, Height int
	Camera        *scene.Intrinsics // the first frame's; nil: no camera in scene.glb
}

// writeExports writes formats (see Export) for the people in tracks
// whose ids are in only (all when only is nil) into dir. It returns the
// written files, relative to dir, and notes on people it could not
// animate. The same function serves body4d run --export and body4d
// export, which is why the two write identical bytes.
//
// With space not nil the files are the world-frame ones: people/<id>/world/
// (motion.glb, motion.bvh, mesh_NNNNNN.ply) and scene_world.glb; params.npz
// is not written again (the run writes the world-frame parameters,
// people/<id>/world/params.*, with the trajectories).
func writeExports(ctx context.Context, dir string, tracks []body4d.Track, body *mesh.Body, v videoFacts,
	formats []string, only []scene.PersonID, space *worldSpace) (files, notes []string, err error) {
	if len(formats) == 0 {
		return nil, nil, nil
	}
	if body == nil || body.Model == nil {
		return nil, nil, fmt.Errorf("export %s needs the body model, and the model directory has no mesh stage", strings.Join(formats, ","))
	}
	for _, id := range only {
		if !slices.ContainsFunc(tracks, func(t body4d.Track) bool { return t.ID == id }) {
			var have []string
			for _, t := range tracks {
				have = append(have, strconv.Itoa(int(t.ID)))
			}
			return nil, nil, fmt.Errorf("export: person %d is not in this run (people: %s)", id, strings.Join(have, ", "))
		}
	}
	var all []gltf.Person
	for ti, tr := range tracks {
		if err := ctx.Err(); err != nil {
			return files, notes, err
		}
		selected := only == nil || slices.Contains(only, tr.ID)
		pdir := filepath.Join("people", strconv.Itoa(int(tr.ID)))
		frame := rig.CameraFrame
		if space != nil {
			pdir = filepath.Join(pdir, "world")
			frame = space.frame(ti)
		}
		if selected && space == nil && slices.Contains(formats, "npz") {
			if err := writeParamsNPZ(filepath.Join(dir, pdir, "params.npz"), tr); err != nil {
				return files, notes, err
			}
			files = append(files, filepath.Join(pdir, "params.npz"))
		}
		if selected && slices.Contains(formats, "ply") {
			if err := os.MkdirAll(filepath.Join(dir, pdir), 0o755); err != nil {
				return files, notes, err
			}
			for i, p := range tr.Params {
				if !tr.Present[i] {
					continue
				}
				m, err := body.Mesh(p)
				if err != nil {
					return files, notes, fmt.Errorf("person %d, frame %d: %w", tr.ID, tr.Start+i, err)
				}
				if space != nil {
					space.points(ti, i, m.Vertices)
				}
				name := filepath.Join(pdir, meshName(tr.Start+i))
				if err := writePLY(filepath.Join(dir, name), m); err != nil {
					return files, notes, err
				}
				files = append(files, name)
			}
		}
		if !slices.Contains(formats, "glb") && !slices.Contains(formats, "bvh") {
			continue
		}
		r, err := rig.New(body.Model, tr, rig.Options{Frames: v.Frames, Frame: frame})
		if err != nil {
			if !slices.Contains(tr.Present, true) {
				notes = append(notes, fmt.Sprintf("person %d is present on no frame: no motion.glb or motion.bvh", tr.ID))
				continue
			}
			return files, notes, err
		}
		col, err := render.PersonColor(tr.ID)
		if err != nil {
			return files, notes, err
		}
		gp := gltf.Person{Rig: r, Color: [3]float32{linear(col.R), linear(col.G), linear(col.B)}}
		all = append(all, gp)
		if !selected {
			continue
		}
		if slices.Contains(formats, "glb") {
			name := filepath.Join(pdir, "motion.glb")
			if err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error {
				return gltf.Write(w, gltf.Scene{People: []gltf.Person{gp}, FPS: v.Rate})
			}); err != nil {
				return files, notes, err
			}
			files = append(files, name)
		}
		if slices.Contains(formats, "bvh") {
			name := filepath.Join(pdir, "motion.bvh")
			if err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error { return bvh.Write(w, r, v.Rate) }); err != nil {
				return files, notes, err
			}
			files = append(files, name)
		}
	}
	if slices.Contains(formats, "glb") && len(all) > 0 {
		s := gltf.Scene{People: all, FPS: v.Rate}
		name, camera := "scene.glb", rig.Frame(nil)
		if space != nil {
			name, camera = "scene_world.glb", space.frame(-1)
		}
		if v.Camera != nil {
			s.Camera = &gltf.Camera{K: *v.Camera, Width: v.Width, Height: v.Height, Poses: rig.CameraPoses(camera, v.Frames)}
		}
		if err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error { return gltf.Write(w, s) }); err != nil {
			return files, notes, err
		}
		files = append(files, name)
	}
	return files, notes, nil
}

// linear converts an 8-bit sRGB channel to linear (glTF colour factors
// are linear).
func linear(c uint8) float32 {
	x := float64(c) / 255
	if x <= 0.04045 {
		return float32(x / 12.92)
	}
	return float32(math.Pow((x+0.055)/1.055, 2.4))
}

// writeAtomic writes path through a temporary file, so that a failed
// write never leaves a partial file under the final name.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// ExportOptions say what Export writes.
type ExportOptions struct {
	// Formats: "glb" (people/<id>/motion.glb and scene.glb), "bvh"
	// (people/<id>/motion.bvh), "ply" (people/<id>/mesh_NNNNNN.ply),
	// "npz" (people/<id>/params.npz). A run with a world frame
	// (world.json) also gets glb, bvh and ply in the world frame.
	Formats []string
	// People selects persons by id; nil is everyone. scene.glb always
	// holds everyone.
	People []scene.PersonID
	// Models overrides the model directory the run used (summary.json's
	// "models"); "" uses that one.
	Models string
}

// Export writes a finished run's outputs in dir again from its own
// files (summary.json and each person's params.json), without running
// any stage: the bytes are those the run wrote. It returns the written
// files (relative to dir) and notes.
func Export(ctx context.Context, dir string, opts ExportOptions) (files, notes []string, err error) {
	if len(opts.Formats) == 0 {
		return nil, nil, errors.New("export: no format given (glb, bvh, ply, npz)")
	}
	var sum Summary
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("export: %s is not a finished run: %w", dir, err)
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		return nil, nil, fmt.Errorf("export: %s: %w", filepath.Join(dir, "summary.json"), err)
	}
	if sum.Rate.Num <= 0 || sum.Rate.Den <= 0 || sum.Frames <= 0 {
		return nil, nil, fmt.Errorf("export: %s has no frame rate or frame count (a run from an older body4d: run it again)", filepath.Join(dir, "summary.json"))
	}
	modelDir := opts.Models
	if modelDir == "" {
		modelDir = sum.Models
	}
	var body *mesh.Body
	if slices.ContainsFunc(opts.Formats, func(f string) bool { return f != "npz" }) {
		md, err := models.Open(modelDir)
		if err != nil {
			return nil, nil, fmt.Errorf("export: the run's model directory: %w", err)
		}
		if _, err := md.FilePath("mesh", mesh.FileMHR); err != nil {
			return nil, nil, fmt.Errorf("export %s needs the body model, and model directory %s has none (no mesh stage)", strings.Join(opts.Formats, ","), modelDir)
		}
		if errs := md.Verify(); len(errs) > 0 {
			return nil, nil, fmt.Errorf("export: model directory %s: %w", modelDir, errors.Join(errs...))
		}
		if body, err = mesh.OpenBody(md); err != nil {
			return nil, nil, fmt.Errorf("export: %w", err)
		}
	}
	var tracks []body4d.Track
	for _, p := range sum.People {
		tr, err := readTrack(filepath.Join(dir, "people", strconv.Itoa(int(p.ID)), "params.json"), p.ID)
		if err != nil {
			return nil, nil, err
		}
		tracks = append(tracks, tr)
	}
	v := videoFacts{Rate: sum.Rate, Frames: sum.Frames, Width: sum.Width, Height: sum.Height, Camera: sum.Camera}
	files, notes, err = writeExports(ctx, dir, tracks, body, v, opts.Formats, opts.People, nil)
	if err != nil {
		return files, notes, err
	}
	space, err := readWorldSpace(dir, tracks)
	if err != nil || space == nil {
		return files, notes, err
	}
	wf, _, err := writeExports(ctx, dir, tracks, body, v, worldFormats(opts.Formats), opts.People, space)
	return append(files, wf...), notes, err
}

// readTrack reads a person's params.json back into the track the run
// wrote it from (JSON keeps float32 and float64 values exactly).
func readTrack(path string, id scene.PersonID) (body4d.Track, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return body4d.Track{}, fmt.Errorf("export: person %d: %w", id, err)
	}
	var rows []frameParams
	if err := json.Unmarshal(raw, &rows); err != nil {
		return body4d.Track{}, fmt.Errorf("export: %s: %w", path, err)
	}
	tr := body4d.Track{ID: id}
	for i, r := range rows {
		if i == 0 {
			tr.Start = r.Frame
		} else if r.Frame != tr.Start+i {
			return body4d.Track{}, fmt.Errorf("export: %s: row %d is frame %d, want %d (rows must be consecutive frames)", path, i, r.Frame, tr.Start+i)
		}
		p := scene.Params{Model: r.Model, Shape: r.Shape, CamT: r.CamT, Focal: r.Focal}
		if r.Expr != nil {
			p.Expr = *r.Expr
		}
		tr.Params = append(tr.Params, p)
		tr.Present = append(tr.Present, r.Present)
		tr.Visible = append(tr.Visible, r.Visible)
	}
	return tr, nil
}
