package job

import (
	"context"
	"maps"
	"strings"
	"testing"

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
	spec := func() Spec {
		return Spec{Video: clip, FPS: scene.Rational{Num: 30, Den: 1}, Masks: shortMasks(t, 3), Out: t.TempDir(),
			Stages: Stages{Quick: true}}
	}
	alone := spec()
	if _, err := Run(ctx, alone, nil); err != nil {
		t.Fatal(err)
	}
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
