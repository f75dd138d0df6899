// Command disk measures the scratch disk body4d uses: it runs `body4d
// run` on the built-in sample clip (looped to -frames when longer, as
// tools/bench/memory does), polls the work directory while it runs, and
// reports each cache's peak size per frame or per person-frame, then
// projects them to a 10-minute 1080p 30 fps clip with 5 people.
//
//	go build -o bin/body4d ./cmd/body4d
//	go run ./tools/bench/disk -body4d bin/body4d -frames 90
//
// -max-bytes-per-frame fails the run when the work directory's peak
// total, divided by the frames, exceeds it (the CI check).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/body4d/body4d/job"
)

// Caches, by where they live in the work directory.
const (
	catFrames  = "frames"  // frames/: the frame store
	catTracker = "tracker" // segment*/: the tracker's per person-frame masks
	catDepth   = "depth"   // amodal*/.../depth/: depth maps, until released
	catWindows = "amodal"  // amodal*/: finished occlusion windows
	catOther   = "other"
)

var cats = []string{catFrames, catTracker, catDepth, catWindows, catOther}

func main() {
	bin := flag.String("body4d", "bin/body4d", "the body4d binary")
	frames := flag.Int("frames", 90, "clip length in frames (the sample has 90; longer loops it)")
	extra := flag.String("args", "", "extra arguments for body4d run, space-separated")
	bound := flag.Float64("max-bytes-per-frame", 0, "fail when the work directory's peak bytes per frame exceed this (0: report only)")
	width := flag.Int("width", 0, "scale the clip to this width (0: the sample's 640; a smaller synthetic size makes the CI check cheaper)")
	flag.Parse()
	if err := run(*bin, *frames, *width, *bound, strings.Fields(*extra)); err != nil {
		fmt.Fprintln(os.Stderr, "disk:", err)
		os.Exit(1)
	}
}

func run(bin string, n, width int, bound float64, extra []string) error {
	if n < 1 {
		return fmt.Errorf("-frames %d: want at least 1", n)
	}
	sample, err := job.SampleDir()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "body4d-disk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	clip := filepath.Join(sample, "clip", "sample.mp4")
	if n > 90 || width > 0 {
		long := filepath.Join(tmp, "clip.mp4")
		// Re-encode: stream copy would cut only at keyframes.
		args := []string{"-v", "error", "-y", "-stream_loop", "-1", "-i", clip, "-frames:v", strconv.Itoa(n)}
		if width > 0 {
			args = append(args, "-vf", fmt.Sprintf("scale=%d:-2", width))
		}
		cmd := exec.Command("ffmpeg", append(args, "-c:v", "libx264", "-pix_fmt", "yuv420p", long)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("making a %d-frame clip: %v\n%s", n, err, out)
		}
		clip = long
	}
	clicks := filepath.Join(sample, "clip", "clicks.json")
	if width > 0 {
		if clicks, err = scaleClicks(clicks, filepath.Join(tmp, "clicks.json"), float64(width)/640); err != nil {
			return err
		}
	}
	out := filepath.Join(tmp, "out")
	args := append([]string{"run", clip, "--quiet", "--out", out, "--frames", strconv.Itoa(n), "--clicks", clicks}, extra...)
	cmd := exec.CommandContext(context.Background(), bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Poll until the run ends, then once more: a cache released between
	// polls is missed only if it lived under 50 ms.
	peak := map[string]int64{}
	var peakTotal int64
	poll := func() {
		sizes := measure(filepath.Join(out, "work"))
		var total int64
		for c, b := range sizes {
			peak[c] = max(peak[c], b)
			total += b
		}
		peakTotal = max(peakTotal, total)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case runErr = <-done:
			break wait
		case <-tick.C:
			poll()
		}
	}
	if runErr != nil {
		return fmt.Errorf("body4d run: %v", runErr)
	}
	poll()
	final := measure(filepath.Join(out, "work"))
	var sum job.Summary
	data, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err == nil {
		err = json.Unmarshal(data, &sum)
	}
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	people := len(sum.People)
	if people == 0 {
		return fmt.Errorf("the run tracked nobody")
	}

	// Projection: frames and masks scale with the pixels (compressed
	// frames and run-length masks grow with the area and the height; the
	// area is the safe side); occlusion windows are at the model's fixed
	// resolution, per person-frame; depth maps (model resolution) live
	// one window at a time, so their peak does not grow with the clip
	// (a clip shorter than a window is scaled up to one).
	const pFrames, pPeople, pW, pH = 10 * 60 * 30, 5, 1920, 1080
	const window = 64 // amodal.Options.Window's default
	area := float64(pW*pH) / float64(sum.Width*sum.Height)
	fmt.Printf("body4d run: %d frames of %dx%d, %d people\n", sum.Frames, sum.Width, sum.Height, people)
	fmt.Printf("%-8s %12s %12s %16s %22s\n", "cache", "peak", "at the end", "per unit", "10 min 1080p, 5 people")
	var projected float64
	for _, c := range cats {
		unit, per, scale := "frame", float64(peak[c])/float64(sum.Frames), float64(pFrames)
		switch c {
		case catTracker, catWindows:
			unit, per, scale = "person-frame", float64(peak[c])/float64(sum.Frames*people), float64(pFrames*pPeople)
		}
		p := per * scale
		if c == catFrames || c == catTracker {
			p *= area
		}
		if c == catDepth {
			unit, per = "window", float64(peak[c])*max(1, window/float64(sum.Frames))
			p = per
		}
		projected += p
		fmt.Printf("%-8s %12s %12s %9s/%-6s %22s\n", c, size(float64(peak[c])), size(float64(final[c])), size(per), unit, size(p))
	}
	perFrame := float64(peakTotal) / float64(sum.Frames)
	fmt.Printf("%-8s %12s %12s %9s/%-6s %22s\n", "total", size(float64(peakTotal)), size(float64(sumOf(final))), size(perFrame), "frame", size(projected))
	if bound > 0 {
		fmt.Printf("peak work directory per frame: %s (bound %s)\n", size(perFrame), size(bound))
		if perFrame > bound {
			return fmt.Errorf("work directory peaked at %.0f bytes per frame, over the bound of %.0f", perFrame, bound)
		}
	}
	return nil
}

// measure sums the regular files under each cache of a work directory
// (work/<video id>/...). Files vanishing mid-walk are skipped: the run
// is still writing and renaming.
func measure(work string) map[string]int64 {
	sizes := map[string]int64{}
	filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(work, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		c := catOther
		if len(parts) >= 3 {
			switch top := parts[1]; {
			case top == "frames":
				c = catFrames
			case strings.HasPrefix(top, "segment"):
				c = catTracker
			case strings.HasPrefix(top, "amodal") && slices.Contains(parts, "depth"):
				c = catDepth
			case strings.HasPrefix(top, "amodal"):
				c = catWindows
			}
		}
		sizes[c] += info.Size()
		return nil
	})
	return sizes
}

// scaleClicks writes the sample's clicks scaled to a resized clip.
func scaleClicks(src, dst string, f float64) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var file struct {
		Clicks []map[string]any `json:"clicks"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	clicks := file.Clicks
	for _, c := range clicks {
		for _, k := range []string{"x", "y"} {
			v, ok := c[k].(float64)
			if !ok {
				return "", fmt.Errorf("%s: a click without %s", src, k)
			}
			c[k] = v * f
		}
	}
	if data, err = json.Marshal(clicks); err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, data, 0o644)
}

func sumOf(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func size(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
