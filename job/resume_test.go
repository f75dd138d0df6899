package job

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/masks"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// shortClip writes the first n frames of the sample clip as PNGs, a
// video short enough to run the whole job several times in a test.
func shortClip(t *testing.T, n int) string {
	t.Helper()
	r, err := video.Open(context.Background(), sampleClip(t), video.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	for i := range n {
		img, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

// outputs fingerprints what a job wrote for the user: every file of the
// per-person folders, and every decoded frame of the result video (the
// MP4's bytes may differ by muxing metadata; its pictures may not).
func outputs(t *testing.T, out string) map[string]string {
	t.Helper()
	fp := map[string]string{}
	root := filepath.Join(out, "people")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		fp[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	r, err := video.Open(context.Background(), filepath.Join(out, "result.mp4"), video.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; ; i++ {
		img, err := r.Next()
		if err != nil {
			break
		}
		fp[fmt.Sprintf("frame %d", i)] = fmt.Sprintf("%x", sha256.Sum256(img.Pix))
	}
	return fp
}

// shortMasks copies the sample's true masks of the first n frames.
func shortMasks(t *testing.T, n int) string {
	t.Helper()
	sample, err := SampleDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range n {
		data, err := os.ReadFile(filepath.Join(sample, "clip", "masks", masks.FileName(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, masks.FileName(i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestResume kills jobs at several points and reruns them: every rerun
// must finish with exactly the outputs of an uninterrupted run. The
// masks are given, so every stage after the tracker runs: occlusion
// recovery, camera, mesh, smoothing, outputs and rendering.
func TestResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job several times")
	}
	spec := Spec{Video: shortClip(t, 6), FPS: scene.Rational{Num: 30, Den: 1}, Masks: shortMasks(t, 6),
		Stages: Stages{Quick: true}}
	ctx := context.Background()

	spec.Out = t.TempDir()
	var stages []string // the stage of each progress event
	if _, err := Run(ctx, spec, func(e body4d.Event) { stages = append(stages, e.Stage) }); err != nil {
		t.Fatal(err)
	}
	want := outputs(t, spec.Out)
	// 6 frames, and for each of the 3 people params.json, keypoints.json
	// and a mesh per frame they are on.
	if len(want) < 6+3*2+6 {
		t.Fatalf("clean run wrote only %v", want)
	}

	events := len(stages)
	// Kill in the middle of occlusion recovery, mesh recovery and
	// rendering (1-based event numbers).
	var kills []int
	for _, st := range []string{"amodal", "mesh", "render"} {
		first, last := -1, -1
		for i, s := range stages {
			if s == st {
				last = i
				if first < 0 {
					first = i
				}
			}
		}
		if first < 0 {
			t.Fatalf("no progress from stage %s: %v", st, stages)
		}
		kills = append(kills, (first+last)/2+1)
	}
	for _, killAt := range kills {
		t.Logf("killing at event %d of %d, in stage %s", killAt, events, stages[killAt-1])
		spec.Out = t.TempDir()
		kctx, kill := context.WithCancel(ctx)
		n := 0
		_, err := Run(kctx, spec, func(body4d.Event) {
			if n++; n == killAt {
				kill()
			}
		})
		kill()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("killed at event %d of %d: err %v, want context.Canceled", killAt, events, err)
		}
		if _, err := os.Stat(filepath.Join(spec.Out, "result.mp4")); err == nil {
			t.Errorf("killed at event %d: result.mp4 exists", killAt)
		}
		if _, err := Run(ctx, spec, nil); err != nil {
			t.Fatalf("rerun after kill at %d: %v", killAt, err)
		}
		got := outputs(t, spec.Out)
		keys := slices.Sorted(maps.Keys(want))
		for _, k := range keys {
			if got[k] != want[k] {
				t.Errorf("killed at event %d of %d: %s differs from an uninterrupted run", killAt, events, k)
			}
		}
		if len(got) != len(want) {
			t.Errorf("killed at event %d: %d outputs, want %d", killAt, len(got), len(want))
		}
	}
}

// TestMeshModes runs the job in body and in full mesh mode: full mode
// (hand refinement) must run through the whole job and change the
// parameters it writes, and each mode keeps its own stage cache.
func TestMeshModes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job twice")
	}
	spec := Spec{Video: shortClip(t, 3), FPS: scene.Rational{Num: 30, Den: 1}, Masks: shortMasks(t, 3),
		Stages: Stages{NoAmodal: true}, Out: t.TempDir()}
	params := func(mode string) string {
		spec.Stages.Mesh = mode
		if _, err := Run(context.Background(), spec, nil); err != nil {
			t.Fatalf("mesh mode %q: %v", mode, err)
		}
		b, err := os.ReadFile(filepath.Join(spec.Out, "people", "1", "params.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	body, full := params("body"), params("full")
	if body == full {
		t.Error("full mode wrote the same parameters as body mode")
	}
	if again := params("body"); again != body {
		t.Error("body mode after full mode gave other parameters")
	}
}

// TestAmodalFast: fast occlusion recovery runs through the whole job,
// says so in the summary, and does not reuse the full mode's later
// stages (the mesh cache is keyed by it).
func TestAmodalFast(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job twice")
	}
	spec := Spec{Video: shortClip(t, 4), FPS: scene.Rational{Num: 30, Den: 1}, Masks: shortMasks(t, 4),
		Stages: Stages{Quick: true}, Out: t.TempDir()}
	full, err := Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec.Stages.AmodalFast = true
	sum, err := Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 4 frames: one window for each of the 3 people, counted in both
	// modes; only fast mode may skip.
	for _, s := range []*Summary{full, sum} {
		w := s.AmodalWindows
		if w == nil || w.Run+w.Skipped+w.Absent != 3 || w.Completed > w.Run {
			t.Errorf("amodal windows %+v, want 3 person-windows", w)
		}
	}
	if full.AmodalWindows != nil && full.AmodalWindows.Skipped != 0 {
		t.Errorf("full mode skipped %d windows", full.AmodalWindows.Skipped)
	}
	if !slices.ContainsFunc(sum.Notes, func(n string) bool { return strings.Contains(n, "amodal fast mode") }) {
		t.Errorf("summary notes %q do not mention fast mode", sum.Notes)
	}
	entries, err := filepath.Glob(filepath.Join(spec.Out, "work", "*", "mesh-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("mesh caches %v: want one per amodal mode", entries)
	}
}
