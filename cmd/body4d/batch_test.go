package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBatch runs a three-line list on the sample clip with the tiny
// models: two good lines and one whose click is outside the frame. The
// bad line fails without stopping the shard, the good ones match body4d
// run byte for byte, a rerun skips them, and a changed setting reruns.
func TestBatch(t *testing.T) {
	clip, err := filepath.Abs(filepath.Join("..", "..", "sample", "clip", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "list.jsonl")
	clicks := `[{"frame":0,"x":90,"y":175,"person":1},{"frame":0,"x":520,"y":172,"person":2}]`
	lines := `{"video":"` + clip + `","id":"a","frames":3,"clicks":` + clicks + `}
{"video":"` + clip + `","id":"bad","frames":3,"clicks":[{"frame":0,"x":5000,"y":10,"person":1}]}
{"video":"` + clip + `","id":"b","frames":3,"clicks":` + clicks + `,"settings":{"smooth":"off"}}
`
	if err := os.WriteFile(list, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := cli(t, "batch", list, "--out", out, "--quick", "--shard", "0/1")
	if code != 1 {
		t.Fatalf("batch: exit %d, want 1 (one video failed)\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "bad (line 2)") {
		t.Errorf("stderr does not name the failed video: %s", stderr)
	}
	var rep shardReport
	data, err := os.ReadFile(filepath.Join(out, "_shards", "0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range rep.Videos {
		got[v.ID] = v.Status
		if v.Status == "failed" && v.Error == "" {
			t.Errorf("%s failed with no error recorded", v.ID)
		}
	}
	if got["a"] != "done" || got["b"] != "done" || got["bad"] != "failed" || len(got) != 3 {
		t.Fatalf("report = %s", data)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		// Only the failed video keeps its partial folder (its stage
		// caches, for a retry); no finished video leaves one.
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".partial-bad" {
			t.Errorf("leftover %s after the shard finished", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bad")); err == nil {
		t.Error("the failed video has an output folder")
	}

	// The same video alone with body4d run: the same MP4, byte for byte.
	alone := filepath.Join(dir, "alone")
	if code, so, se := cli(t, "run", clip, "--out", alone, "--quiet", "--quick", "--frames", "3", "--clicks", writeTemp(t, dir, clicks)); code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, so, se)
	}
	for _, name := range []string{"result.mp4"} {
		x, _ := os.ReadFile(filepath.Join(alone, name))
		y, _ := os.ReadFile(filepath.Join(out, "a", name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs from body4d run's (%d vs %d bytes)", name, len(x), len(y))
		}
	}

	// status sees two done and one failed.
	code, stdout, _ = cli(t, "batch", "status", list, "--out", out, "--json")
	if code != 0 || !strings.Contains(stdout, `"done": 2`) || !strings.Contains(stdout, `"id": "bad"`) {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}

	// Rerun without the bad line: both skipped. Then a changed setting
	// reruns only that video.
	good := strings.Join([]string{strings.Split(lines, "\n")[0], strings.Split(lines, "\n")[2]}, "\n")
	if err := os.WriteFile(list, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = cli(t, "batch", list, "--out", out, "--quick")
	if code != 0 || strings.Count(stdout, "skipped ") != 2 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	changed := strings.Replace(good, `"smooth":"off"`, `"smooth":"oneeuro"`, 1)
	if err := os.WriteFile(list, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = cli(t, "batch", list, "--out", out, "--quick")
	if code != 0 || !strings.Contains(stdout, "skipped a") || !strings.Contains(stdout, "done b") {
		t.Fatalf("rerun after a change: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestBatchBadList(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list.jsonl")
	os.WriteFile(list, []byte(`{"video":"nope.mp4","clicks":[{"x":1,"y":1,"person":1}]}
{"video":"nope2.mp4"}
`), 0o644)
	code, _, stderr := cli(t, "batch", list, "--out", filepath.Join(dir, "out"))
	if code != 1 || !strings.Contains(stderr, "line 1: video nope.mp4") || !strings.Contains(stderr, "line 2:") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("a bad list created the output folder")
	}
	code, stdout, _ := cli(t, "batch", "plan", list, "--shards", "2")
	if code != 1 || stdout != "" {
		t.Errorf("plan of a bad list: exit %d, %s", code, stdout)
	}
}

func writeTemp(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "clicks.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
