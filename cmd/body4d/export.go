package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
)

// cmdExport writes a finished run's outputs again, from its own files,
// without running any stage.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("export", flag.ContinueOnError)
	fset.SetOutput(stderr)
	format := fset.String("format", "", "what to write, comma-separated: glb (people/<id>/motion.glb and scene.glb), bvh (people/<id>/motion.bvh), ply (people/<id>/mesh_NNNNNN.ply), npz (people/<id>/params.npz)")
	person := fset.String("person", "", "only these person ids, comma-separated (default: everyone; scene.glb always holds everyone)")
	models := fset.String("models", "", "model directory with the body model (default: the one the run used, from summary.json)")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: body4d export OUT_DIR --format glb|bvh|ply|npz[,...] [flags]\n\nWrites a finished run's outputs again from OUT_DIR's summary.json and people/<id>/params.json, without recomputing: the same bytes the run wrote.")
		fset.PrintDefaults()
	}
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("want one OUT_DIR (a finished run's output directory), got %d arguments", len(pos))}
	}
	if *format == "" {
		return usageError{errors.New("--format is required: glb, bvh, ply or npz")}
	}
	opts := job.ExportOptions{Models: *models}
	if opts.Formats, err = job.ParseFormats(*format, "glb", "bvh", "ply", "npz"); err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if *person != "" {
		for s := range strings.SplitSeq(*person, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || id < 1 {
				return usageError{fmt.Errorf("--person %q: want person ids ≥ 1", s)}
			}
			opts.People = append(opts.People, scene.PersonID(id))
		}
	}
	files, notes, err := job.Export(ctx, pos[0], opts)
	for _, n := range notes {
		fmt.Fprintln(stderr, "body4d:", n)
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(pos[0], f))
	}
	return err
}
