// Command memory checks that body4d's memory stays bounded as videos get
// longer: it loops the built-in sample clip to each requested length,
// runs `body4d run` on each in a fresh process, and prints every run's
// peak RSS (the kernel's high-water mark for the child process) and the
// ratio of the longest to the shortest. The goal is a ratio ≤ 1.3 for
// 1,000 frames against 100.
//
//	go build -o bin/body4d ./cmd/body4d
//	go run ./tools/bench/memory -body4d bin/body4d -frames 100,1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/masks"
)

func main() {
	bin := flag.String("body4d", "bin/body4d", "the body4d binary")
	lengths := flag.String("frames", "100,1000", "clip lengths in frames, comma-separated")
	limit := flag.Float64("max-ratio", 1.3, "fail when the longest clip's peak RSS exceeds the shortest's by more than this")
	extra := flag.String("args", "", "extra arguments for body4d run, space-separated")
	withMasks := flag.Bool("masks", false, "give the sample's true masks (looped like the clip) instead of a click, so every stage after the tracker runs")
	flag.Parse()
	if err := run(*bin, *lengths, *limit, *withMasks, strings.Fields(*extra)); err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

func run(bin, lengths string, limit float64, withMasks bool, extra []string) error {
	sample, err := job.SampleDir()
	if err != nil {
		return err
	}
	clip := filepath.Join(sample, "clip", "sample.mp4")
	tmp, err := os.MkdirTemp("", "body4d-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var first, last int64
	fmt.Printf("%8s %10s %12s\n", "frames", "wall", "peak RSS")
	for i, s := range strings.Split(lengths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-frames: bad length %q", s)
		}
		long := filepath.Join(tmp, fmt.Sprintf("clip%d.mp4", n))
		// Loop the sample and cut it to n frames; stream copy would cut
		// only at keyframes, so re-encode.
		cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", clip,
			"-frames:v", strconv.Itoa(n), "-c:v", "libx264", "-pix_fmt", "yuv420p", long)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("making a %d-frame clip: %v\n%s", n, err, out)
		}
		args := []string{"run", long, "--quiet", "--out", filepath.Join(tmp, fmt.Sprint("out", n))}
		if withMasks {
			dir := filepath.Join(tmp, fmt.Sprint("masks", n))
			if err := loopMasks(filepath.Join(sample, "clip", "masks"), dir, n); err != nil {
				return err
			}
			args = append(args, "--masks", dir)
		} else {
			args = append(args, "--click", "90,175")
		}
		args = append(args, extra...)
		cmd = exec.CommandContext(context.Background(), bin, args...)
		cmd.Stderr = os.Stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("body4d run on %d frames: %v", n, err)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024 // KiB on Linux
		fmt.Printf("%8d %10s %9.1f MiB\n", n, time.Since(t0).Round(time.Millisecond), float64(rss)/(1<<20))
		if i == 0 {
			first = rss
		}
		last = rss
	}
	ratio := float64(last) / float64(first)
	fmt.Printf("peak RSS ratio, longest/shortest: %.2f (goal ≤ %.2f)\n", ratio, limit)
	if ratio > limit {
		return fmt.Errorf("peak RSS grew %.2f× (more than %.2f×)", ratio, limit)
	}
	return nil
}

// loopMasks copies the sample's label images to dir for n frames,
// looping them as ffmpeg loops the clip.
func loopMasks(src, dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const sampleFrames = 90
	for i := range n {
		data, err := os.ReadFile(filepath.Join(src, masks.FileName(i%sampleFrames)))
		if os.IsNotExist(err) {
			continue // no one on that frame
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, masks.FileName(i)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
