package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBatchHelperProcess is not a test: TestBatchShardsExactlyOnce runs
// the test binary with BODY4D_BATCH_HELPER set, and this runs body4d with
// the arguments it names, as a separate worker process would.
func TestBatchHelperProcess(t *testing.T) {
	args := os.Getenv("BODY4D_BATCH_HELPER")
	if args == "" {
		t.Skip("helper process only")
	}
	os.Exit(run(context.Background(), strings.Split(args, "\n"), os.Stdout, os.Stderr))
}

// TestBatchShardsExactlyOnce runs a Kubernetes Indexed Job's workers as
// separate, concurrent processes, JOB_COMPLETION_INDEX 0..N-1 with
// BODY4D_SHARDS=N, over one output folder: every video is done by exactly
// one shard and none is left unfinished.
func TestBatchShardsExactlyOnce(t *testing.T) {
	clip, err := filepath.Abs(filepath.Join("..", "..", "sample", "clip", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var lines []string
	const videos, shards = 5, 3
	for i := range videos {
		lines = append(lines, fmt.Sprintf(`{"video":%q,"id":"v%d","frames":%d,"clicks":[{"x":90,"y":175,"person":1}]}`, clip, i, 2+i%3))
	}
	list := filepath.Join(dir, "list.jsonl")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := strings.Join([]string{"batch", list, "--out", out, "--quick", "--no-amodal"}, "\n")
	cmds := make([]*exec.Cmd, shards)
	logs := make([]strings.Builder, shards)
	for i := range cmds {
		c := exec.Command(os.Args[0], "-test.run=^TestBatchHelperProcess$")
		c.Env = append(os.Environ(), "BODY4D_BATCH_HELPER="+args, "JOB_COMPLETION_INDEX="+strconv.Itoa(i), "BODY4D_SHARDS="+strconv.Itoa(shards))
		c.Stdout, c.Stderr = &logs[i], &logs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, logs[i].String())
		}
	}
	doneBy := map[string][]int{}
	for i := range shards {
		data, err := os.ReadFile(filepath.Join(out, "_shards", strconv.Itoa(i)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep shardReport
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Shard != fmt.Sprintf("%d/%d", i, shards) {
			t.Errorf("report %d is for shard %s", i, rep.Shard)
		}
		for _, v := range rep.Videos {
			if v.Status != "done" {
				t.Errorf("shard %d: %s %s %s", i, v.ID, v.Status, v.Error)
			}
			doneBy[v.ID] = append(doneBy[v.ID], i)
		}
	}
	for i := range videos {
		id := "v" + strconv.Itoa(i)
		if len(doneBy[id]) != 1 {
			t.Errorf("%s done by shards %v, want exactly one", id, doneBy[id])
		}
		if _, err := os.Stat(filepath.Join(out, id, "done.json")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if len(doneBy) != videos {
		t.Errorf("reports name %d videos, want %d", len(doneBy), videos)
	}
}
