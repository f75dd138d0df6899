package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/video"
)

// cli runs the command line in-process and returns its exit status and
// output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "--click", "1,2,3"}, 2, `y: "2,3" is not a number`},
		{[]string{"run", "a.mp4", "b.mp4"}, 2, "want one VIDEO"},
		{[]string{"run", "--fps", "0"}, 2, "--fps"},
		{[]string{"run", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"doctor", "a", "b"}, 2, "at most one model directory"},
		{[]string{"run", "--clicks", "/nonexistent/clicks.json"}, 1, "no such file"},
	}
	for _, tt := range tests {
		code, _, stderr := cli(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("body4d %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "body4d ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string][2]int{"30": {30000, 1000}, "29.97": {29970, 1000}, "30000/1001": {30000, 1001}} {
		r, err := parseRate(in)
		if err != nil || r.Num != want[0] || r.Den != want[1] {
			t.Errorf("parseRate(%q) = %v, %v", in, r, err)
		}
	}
	for _, in := range []string{"", "-1", "1/0", "a/b", "NaN", "1e9"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}

// TestRunSample runs the whole command on the built-in sample clip and
// tiny models, then checks the MP4 and summary it wrote.
func TestRunSample(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--out", out, "--quiet", "--profile", "--quick", "--frames", "12")
	if code != 0 {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "not meaningful") {
		t.Errorf("run on the tiny models did not say their output is not meaningful: %q", stderr)
	}
	r, err := video.Open(context.Background(), filepath.Join(out, "result.mp4"), video.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	info := r.Info()
	if info.Frames != 12 || info.FPS.Num != 30000 || info.FPS.Den != 1001 || info.Width != 640 {
		t.Errorf("result.mp4 is %+v, want 12 frames of 640x360 at 30000/1001", info)
	}
	data, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum job.Summary
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Frames != 12 || sum.FPS != "30000/1001" || len(sum.Clicks) == 0 {
		t.Errorf("summary %+v", sum)
	}
	// Every stage ran on the tiny models, and each clicked person has a
	// mesh on every frame (the tiny tracker keeps its clicked blobs).
	if want := []string{"segment", "amodal", "camera", "mesh", "smooth"}; !slices.Equal(sum.StagesRan, want) {
		t.Errorf("stages ran %v, want %v", sum.StagesRan, want)
	}
	if len(sum.People) != 3 {
		t.Fatalf("people %+v, want 3", sum.People)
	}
	for _, p := range sum.People {
		if p.Frames != 12 {
			t.Errorf("person %d has %d meshes, want 12", p.ID, p.Frames)
		}
	}
	// The tiny MoGe's point maps are a pinhole camera's plus noise that
	// swamps their depth variation (fov sensitivity about 3 on every
	// frame): the focal solve is ill-conditioned, and run says so.
	if len(sum.CameraIllConditioned) != 8 || !strings.Contains(stderr, "focal length is unreliable") || !strings.Contains(stderr, "--fovx DEG") {
		t.Errorf("ill-conditioned frames %v, stderr %q: want 8 frames and a warning advising --fovx DEG", sum.CameraIllConditioned, stderr)
	}

	// A second run reuses the decoded frames; a different video does not.
	// With the field of view given, no focal is solved for, so no warning.
	entries, _ := os.ReadDir(filepath.Join(out, "work"))
	if code, _, stderr = cli(t, "run", "--out", out, "--quiet", "--quick", "--frames", "12", "--fovx", "60"); code != 0 {
		t.Fatalf("second run: %s", stderr)
	}
	if strings.Contains(stderr, "--fovx DEG") {
		t.Errorf("run with --fovx warns about the focal: %q", stderr)
	}
	again, _ := os.ReadDir(filepath.Join(out, "work"))
	if len(entries) != 1 || len(again) != 1 || entries[0].Name() != again[0].Name() {
		t.Errorf("work dirs %v then %v; want the same single one", entries, again)
	}
	if sum.Work.Dir != filepath.Join(out, "work", entries[0].Name()) || !sum.Work.Kept || sum.Work.Bytes <= 0 {
		t.Errorf("summary work %+v, want the kept %s with its size", sum.Work, entries[0].Name())
	}
	if !strings.Contains(stdout, "work directory "+sum.Work.Dir+": ") {
		t.Errorf("run did not print the work directory's size: %q", stdout)
	}

	// --keep-work=false: the same outputs, and the work directory goes.
	first, err := os.ReadFile(filepath.Join(out, "result.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr = cli(t, "run", "--out", out, "--quiet", "--quick", "--frames", "12", "--fovx", "60", "--keep-work=false"); code != 0 {
		t.Fatalf("run --keep-work=false: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "work")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after --keep-work=false, %s/work: %v; want it gone", out, err)
	}
	second, err := os.ReadFile(filepath.Join(out, "result.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("result.mp4 of --keep-work=false differs from the run before it")
	}
	if data, err = os.ReadFile(filepath.Join(out, "summary.json")); err != nil {
		t.Fatal(err)
	}
	var dropped job.Summary
	if err := json.Unmarshal(data, &dropped); err != nil {
		t.Fatal(err)
	}
	if dropped.Work.Kept || dropped.Work.Bytes <= 0 || !strings.Contains(stdout, "removed") {
		t.Errorf("summary work %+v, stdout %q; want a measured, removed work directory", dropped.Work, stdout)
	}
	left, _ := os.ReadDir(out)
	for _, e := range left {
		switch e.Name() {
		case "result.mp4", "summary.json", "people", "masks":
		default:
			t.Errorf("after --keep-work=false the output directory holds %s, not an output", e.Name())
		}
	}
}

func TestRunBadVideo(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mp4")
	os.WriteFile(bad, []byte("not a video"), 0o644)
	out := filepath.Join(dir, "out")
	code, _, stderr := cli(t, "run", bad, "--click", "1,1", "--out", out, "--quiet")
	if code != 1 || !strings.Contains(stderr, "bad.mp4") {
		t.Fatalf("exit %d, stderr %q; want an error naming bad.mp4", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "result.mp4")); err == nil {
		t.Error("a failed run left result.mp4")
	}
	code, _, stderr = cli(t, "run", filepath.Join(dir, "missing.mp4"), "--click", "1,1", "--out", out, "--quiet")
	if code != 1 || !strings.Contains(stderr, "missing.mp4") {
		t.Fatalf("missing video: exit %d, stderr %q", code, stderr)
	}
}

// --untrusted refuses a playlist naming another file, which ffmpeg would
// otherwise follow.
func TestRunUntrusted(t *testing.T) {
	dir := t.TempDir()
	clip, err := filepath.Abs(filepath.Join("..", "..", "sample", "clip", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	pl := filepath.Join(dir, "list.mp4")
	os.WriteFile(pl, []byte("ffconcat version 1.0\nfile '"+clip+"'\n"), 0o644)
	code, _, stderr := cli(t, "run", pl, "--untrusted", "--click", "1,1", "--out", filepath.Join(dir, "out"), "--quiet")
	if code != 1 || !strings.Contains(stderr, "not a supported container") {
		t.Fatalf("exit %d, stderr %q; want refused as not a supported container", code, stderr)
	}
}

func TestRunClickOutsideFrame(t *testing.T) {
	code, _, stderr := cli(t, "run", "--click", "0:700,10", "--out", t.TempDir(), "--quiet")
	if code != 1 || !strings.Contains(stderr, "outside the 640x360 frame") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestDoctor: the built-in tiny models pass; a copy with one engine file
// swapped for another's fails with a line naming the stage and tensor.
func TestDoctor(t *testing.T) {
	code, stdout, stderr := cli(t, "doctor")
	if code != 0 || !strings.Contains(stdout, "all checks passed") {
		t.Fatalf("doctor: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "optional engines") {
		t.Errorf("doctor reports optional engines missing from the tiny set, which has them all:\n%s", stdout)
	}

	src := filepath.Join("..", "..", "sample", "models", "tiny")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "manifest.yaml" {
			// fov/moge now names the mesh backbone's file and checksum.
			m := string(data)
			i := strings.Index(m, "file: fov_moge.onnx")
			j := strings.Index(m[i:], "sha256: ") + i + len("sha256: ")
			k := strings.Index(m, "file: mesh_backbone.onnx")
			l := strings.Index(m[k:], "sha256: ") + k + len("sha256: ")
			m = m[:i] + "file: mesh_backbone_copy.onnx" + m[i+len("file: fov_moge.onnx"):j] + m[l:l+64] + m[j+64:]
			data = []byte(m)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	backbone, _ := os.ReadFile(filepath.Join(src, "mesh_backbone.onnx"))
	os.WriteFile(filepath.Join(dir, "mesh_backbone_copy.onnx"), backbone, 0o644)

	code, stdout, stderr = cli(t, "doctor", dir)
	if code != 1 {
		t.Fatalf("doctor on a swapped engine: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `FAIL  fov/moge: input "image"`) {
		t.Errorf("doctor output does not name fov/moge and its input:\n%s", stdout)
	}
	if strings.Count(stdout, "FAIL") < 2 || strings.Contains(stdout, "FAIL  segment") {
		t.Errorf("want only fov/moge problems, one line each:\n%s", stdout)
	}

	code, stdout, _ = cli(t, "doctor", t.TempDir())
	if code != 1 || !strings.Contains(stdout, "no manifest.yaml") {
		t.Errorf("doctor on an empty dir: exit %d\n%s", code, stdout)
	}
}

func TestMissingOptional(t *testing.T) {
	contracts := []engine.Contract{
		{Stage: "mesh", Engine: "decoder"},
		{Stage: "mesh", Engine: "hand_decoder", Optional: true},
		{Stage: "mesh", Engine: "decoder_prompt", Optional: true},
		{Stage: "segment", Engine: "detector", Optional: true},
	}
	m := &models.Manifest{Engines: []models.Entry{{Stage: "mesh", Name: "decoder"}, {Stage: "mesh", Name: "decoder_prompt"}}}
	got := missingOptional(m, contracts)
	if len(got) != 2 || !slices.Equal(got[0].engines, []string{"mesh/hand_decoder"}) || !strings.Contains(got[0].mode, "--mesh-mode full") ||
		!slices.Equal(got[1].engines, []string{"segment/detector"}) || !strings.Contains(got[1].mode, "--auto") {
		t.Errorf("missingOptional = %+v, want mesh/hand_decoder (full mode) and segment/detector (--auto)", got)
	}
	m.Engines = append(m.Engines, models.Entry{Stage: "mesh", Name: "hand_decoder"}, models.Entry{Stage: "segment", Name: "detector"})
	if got := missingOptional(m, contracts); len(got) != 0 {
		t.Errorf("missingOptional = %v with every engine present", got)
	}
}

func TestAutoFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--redetect", "3"}, "--redetect and --concept need --auto"},
		{[]string{"run", "--concept", "dog"}, "--redetect and --concept need --auto"},
		{[]string{"run", "--auto", "--redetect", "-1"}, "--redetect -1"},
	} {
		code, _, stderr := cli(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestRunWorldSample: --world static on the sample with the tiny models.
// The tiny MoGe's point maps are a pinhole's plus heavy per-frame noise, so
// the background "moves" beyond the static tolerance: the run refuses the
// world frame with that reason, after writing every camera-frame output.
func TestRunWorldSample(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := cli(t, "run", "--out", out, "--quiet", "--quick", "--frames", "12", "--world", "static")
	if code == 0 || !strings.Contains(stderr, "the camera moves") || !strings.Contains(stderr, "--world static needs a static camera") {
		t.Fatalf("exit %d, stderr %q: want a refusal naming the moving camera", code, stderr)
	}
	for _, f := range []string{"summary.json", "result.mp4", "people"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("camera-frame output lost: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "world.json")); !os.IsNotExist(err) {
		t.Errorf("world.json written for a refused world frame (%v)", err)
	}
	if code, _, stderr := cli(t, "run", "--out", out, "--quiet", "--frames", "2", "--world", "moving"); code == 0 || !strings.Contains(stderr, `world mode "moving"`) {
		t.Errorf("bad --world accepted: exit %d %q", code, stderr)
	}
}
