package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/body4d/body4d/internal/outtest"
	"github.com/body4d/body4d/job"
)

// killArgs is a short run of the sample through every stage: tracking
// from the sample's clicks, quick occlusion recovery, camera, mesh,
// smoothing, rendering and encoding.
var killArgs = []string{"run", "--quick", "--frames", "6", "--progress-all"}

// progressLine matches a progress line of a non-terminal stderr:
// "mesh     [###.....] 3/6  50%".
var progressLine = regexp.MustCompile(`^(\w+)\s+\[[#.]*\] (\d+)/(\d+)`)

// TestKill runs `body4d run` as a child process in its own process group,
// SIGKILLs the group (ffmpeg included) when a given stage reports a given
// progress, and runs the same command again: the rerun must write
// byte-identical outputs to an uninterrupted run's, leave no temporary
// files, and say in summary.json that it read back what the killed run
// had finished.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs body4d run about ten times")
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("process groups: Unix only")
	}
	bin := filepath.Join(t.TempDir(), "body4d")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	run := func(out string) *exec.Cmd {
		cmd := exec.Command(bin, append(slices.Clone(killArgs), "--out", out)...)
		cmd.Dir = wd // ONNX Runtime is found in .deps above the package
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	}
	complete := func(out string) *job.Summary {
		t.Helper()
		var stderr bytes.Buffer
		cmd := run(out)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("body4d run --out %s: %v\n%s", out, err, stderr.Bytes())
		}
		var sum job.Summary
		data, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err == nil {
			err = json.Unmarshal(data, &sum)
		}
		if err != nil {
			t.Fatal(err)
		}
		return &sum
	}

	clean := t.TempDir()
	cleanSum := complete(clean)
	want := outtest.Files(t, clean, "summary.json")
	if len(want) < 6+3*4 {
		t.Fatalf("uninterrupted run wrote only %d files", len(want))
	}
	frames := cleanSum.Frames
	windows := cacheOf(cleanSum, "amodal")
	t.Logf("uninterrupted run: %d files, cache %+v", len(want), cleanSum.Cache)

	for _, kill := range []struct {
		stage string
		at    func(done, total int) bool
		// check says what the rerun must have reused.
		check func(sum *job.Summary) string
	}{
		{"decode", func(d, n int) bool { return d >= 2 && d < n }, func(s *job.Summary) string {
			return expect(s, "decode", 1, 0)
		}},
		{"segment", func(d, n int) bool { return d == n/2 }, func(s *job.Summary) string {
			return expect(s, "decode", 0, 1) + expect(s, "segment", frames, 0)
		}},
		// The last progress before the end is one person-window short:
		// the others are stored.
		{"amodal", func(d, n int) bool { return d == n-1 }, func(s *job.Summary) string {
			c := cacheOf(s, "amodal")
			if c.Loaded < 1 || c.Loaded+c.Computed != windows.Computed {
				return fmt.Sprintf("amodal cache %+v: want some of %d windows loaded", c, windows.Computed)
			}
			return expect(s, "decode", 0, 1)
		}},
		// Inside the first batch window: its frames are saved one by one,
		// and a window cut short must be recomputed whole, at the same
		// frames and in the same batches, whatever memory the rerun sees.
		{"mesh", func(d, n int) bool { return d == 1 }, func(s *job.Summary) string {
			c := cacheOf(s, "mesh")
			if c.Loaded+c.Computed != frames {
				return fmt.Sprintf("mesh cache %+v: want %d frames", c, frames)
			}
			return expect(s, "decode", 0, 1) + expect(s, "amodal", 0, windows.Computed)
		}},
		{"mesh", func(d, n int) bool { return d == n/2 }, func(s *job.Summary) string {
			c := cacheOf(s, "mesh")
			if c.Loaded < 1 || c.Loaded+c.Computed != frames {
				return fmt.Sprintf("mesh cache %+v: want some of %d frames loaded", c, frames)
			}
			return expect(s, "decode", 0, 1) + expect(s, "amodal", 0, windows.Computed)
		}},
		{"render", func(d, n int) bool { return d == n/2 }, func(s *job.Summary) string {
			return expect(s, "decode", 0, 1) + expect(s, "amodal", 0, windows.Computed) + expect(s, "mesh", 0, frames)
		}},
	} {
		out := t.TempDir()
		cmd := run(out)
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var seen []string
		killed := false
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			seen = append(seen, sc.Text())
			m := progressLine.FindStringSubmatch(sc.Text())
			if m == nil || m[1] != kill.stage {
				continue
			}
			done, _ := strconv.Atoi(m[2])
			total, _ := strconv.Atoi(m[3])
			if kill.at(done, total) {
				if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				t.Logf("killed in %s at %d/%d", kill.stage, done, total)
				break
			}
		}
		go func() { // drain: a killed child's pipe ends once the group is gone
			for sc.Scan() {
			}
		}()
		err = cmd.Wait()
		if !killed {
			t.Fatalf("%s: no progress line to kill at; the run ended with %v:\n%s", kill.stage, err, strings.Join(seen, "\n"))
		}
		if ws, ok := err.(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the child ended with %v, not SIGKILL", kill.stage, err)
		}
		if _, err := os.Stat(filepath.Join(out, "result.mp4")); err == nil {
			t.Errorf("%s: a killed run left result.mp4", kill.stage)
		}

		sum := complete(out)
		got := outtest.Files(t, out, "summary.json")
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if got[name] != want[name] {
				t.Errorf("killed in %s: %s differs from an uninterrupted run's", kill.stage, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("killed in %s: the rerun left %s, which an uninterrupted run does not write", kill.stage, name)
			}
		}
		if msg := kill.check(sum); msg != "" {
			t.Errorf("killed in %s: the rerun did not reuse the finished work: %s (cache %+v)", kill.stage, msg, sum.Cache)
		}
	}
}

// expect says what is wrong with a stage's cache counts, or nothing.
func expect(s *job.Summary, stage string, computed, loaded int) string {
	if c := cacheOf(s, stage); c.Computed != computed || c.Loaded != loaded {
		return fmt.Sprintf("%s cache %+v, want %d computed and %d loaded; ", stage, c, computed, loaded)
	}
	return ""
}

func cacheOf(s *job.Summary, stage string) job.CacheUse {
	for _, c := range s.Cache {
		if c.Stage == stage {
			return c
		}
	}
	return job.CacheUse{Stage: stage}
}
