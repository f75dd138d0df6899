package job

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/body4d/body4d"
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

// TestResume kills jobs at several points and reruns them: every rerun
// must finish with exactly the outputs of an uninterrupted run.
func TestResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job several times")
	}
	clip := shortClip(t, 8)
	spec := Spec{Video: clip, FPS: scene.Rational{Num: 30, Den: 1},
		Prompts: scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 90, Y: 175, Person: 1}, {Frame: 2, X: 520, Y: 172, Person: 3}}}}
	ctx := context.Background()

	spec.Out = t.TempDir()
	events := 0
	if _, err := Run(ctx, spec, func(body4d.Event) { events++ }); err != nil {
		t.Fatal(err)
	}
	want := outputs(t, spec.Out)
	if len(want) < 8 {
		t.Fatalf("clean run wrote only %v", want)
	}

	for _, killAt := range []int{1, events / 3, 2 * events / 3, events - 1} {
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
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range want {
				if !yield(k) {
					return
				}
			}
		})
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
