package batch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseList(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.mp4"))
	writeFile(t, filepath.Join(dir, "b.mp4"))
	if err := os.Mkdir(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := `# a comment
{"video":"a.mp4","clicks":[{"frame":0,"x":10,"y":20,"person":1},{"frame":3,"x":1,"y":2,"person":2}],"frames":40}

{"video":"b.mp4","id":"second","masks":"m","settings":{"smooth":false}}
{"video":"b.mp4","id":"found"}
`
	es, err := ParseList(strings.NewReader(good), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Auto || es[1].Auto || !es[2].Auto || es[2].ID != "found" {
		t.Errorf("automatic prompts: %+v, want them on the line with neither clicks nor masks only", es)
	}
	if len(es) < 2 || es[0].ID != "a" || es[0].Line != 2 || es[0].People() != 2 || es[0].Frames != 40 ||
		es[1].ID != "second" || es[1].Line != 4 || es[1].Masks != filepath.Join(dir, "m") || es[1].People() != 1 {
		t.Fatalf("entries = %+v", es)
	}

	bad := `{"video":"a.mp4","clicks":[{"x":1,"y":1,"person":1}]}
{"video":"missing.mp4","clicks":[{"x":1,"y":1,"person":1}]}
{"video":"b.mp4","id":"a","clicks":[{"x":1,"y":1,"person":1}]}
{"video":"b.mp4","id":"c","clicks":[{"x":1,"y":1,"person":0}]}
{"video":"b.mp4","id":"d","clicks":[{"x":1,"y":1,"persn":1}]}
{"video":"b.mp4","id":"e","masks":"absent"}
{"video":"b.mp4","id":"../f","clicks":[{"x":1,"y":1,"person":1}]}
{"video":"b.mp4","id":"g","frames":5,"clicks":[{"frame":5,"x":1,"y":1,"person":1}]}
not json
`
	_, err = ParseList(strings.NewReader(bad), dir)
	var le ListError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a ListError", err)
	}
	want := map[int]string{
		2: "missing.mp4", 3: `duplicate id "a" (also on line 1)`, 4: "person 0", 5: "unknown field",
		6: "absent", 7: "not a usable folder name", 8: "past the line's 5 frames", 9: "not a JSON object",
	}
	if len(le) != len(want) {
		t.Fatalf("got %d line errors, want %d:\n%v", len(le), len(want), err)
	}
	for _, e := range le {
		if w, ok := want[e.Line]; !ok || !strings.Contains(e.Error(), w) {
			t.Errorf("line %d: %v, want it to contain %q", e.Line, e, w)
		}
	}
}

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/5"); err != nil || s != (Shard{2, 5}) {
		t.Fatalf("2/5: %v %v", s, err)
	}
	for _, bad := range []string{"5/5", "-1/3", "1", "a/3", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	cases := []struct {
		env    map[string]string
		shards int
		want   Shard
		from   string
		bad    bool
	}{
		{map[string]string{"JOB_COMPLETION_INDEX": "3"}, 4, Shard{3, 4}, "kubernetes", false},
		{map[string]string{"JOB_COMPLETION_INDEX": "3"}, 0, Shard{}, "kubernetes", true},
		{map[string]string{"JOB_COMPLETION_INDEX": "4"}, 4, Shard{}, "kubernetes", true},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, 0, Shard{2, 4}, "slurm", false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_MAX": "13"}, 0, Shard{2, 4}, "slurm", false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, 0, Shard{}, "slurm", true},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, 3, Shard{1, 3}, "slurm", false},
		{map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "0", "AWS_BATCH_JOB_ARRAY_SIZE": "2"}, 0, Shard{0, 2}, "aws-batch", false},
		{map[string]string{"CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "x"}, 0, Shard{}, "cloud-run", true},
		{map[string]string{"CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "2"}, 0, Shard{1, 2}, "cloud-run", false},
	}
	for i, c := range cases {
		s, from, ok, err := ShardFromEnv(func(k string) string { return c.env[k] }, c.shards)
		if !ok || from != c.from || (err != nil) != c.bad || (!c.bad && s != c.want) {
			t.Errorf("case %d %v: %v %q %v %v", i, c.env, s, from, ok, err)
		}
	}
	if _, _, ok, err := ShardFromEnv(func(string) string { return "" }, 0); ok || err != nil {
		t.Errorf("empty env: ok=%v err=%v", ok, err)
	}
}

func TestPlanBalances(t *testing.T) {
	// One long clip and many short ones: LPT puts the long one alone.
	w := []int64{100, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}
	p := Plan(w, 2)
	if !slices.Equal(p[0], []int{0}) || len(p[1]) != 10 {
		t.Fatalf("plan = %v", p)
	}
	if got := Plan([]int64{5, 5, 5}, 5); len(got) != 5 || len(got[3]) != 0 {
		t.Fatalf("more shards than items: %v", got)
	}
}

// FuzzPlan checks that for any weights and shard count the shards
// partition the list: every index exactly once, and the same plan twice.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 0, 7}, uint8(3))
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{9, 9, 9, 9}, uint8(7))
	f.Fuzz(func(t *testing.T, raw []byte, n8 uint8) {
		n := int(n8)%16 + 1
		w := make([]int64, len(raw))
		for i, b := range raw {
			w[i] = int64(b) * int64(b%5)
		}
		p := Plan(w, n)
		if len(p) != n {
			t.Fatalf("%d shards, want %d", len(p), n)
		}
		seen := make([]int, len(w))
		for _, s := range p {
			for _, i := range s {
				seen[i]++
			}
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("item %d in %d shards: %v", i, c, p)
			}
		}
		q := Plan(w, n)
		for s := range p {
			if !slices.Equal(p[s], q[s]) {
				t.Fatalf("plan not deterministic: %v vs %v", p, q)
			}
		}
	})
}
