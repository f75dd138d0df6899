package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/body4d/body4d/internal/outtest"
)

// TestSlurmArray runs the Slurm example on a real (one-node) Slurm
// cluster: sbatch --array=0-3%2 over 8 short clips, 2 of them bad. While
// the array runs, one task is cancelled with scancel in the middle of a
// video and then requeued. At the end every good video is done exactly
// once, byte for byte what body4d run writes for it alone; the bad ones
// are reported with their errors; no half-written output folder exists;
// and the interrupted video resumed from its stage caches.
//
// It needs the cluster of scripts/setup-slurm.sh (SLURM_CONF pointing at
// its slurm.conf) and runs only with BODY4D_SLURM=1, as make test does.
func TestSlurmArray(t *testing.T) {
	if os.Getenv("BODY4D_SLURM") == "" {
		t.Skip("submits to a Slurm cluster: run with BODY4D_SLURM=1 and SLURM_CONF=$(scripts/setup-slurm.sh)")
	}
	for _, tool := range []string{"sbatch", "squeue", "scancel", "scontrol", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (scripts/setup-slurm.sh installs Slurm)", tool, err)
		}
	}
	// A hang guard, not a time limit on the work.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	b4d := filepath.Join(bin, "body4d")
	sh(t, ctx, "", nil, "go", "build", "-o", b4d, "../cmd/body4d")
	sample, err := filepath.Abs("../sample")
	if err != nil {
		t.Fatal(err)
	}
	tiny := filepath.Join(sample, "models", "tiny")

	// Six good clips cut from the sample, a file of random bytes, and a
	// good clip with a click outside its frame (only the run can tell).
	clips := filepath.Join(work, "clips")
	os.MkdirAll(clips, 0o755)
	var good []string
	var lines []string
	for k := range 6 {
		id := fmt.Sprintf("good-%d", k)
		sh(t, ctx, "", nil, "ffmpeg", "-v", "error", "-ss", fmt.Sprint(0.5*float64(k)), "-i", filepath.Join(sample, "clip", "sample.mp4"),
			"-frames:v", "10", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", filepath.Join(clips, id+".mp4"))
		good = append(good, id)
		lines = append(lines, fmt.Sprintf(`{"video":"clips/%s.mp4","id":%q}`, id, id))
	}
	junk := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(clips, "junk.mp4"), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{"bad-junk": "junk.mp4", "bad-click": "outside the 640x360 frame"}
	lines = slices.Insert(lines, 2, `{"video":"clips/junk.mp4","id":"bad-junk"}`)
	lines = slices.Insert(lines, 5, `{"video":"clips/good-1.mp4","id":"bad-click","clicks":[{"frame":0,"x":5000,"y":10,"person":1}]}`)
	list := filepath.Join(work, "list.jsonl")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out")
	// The workers run in the test's folders, away from the checkout's
	// ONNX Runtime (scripts/setup.sh).
	ortLib := os.Getenv("BODY4D_ORT_LIB")
	if ortLib == "" {
		if ortLib, err = filepath.Abs("../.deps/onnxruntime/lib/libonnxruntime.so.1"); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "BODY4D_ORT_LIB="+ortLib, "PATH="+bin+":"+os.Getenv("PATH"),
		"BODY4D_MODELS="+tiny, "BODY4D_DEVICE=cpu", "BODY4D_BATCH_FLAGS=--quick")
	shardOf := plan(t, sh(t, ctx, work, env, b4d, "batch", "plan", list, "--shards", "4"))

	// The reference: each good clip alone, as body4d run writes it.
	ref := filepath.Join(work, "ref")
	for _, id := range good {
		sh(t, ctx, work, env, b4d, "run", filepath.Join(clips, id+".mp4"), "--auto", "--quick", "--models", tiny, "--quiet", "--out", filepath.Join(ref, id))
	}

	// The array: 4 shards, 2 at a time. The example's GPU, CPU and memory
	// requests are for a real cluster; this node has no GPU and 2 cores.
	logs := filepath.Join(work, "logs")
	os.MkdirAll(logs, 0o755)
	submit := exec.CommandContext(ctx, "sbatch", "--wait", "--parsable", "--array=0-3%2", "--gres=none", "--cpus-per-task=1", "--mem=2G",
		"--output="+filepath.Join(logs, "body4d-%A_%a.log"), "--chdir="+work,
		"body4d-array.sbatch", list, out)
	submit.Dir, submit.Env = "slurm", env
	stdout, err := submit.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	submit.Stderr = &stderr
	if err := submit.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		submit.Wait()
		t.Fatalf("sbatch printed no job id: %s", stderr.String())
	}
	jobID := strings.TrimSpace(strings.Split(sc.Text(), ";")[0])
	waited := make(chan error, 1)
	go func() {
		for sc.Scan() {
		}
		waited <- submit.Wait()
	}()
	t.Logf("array job %s submitted", jobID)

	// Cancel a running task in the middle of a good video: once its
	// frames are stored (the tracker has begun), before it is renamed
	// into place.
	var victim, task string
	for victim == "" {
		if ctx.Err() != nil {
			t.Fatal("no task reached the middle of a video")
		}
		running := strings.Fields(sh(t, ctx, "", env, "squeue", "-h", "-r", "-t", "R", "-j", jobID, "-o", "%i"))
		for _, id := range good {
			tk := fmt.Sprintf("%s_%d", jobID, shardOf[id])
			seg, _ := filepath.Glob(filepath.Join(out, ".partial-"+id, "work", "*", "segment"))
			if len(seg) > 0 && slices.Contains(running, tk) {
				sh(t, ctx, "", env, "scancel", tk)
				victim, task = id, tk
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("cancelled %s in the middle of %s", task, victim)
	if _, err := os.Stat(filepath.Join(out, ".partial-"+victim)); err != nil {
		t.Fatalf("the cancel came after %s was finished: %v", victim, err)
	}
	waitState(t, ctx, env, task, "CANCELLED")
	// Requeue it. Slurm holds a requeued job for two minutes; starting it
	// now is the same run, sooner.
	sh(t, ctx, "", env, "scontrol", "requeue", task)
	sh(t, ctx, "", env, "scontrol", "update", "jobid="+task, "StartTime=now")
	if err := <-waited; err != nil {
		// Non-zero: the shards with a bad video exit 1.
		t.Logf("sbatch --wait: %v %s", err, stderr.String())
	}
	for ctx.Err() == nil && strings.TrimSpace(sh(t, ctx, "", env, "squeue", "-h", "-j", jobID, "-o", "%i")) != "" {
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(sh(t, ctx, "", env, "scontrol", "show", "job", task), "Restarts=1") {
		t.Errorf("%s did not run again after the requeue", task)
	}

	// Every good video done exactly once: each worker prints "done ID"
	// when it renames a result into place ("skipped ID" on a rerun).
	doneCount := map[string]int{}
	logFiles, _ := filepath.Glob(filepath.Join(logs, "*.log"))
	doneLine := regexp.MustCompile(`(?m)^done (\S+) \(`)
	var all strings.Builder
	for _, p := range logFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
		for _, m := range doneLine.FindAllStringSubmatch(string(data), -1) {
			doneCount[m[1]]++
		}
	}
	for _, id := range good {
		if doneCount[id] != 1 {
			t.Errorf("%s done %d times, want exactly once", id, doneCount[id])
		}
	}
	for id := range bad {
		if doneCount[id] != 0 {
			t.Errorf("bad video %s reported done", id)
		}
	}

	// The bad ones are reported with their errors; nothing is missing.
	var st struct {
		Done   int `json:"done"`
		Failed []struct {
			ID    string `json:"id"`
			Error string `json:"error"`
		} `json:"failed"`
		NotStarted []string `json:"not_started"`
	}
	if err := json.Unmarshal([]byte(sh(t, ctx, work, env, b4d, "batch", "status", list, "--out", out, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("batch status: %d done, %d failed, not started %v", st.Done, len(st.Failed), st.NotStarted)
	if st.Done != len(good) || len(st.Failed) != len(bad) || len(st.NotStarted) != 0 {
		t.Errorf("status: %d done, %d failed, not started %v; want %d, %d, none", st.Done, len(st.Failed), st.NotStarted, len(good), len(bad))
	}
	for _, f := range st.Failed {
		if want, ok := bad[f.ID]; !ok || !strings.Contains(f.Error, want) {
			t.Errorf("failed %s: %q; want a bad video, its error naming %q", f.ID, f.Error, want)
		}
	}

	// Byte for byte what body4d run writes (the summary and done.json
	// hold times and paths; the work folder is the stage caches).
	for _, id := range good {
		want, got := outtest.Files(t, filepath.Join(ref, id), "summary.json", "done.json"), outtest.Files(t, filepath.Join(out, id), "summary.json", "done.json")
		if len(want) == 0 {
			t.Fatalf("body4d run wrote nothing for %s", id)
		}
		for name, sum := range want {
			if got[name] != sum {
				t.Errorf("%s/%s differs from body4d run's", id, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s: body4d run does not write it", id, name)
			}
		}
	}

	// No half-written output folder: every result folder is a finished
	// good video; only the bad videos keep their caches, hidden.
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "_shards":
		case strings.HasPrefix(name, ".partial-") && bad[strings.TrimPrefix(name, ".partial-")] != "":
		case slices.Contains(good, name):
			if _, err := os.Stat(filepath.Join(out, name, "done.json")); err != nil {
				t.Errorf("result folder %s without done.json", name)
			}
		default:
			t.Errorf("%s left in the output folder", name)
		}
	}

	// The requeued task resumed the interrupted video from its caches.
	var sum struct {
		Cache []struct {
			Stage            string
			Computed, Loaded int
		} `json:"cache"`
	}
	data, err := os.ReadFile(filepath.Join(out, victim, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sum.Cache, func(c struct {
		Stage            string
		Computed, Loaded int
	}) bool {
		return c.Stage == "decode"
	})
	t.Logf("%s after the requeue: cache %+v", victim, sum.Cache)
	if i < 0 || sum.Cache[i].Loaded != 1 {
		t.Errorf("%s after the requeue: cache %+v; want its decoded frames read back", victim, sum.Cache)
	}
	if t.Failed() {
		t.Logf("worker logs:\n%s", all.String())
	}
}

// sh runs a command and returns its standard output; a failure fails
// the test with its output.
func sh(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) string {
	t.Helper()
	c := exec.CommandContext(ctx, name, args...)
	c.Dir, c.Env = dir, env
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// plan reads body4d batch plan's output: each video's shard.
func plan(t *testing.T, text string) map[string]int {
	t.Helper()
	shard := map[string]int{}
	cur := -1
	for _, line := range strings.Split(text, "\n") {
		var i, n int
		if _, err := fmt.Sscanf(line, "shard %d/%d:", &i, &n); err == nil {
			cur = i
			continue
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(line, "  ") {
			shard[f[0]] = cur
		}
	}
	if len(shard) != 8 {
		t.Fatalf("plan names %d videos, want 8:\n%s", len(shard), text)
	}
	return shard
}

// waitState waits until scontrol reports a job in the given state.
func waitState(t *testing.T, ctx context.Context, env []string, job, state string) {
	t.Helper()
	for !strings.Contains(sh(t, ctx, "", env, "scontrol", "show", "job", job), "JobState="+state) {
		if ctx.Err() != nil {
			t.Fatalf("%s never reached %s", job, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
