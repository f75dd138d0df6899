// Command batch measures what body4d batch saves per video over one
// `body4d run` process per video: it runs the same short videos (the
// built-in sample cut to -frames, one click) both ways with the built-in
// tiny models, one after another, and prints the wall time per video of
// each, their difference (the per-video overhead a batch worker avoids:
// process start, ONNX Runtime start, engine loads) and the batch
// worker's first video against its later ones (its one-time engine
// loads).
//
//	go build -o bin/body4d ./cmd/body4d
//	go run ./tools/bench/batch -body4d bin/body4d -videos 6 -frames 4
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/body4d/body4d/job"
)

func main() {
	bin := flag.String("body4d", "bin/body4d", "the body4d binary")
	videos := flag.Int("videos", 6, "videos in the list")
	frames := flag.Int("frames", 4, "frames per video")
	extra := flag.String("args", "--quick", "run settings for both ways, space-separated")
	flag.Parse()
	if err := run(*bin, *videos, *frames, strings.Fields(*extra)); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(1)
	}
}

func run(bin string, videos, frames int, extra []string) error {
	if videos < 2 || frames < 1 {
		return fmt.Errorf("want at least 2 videos of at least 1 frame")
	}
	sample, err := job.SampleDir()
	if err != nil {
		return err
	}
	clip := filepath.Join(sample, "clip", "sample.mp4")
	work, err := os.MkdirTemp("", "body4d-bench-batch")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var lines []string
	for i := range videos {
		lines = append(lines, fmt.Sprintf(`{"video":%q,"id":"v%d","frames":%d,"clicks":[{"x":90,"y":175,"person":1}]}`, clip, i, frames))
	}
	list := filepath.Join(work, "list.jsonl")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}

	t0 := time.Now()
	if err := command(bin, append([]string{"batch", list, "--out", filepath.Join(work, "batch")}, extra...)...); err != nil {
		return err
	}
	batchWall := time.Since(t0)
	t0 = time.Now()
	for i := range videos {
		args := []string{"run", clip, "--click", "90,175", "--frames", fmt.Sprint(frames), "--quiet", "--out", filepath.Join(work, "run", fmt.Sprint(i))}
		if err := command(bin, append(args, extra...)...); err != nil {
			return err
		}
	}
	runWall := time.Since(t0)

	// The batch worker's own per-video walls: the first loads the engines.
	data, err := os.ReadFile(filepath.Join(work, "batch", "_shards", "0.json"))
	if err != nil {
		return err
	}
	var rep struct {
		Videos []struct{ Wall string } `json:"videos"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return err
	}
	var walls []time.Duration
	for _, v := range rep.Videos {
		d, err := time.ParseDuration(v.Wall)
		if err != nil {
			return err
		}
		walls = append(walls, d)
	}
	later := slices.Clone(walls[1:])
	slices.Sort(later)
	median := later[len(later)/2]

	n := time.Duration(videos)
	fmt.Printf("%d videos of %d frames, %s, tiny models\n", videos, frames, strings.Join(extra, " "))
	fmt.Printf("body4d run per video:   %v wall per video (%v for all, one process each)\n", (runWall / n).Round(time.Millisecond), runWall.Round(time.Millisecond))
	fmt.Printf("body4d batch:           %v wall per video (%v for all, one process)\n", (batchWall / n).Round(time.Millisecond), batchWall.Round(time.Millisecond))
	fmt.Printf("saved per video:        %v (batch/run ratio %.2f)\n", ((runWall - batchWall) / n).Round(time.Millisecond), batchWall.Seconds()/runWall.Seconds())
	fmt.Printf("batch worker, first video %v, later videos median %v: engine loads once per shard ≈ %v\n",
		walls[0].Round(time.Millisecond), median.Round(time.Millisecond), (walls[0] - median).Round(time.Millisecond))
	return nil
}

func command(bin string, args ...string) error {
	c := exec.Command(bin, args...)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("body4d %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
