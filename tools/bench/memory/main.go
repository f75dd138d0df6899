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
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/masks"
	"github.com/body4d/body4d/scene"
)

func main() {
	bin := flag.String("body4d", "bin/body4d", "the body4d binary")
	lengths := flag.String("frames", "100,1000", "clip lengths in frames, comma-separated")
	limit := flag.Float64("max-ratio", 1.3, "fail when the longest clip's peak RSS exceeds the shortest's by more than this")
	extra := flag.String("args", "", "extra arguments for body4d run, space-separated")
	withMasks := flag.Bool("masks", false, "give the sample's true masks (looped like the clip) instead of a click, so every stage after the tracker runs")
	person := flag.Int("person", 0, "with -masks, keep only this person's masks (0: everyone)")
	flag.Parse()
	if err := run(*bin, *lengths, *limit, *withMasks, scene.PersonID(*person), strings.Fields(*extra)); err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

func run(bin, lengths string, limit float64, withMasks bool, person scene.PersonID, extra []string) error {
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
			if err := loopMasks(filepath.Join(sample, "clip", "masks"), dir, n, person); err != nil {
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

// loopMasks writes the sample's label images to dir for n frames,
// looping them as ffmpeg loops the clip; person > 0 keeps only that
// person.
func loopMasks(src, dir string, n int, person scene.PersonID) error {
	const sampleFrames = 90
	in, err := masks.OpenFolder(src, scene.VideoInfo{Width: 640, Height: 360, Frames: sampleFrames})
	if err != nil {
		return err
	}
	return masks.Write(dir, looped{in, sampleFrames, person}, n, func(scene.PersonID) color.Color { return color.White })
}

// looped repeats a mask source's frames, optionally keeping one person.
type looped struct {
	src    *masks.Folder
	n      int
	person scene.PersonID
}

func (l looped) People() []scene.PersonID {
	if l.person > 0 {
		return []scene.PersonID{l.person}
	}
	return l.src.People()
}

func (l looped) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	return l.src.Mask(frame%l.n, id)
}
