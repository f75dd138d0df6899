package job

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// TestModelsShared: jobs run one after another on one Models load each
// engine once (the second job loads none) and write what a job on its
// own Models writes; a spec naming other models or another device is
// refused.
func TestModelsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job three times")
	}
	ctx := context.Background()
	clip := shortClip(t, 3)
	spec, alone := quickSpecs(t)
	m, err := OpenModels("", "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Loaded() != 0 {
		t.Fatalf("%d engines loaded before any job", m.Loaded())
	}
	first, second := spec(), spec()
	if _, err := m.Run(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	n := m.Loaded()
	if n == 0 {
		t.Fatal("the first job loaded no engine")
	}
	sum, err := m.Run(ctx, second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Loaded() != n {
		t.Errorf("the second job loaded %d more engines", m.Loaded()-n)
	}
	if len(sum.Notes) == 0 || sum.Notes[0] != TinyModelsNote {
		t.Errorf("notes %q: want the tiny models' note first", sum.Notes)
	}
	want := outputs(t, alone.Out)
	for name, s := range map[string]Spec{"first": first, "second": second} {
		if got := outputs(t, s.Out); !maps.Equal(got, want) {
			t.Errorf("%s job on shared models: outputs differ from a job on its own models", name)
		}
	}

	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Video: clip, Out: t.TempDir(), Models: t.TempDir()}, "model directory"},
		{Spec{Video: clip, Out: t.TempDir(), Device: "cuda"}, "device cuda"},
	} {
		if _, err := m.Run(ctx, tc.spec, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v; want it to mention %q", err, tc.want)
		}
	}
}

// TestStageResidency: the rule that picks per-stage loading, and a job
// run that way (each stage's engines closed when the next stage starts,
// reopened when run) writes the same files as one that keeps every
// engine loaded.
func TestStageResidency(t *testing.T) {
	dir := tinyModels(t)
	total := modelBytes(dir)
	if total < 1<<20 {
		t.Fatalf("the tiny model files take %d bytes: the sizes were not read", total)
	}
	for _, c := range []struct {
		mem  uint64
		want bool
	}{{0, false}, {2 * total, false}, {2*total - 2, true}, {total, true}} {
		got, note := stageResidency(dir, c.mem)
		if got != c.want || (note != "") != c.want {
			t.Errorf("memory %d, model files %d: per stage %v (note %q), want %v", c.mem, total, got, note, c.want)
		}
	}

	if testing.Short() {
		t.Skip("runs the whole job twice")
	}
	ctx := context.Background()
	spec, kept := quickSpecs(t)
	m, err := OpenModels("", "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.perStage, m.residency = true, "per stage (test)"
	loaded := func() map[string]int {
		m.mu.Lock()
		defer m.mu.Unlock()
		n := map[string]int{}
		for k, r := range m.engines {
			r.mu.RLock()
			if r.e != nil {
				n[k.stage]++
			}
			r.mu.RUnlock()
		}
		return n
	}
	// As each stage starts, no other stage's engine is loaded (the
	// camera stage runs fov's).
	var wrong []string
	byStage := spec()
	if _, err := m.Run(ctx, byStage, func(e body4d.Event) {
		if e.Done != 0 || e.Total != 0 {
			return
		}
		own := engineStage(e.Stage)
		for stage := range loaded() {
			if stage != own {
				wrong = append(wrong, fmt.Sprintf("%s loaded as %s starts", stage, e.Stage))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, w := range wrong {
		t.Error(w)
	}
	if !maps.Equal(outputs(t, byStage.Out), outputs(t, kept.Out)) {
		t.Error("a job with per-stage engines wrote other outputs than one with every engine kept")
	}
	// The stages after mesh run no engine, so mesh's were released too.
	if got := loaded(); len(got) != 0 {
		t.Errorf("after the job, engines still loaded by stage: %v", got)
	}
	// Opening an engine read only its contract, from the file: each was
	// loaded once, by its stage's first Run (it used to be loaded at open
	// too, and released).
	m.mu.Lock()
	defer m.mu.Unlock()
	loads := 0
	for k, r := range m.engines {
		if r.loads > 1 {
			t.Errorf("%s/%s loaded %d times in one job", k.stage, filepath.Base(k.path), r.loads)
		}
		loads += r.loads
	}
	if loads == 0 {
		t.Error("no engine was loaded")
	}
}

// quickSpecs returns a maker of quick job specs on a 3-frame clip with
// given masks, each writing to its own folder, and one such spec already
// run on its own Models.
func quickSpecs(t *testing.T) (func() Spec, Spec) {
	t.Helper()
	clip := shortClip(t, 3)
	spec := func() Spec {
		return Spec{Video: clip, FPS: scene.Rational{Num: 30, Den: 1}, Masks: shortMasks(t, 3), Out: t.TempDir(),
			Stages: Stages{Quick: true}}
	}
	alone := spec()
	if _, err := Run(context.Background(), alone, nil); err != nil {
		t.Fatal(err)
	}
	return spec, alone
}

// tinyModels opens the built-in tiny model directory.
func tinyModels(t *testing.T) *models.Dir {
	t.Helper()
	sample, err := SampleDir()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := models.Open(filepath.Join(sample, "models", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
