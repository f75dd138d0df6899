package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/body4d/body4d/batch"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

const batchUsage = `usage:
  body4d batch LIST --out DIR [--shard I/N | --shards N] [run flags]
                               run every video of LIST (JSON Lines) this shard owns into DIR/<id>/
  body4d batch plan LIST --shards N
                               print which shard runs which video
  body4d batch status LIST --out DIR [--json]
                               every shard's report: done, skipped, failed, not started
`

func cmdBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "plan":
			return cmdBatchPlan(ctx, args[1:], stdout, stderr)
		case "status":
			return cmdBatchStatus(args[1:], stdout, stderr)
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, batchUsage)
			return flag.ErrHelp
		}
	}
	return cmdBatchRun(ctx, args, stdout, stderr)
}

// readList reads and validates a list; relative paths are relative to
// the list's folder.
func readList(path string) ([]batch.Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := batch.ParseList(f, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	return es, nil
}

// weights is each entry's work estimate: its frames (ffprobe's count, cut
// to the line's "frames"; 1 when neither knows) times its people.
func weights(ctx context.Context, es []batch.Entry) []int64 {
	tools, toolErr := video.FindTools()
	w := make([]int64, len(es))
	for i := range es {
		frames := 0
		if toolErr == nil {
			if st, err := os.Stat(es[i].Video); err == nil && !st.IsDir() {
				if p, err := video.ProbeFile(ctx, es[i].Video, tools); err == nil {
					frames = p.Frames
				}
			}
		}
		if f := es[i].Frames; f > 0 && (frames == 0 || f < frames) {
			frames = f
		}
		w[i] = batch.Weight(&es[i], frames)
	}
	return w
}

func shardCount(flagVal int) (int, error) {
	if flagVal > 0 {
		return flagVal, nil
	}
	if v := os.Getenv("BODY4D_SHARDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("BODY4D_SHARDS=%q is not a count ≥ 1", v)
		}
		return n, nil
	}
	return 0, nil
}

func cmdBatchPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("batch plan", flag.ContinueOnError)
	fset.SetOutput(stderr)
	shards := fset.Int("shards", 0, "number of shards (default: BODY4D_SHARDS)")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("want one LIST, got %d arguments", len(pos))}
	}
	n, err := shardCount(*shards)
	if err != nil {
		return usageError{err}
	}
	if n < 1 {
		return usageError{fmt.Errorf("give --shards N")}
	}
	es, err := readList(pos[0])
	if err != nil {
		return err
	}
	w := weights(ctx, es)
	for s, items := range batch.Plan(w, n) {
		var load int64
		for _, i := range items {
			load += w[i]
		}
		fmt.Fprintf(stdout, "shard %d/%d: %d videos, work %d (frames x people)\n", s, n, len(items), load)
		for _, i := range items {
			fmt.Fprintf(stdout, "  %s\tline %d\twork %d\n", es[i].ID, es[i].Line, w[i])
		}
	}
	return nil
}

// batchSettings are the run settings a list line may override.
type batchSettings struct {
	Quick      bool    `json:"quick"`
	AmodalFast bool    `json:"amodal_fast"`
	NoAmodal   bool    `json:"no_amodal"`
	NoCamera   bool    `json:"no_camera"`
	FOVX       float64 `json:"fovx"`
	Smooth     string  `json:"smooth"`
	MeshMode   string  `json:"mesh_mode"`
	CRF        int     `json:"crf"`
	Frames     int     `json:"frames"`
}

func (s batchSettings) overlay(raw json.RawMessage) (batchSettings, error) {
	if len(raw) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("settings: %v", err)
	}
	return s, nil
}

// doneRecord is DIR/<id>/done.json: what a finished video was made from.
// A rerun skips the video only when all three match.
type doneRecord struct {
	Input    string          `json:"input_sha256"`
	Settings json.RawMessage `json:"settings"`
	Models   string          `json:"models_sha256"`
}

// shardReport is DIR/_shards/I.json.
type shardReport struct {
	Shard   string        `json:"shard"`
	Started time.Time     `json:"started"`
	Ended   time.Time     `json:"ended,omitzero"`
	Videos  []videoResult `json:"videos"`
}

type videoResult struct {
	ID     string `json:"id"`
	Line   int    `json:"line"`
	Status string `json:"status"` // done, skipped, failed, running
	Error  string `json:"error,omitempty"`
	Wall   string `json:"wall,omitempty"`
}

func cmdBatchRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("batch", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "output directory: DIR/<id>/ per video, DIR/_shards/I.json per shard")
	shardFlag := fset.String("shard", "", "this worker's shard I/N (default: from the array job's environment, else 0/1)")
	shards := fset.Int("shards", 0, "shard count where the environment gives only an index (Kubernetes; default BODY4D_SHARDS)")
	models := fset.String("models", "", "model directory (default: the built-in tiny models)")
	device := fset.String("device", "cpu", "cpu, cuda or tensorrt (as body4d run)")
	var def batchSettings
	fset.BoolVar(&def.Quick, "quick", false, "as body4d run --quick")
	fset.BoolVar(&def.AmodalFast, "amodal-fast", false, "as body4d run --amodal-fast")
	fset.BoolVar(&def.NoAmodal, "no-amodal", false, "as body4d run --no-amodal")
	fset.BoolVar(&def.NoCamera, "no-camera", false, "as body4d run --no-camera")
	fset.Float64Var(&def.FOVX, "fovx", 0, "as body4d run --fovx")
	fset.StringVar(&def.Smooth, "smooth", "kalman", "as body4d run --smooth")
	fset.StringVar(&def.MeshMode, "mesh-mode", "body", "as body4d run --mesh-mode")
	fset.IntVar(&def.CRF, "crf", 0, "as body4d run --crf")
	fset.IntVar(&def.Frames, "frames", 0, "as body4d run --frames (a line's \"frames\" setting overrides it)")
	fset.Usage = func() { fmt.Fprint(stderr, batchUsage); fset.PrintDefaults() }
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("want one LIST, got %d arguments", len(pos))}
	}
	if *out == "" {
		return usageError{fmt.Errorf("give --out DIR")}
	}
	n, err := shardCount(*shards)
	if err != nil {
		return usageError{err}
	}
	shard := batch.Shard{Index: 0, Count: 1}
	if *shardFlag != "" {
		if shard, err = batch.ParseShard(*shardFlag); err != nil {
			return usageError{err}
		}
	} else if s, _, ok, err := batch.ShardFromEnv(os.Getenv, n); err != nil {
		return usageError{err}
	} else if ok {
		shard = s
	} else if n > 1 {
		return usageError{fmt.Errorf("--shards %d with no shard index: give --shard I/N or run under an array job", n)}
	}

	es, err := readList(pos[0])
	if err != nil {
		return err
	}
	// Every line's settings are checked before any work starts.
	perVideo := make([]batchSettings, len(es))
	var bad batch.ListError
	for i := range es {
		if perVideo[i], err = def.overlay(es[i].Settings); err != nil {
			bad = append(bad, &batch.LineError{Line: es[i].Line, Err: err})
		}
		if es[i].Frames > 0 {
			perVideo[i].Frames = es[i].Frames
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s:\n%w", pos[0], bad)
	}

	// One Models per shard: each engine loads once, on the first video
	// that needs it, not once per video. They are opened on the first
	// video that runs, so a rerun that skips everything loads nothing.
	var loaded *job.Models
	open := func() (*job.Models, error) {
		if loaded == nil {
			m, err := job.OpenModels(*models, *device)
			if err != nil {
				return nil, fmt.Errorf("models: %w", err)
			}
			loaded = m
		}
		return loaded, nil
	}
	defer func() {
		if loaded != nil {
			loaded.Close()
		}
	}()
	modelDir := *models
	if modelDir == "" {
		sampleDir, err := job.SampleDir()
		if err != nil {
			return err
		}
		modelDir = filepath.Join(sampleDir, "models", "tiny")
		fmt.Fprintln(stderr, "body4d: using the built-in tiny models (random weights): their output is not meaningful; use --models DIR for real results")
	}
	modelSum, err := hashTree(modelDir)
	if err != nil {
		return fmt.Errorf("models: %v", err)
	}

	mine := batch.Plan(weights(ctx, es), shard.Count)[shard.Index]
	rep := shardReport{Shard: shard.String(), Started: time.Now().UTC()}
	repPath := filepath.Join(*out, "_shards", strconv.Itoa(shard.Index)+".json")
	if err := os.MkdirAll(filepath.Dir(repPath), 0o755); err != nil {
		return err
	}
	failed := 0
	for _, i := range mine {
		if ctx.Err() != nil {
			break
		}
		e := &es[i]
		res := videoResult{ID: e.ID, Line: e.Line}
		t0 := time.Now()
		status, err := runOne(ctx, e, perVideo[i], *out, open, modelSum, *device)
		res.Status, res.Wall = status, time.Since(t0).Round(time.Millisecond).String()
		if err != nil {
			res.Status, res.Error = "failed", err.Error()
			failed++
			fmt.Fprintf(stderr, "body4d batch: %s (line %d): %v\n", e.ID, e.Line, err)
		} else {
			fmt.Fprintf(stdout, "%s %s (%s)\n", status, e.ID, res.Wall)
		}
		rep.Videos = append(rep.Videos, res)
		if err := writeJSONAtomic(repPath, rep); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.Ended = time.Now().UTC()
	if err := writeJSONAtomic(repPath, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shard %s: %d videos, %d failed; report %s\n", shard, len(mine), failed, repPath)
	if failed > 0 {
		return fmt.Errorf("%d of %d videos failed (see %s)", failed, len(mine), repPath)
	}
	return nil
}

// runOne runs one video into out/<id>, or skips it when its done.json
// matches. The run writes into out/.partial-<id> (where a killed or failed
// run's stage caches wait for the retry) and is renamed into place only
// when complete, so out/<id> is always a whole result.
func runOne(ctx context.Context, e *batch.Entry, s batchSettings, out string, open func() (*job.Models, error), modelSum, device string) (string, error) {
	inSum, err := hashInputs(e)
	if err != nil {
		return "", err
	}
	settings, _ := json.Marshal(struct {
		batchSettings
		Device string `json:"device"`
	}{s, device})
	rec := doneRecord{Input: inSum, Settings: settings, Models: modelSum}
	final := filepath.Join(out, e.ID)
	if old, err := os.ReadFile(filepath.Join(final, "done.json")); err == nil {
		var prev doneRecord
		if json.Unmarshal(old, &prev) == nil && prev.Input == rec.Input && prev.Models == rec.Models && sameJSON(prev.Settings, rec.Settings) {
			return "skipped", nil
		}
	}
	partial := filepath.Join(out, ".partial-"+e.ID)
	spec := job.Spec{
		Video: e.Video, Out: partial, Prompts: scene.Prompts{Clicks: e.Clicks}, Masks: e.Masks,
		Frames: s.Frames, CRF: s.CRF,
		Stages: job.Stages{NoAmodal: s.NoAmodal, NoCamera: s.NoCamera, FOVX: s.FOVX, Smooth: s.Smooth, Quick: s.Quick, AmodalFast: s.AmodalFast, Mesh: s.MeshMode},
	}
	if e.Auto {
		spec.Auto = &job.Auto{}
	}
	m, err := open()
	if err != nil {
		return "", err
	}
	if _, err := m.Run(ctx, spec, nil); err != nil {
		return "", err
	}
	if err := writeJSONAtomic(filepath.Join(partial, "done.json"), rec); err != nil {
		return "", err
	}
	// A stale result (changed input or settings) moves aside first; the
	// rename of the new one is the moment the video becomes done.
	if _, err := os.Stat(final); err == nil {
		old := filepath.Join(out, ".old-"+e.ID)
		if err := os.RemoveAll(old); err != nil {
			return "", err
		}
		if err := os.Rename(final, old); err != nil {
			return "", err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(partial, final); err != nil {
		return "", err
	}
	return "done", nil
}

// sameJSON compares two JSON values whatever their layout (done.json is
// written indented).
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// hashInputs hashes what a video's result is made from: the video (a
// file, or every file of an image folder), the clicks and the masks.
func hashInputs(e *batch.Entry) (string, error) {
	h := sha256.New()
	if err := hashInto(h, e.Video); err != nil {
		return "", err
	}
	clicks, _ := json.Marshal(e.Clicks)
	h.Write(clicks)
	if e.Masks != "" {
		if err := hashInto(h, e.Masks); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashTree(root string) (string, error) {
	h := sha256.New()
	if err := hashInto(h, root); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashInto adds every regular file under root (or root itself), with its
// relative name, in lexical order.
func hashInto(h io.Writer, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
}

func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// cmdBatchStatus aggregates the shard reports against the list.
func cmdBatchStatus(args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("batch status", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "the batch's output directory")
	asJSON := fset.Bool("json", false, "print JSON")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usageError{fmt.Errorf("want LIST --out DIR")}
	}
	es, err := readList(pos[0])
	if err != nil {
		return err
	}
	reports, _ := filepath.Glob(filepath.Join(*out, "_shards", "*.json"))
	latest := map[string]videoResult{}
	for _, p := range reports {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r shardReport
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		for _, v := range r.Videos {
			latest[v.ID] = v
		}
	}
	type status struct {
		Done       int           `json:"done"`
		Skipped    int           `json:"skipped"`
		Failed     []videoResult `json:"failed"`
		NotStarted []string      `json:"not_started"`
	}
	st := status{Failed: []videoResult{}, NotStarted: []string{}}
	for _, e := range es {
		v, ok := latest[e.ID]
		// A result folder with done.json counts as done even if its
		// shard's report was lost (e.g. the worker died after the rename).
		if _, err := os.Stat(filepath.Join(*out, e.ID, "done.json")); err == nil && (!ok || v.Status != "failed") {
			if ok && v.Status == "skipped" {
				st.Skipped++
			} else {
				st.Done++
			}
			continue
		}
		switch {
		case ok && v.Status == "failed":
			st.Failed = append(st.Failed, v)
		default:
			st.NotStarted = append(st.NotStarted, e.ID)
		}
	}
	slices.Sort(st.NotStarted)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "%d videos: %d done, %d skipped on rerun, %d failed, %d not started\n", len(es), st.Done, st.Skipped, len(st.Failed), len(st.NotStarted))
	for _, f := range st.Failed {
		fmt.Fprintf(stdout, "failed %s (line %d): %s\n", f.ID, f.Line, f.Error)
	}
	for _, id := range st.NotStarted {
		fmt.Fprintf(stdout, "not started %s\n", id)
	}
	return nil
}
