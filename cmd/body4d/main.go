// Command body4d turns a video of people into 3D body meshes.
//
//	body4d run VIDEO [--click FRAME:X,Y[:PERSON[:neg]]]... [--models DIR] [--out DIR]
//	body4d export OUT_DIR --format glb|bvh|ply|npz
//	body4d serve [--addr 127.0.0.1:7860] [--models DIR] [--data DIR]
//	body4d doctor [DIR]
//	body4d engines build --models DIR --out DIR [--fp16|--bf16] [--workspace BYTES]
//	body4d version
//
// With no model directory it uses the tiny models and sample clip built
// into the binary; their output is not meaningful, they show that every
// part runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/body4d/body4d"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  body4d run [VIDEO] [flags]   run the pipeline (no VIDEO: the built-in sample clip)
  body4d export OUT_DIR --format glb,bvh,ply,npz
                               write a finished run's files again (no recomputing)
  body4d serve [flags]         web UI + JSON API at http://127.0.0.1:7860/ (serve/API.md)
  body4d batch LIST --out DIR [--shard I/N]
                               run a JSON Lines list of videos, sharded for array jobs ("body4d batch -h")
  body4d doctor [DIR]          check a model directory (no DIR: the built-in tiny models) and the GPU
  body4d engines build --models DIR --out DIR [--fp16|--bf16] [--workspace BYTES]
                               convert a model directory's ONNX engines into TensorRT plans for this GPU
  body4d version               print the version
Run "body4d CMD -h" for a command's flags.
`

// run is main without the process: it returns the exit status, so tests
// can drive every command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "export":
		err = cmdExport(ctx, args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "batch":
		err = cmdBatch(ctx, args[1:], stdout, stderr)
	case "doctor":
		err = cmdDoctor(ctx, args[1:], stdout, stderr)
	case "engines":
		err = cmdEngines(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "body4d: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "body4d %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "body4d %s: %v\n", args[0], err)
		return 1
	}
}

// usageError marks errors in how a command was called (exit status 2).
type usageError struct{ error }

func versionString() string {
	v := "body4d " + body4d.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

// parseArgs parses flags that may come before or after positional
// arguments ("body4d run clip.mp4 --click 1,2"), which package flag alone
// does not allow. A bad flag is a usageError; -h is flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
