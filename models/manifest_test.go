package models

import (
	"strings"
	"testing"
)

const goodManifest = `format: 1
name: tiny
description: test
engines:
  - stage: segment
    name: image_encoder
    file: segment_image_encoder.onnx
    backend: onnx
    precision: fp32
    sha256: 0000000000000000000000000000000000000000000000000000000000000000
files:
  - stage: segment
    name: constants
    file: consts/segment.npz
    sha256: 1111111111111111111111111111111111111111111111111111111111111111
`

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.Engine("segment", "image_encoder"); !ok || e.File != "segment_image_encoder.onnx" {
		t.Fatalf("Engine lookup = %+v, %v", e, ok)
	}
	if _, ok := m.File("segment", "constants"); !ok {
		t.Fatal("File lookup failed")
	}
	if got := m.Stages(); len(got) != 1 || got[0] != "segment" {
		t.Fatalf("Stages = %v", got)
	}
}

func TestParseManifestErrors(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"format", "format: 1", "format: 2", "format 2 is not supported"},
		{"empty name", "name: tiny", "name: ''", "name is empty"},
		{"unknown field", "description: test", "descripton: test", "field descripton not found"},
		{"bad backend", "backend: onnx", "backend: tflite", `backend "tflite"`},
		{"bad precision", "precision: fp32", "precision: fp8", `precision "fp8"`},
		{"short sha", "sha256: 0000000000000000000000000000000000000000000000000000000000000000", "sha256: abc", `sha256 "abc"`},
		{"upper sha", "sha256: 0000000000000000000000000000000000000000000000000000000000000000", "sha256: 000000000000000000000000000000000000000000000000000000000000000A", "lower-case hex"},
		{"escape dir", "file: segment_image_encoder.onnx", "file: ../x.onnx", "inside the model directory"},
		{"absolute", "file: segment_image_encoder.onnx", "file: /etc/passwd", "relative"},
		{"unclean", "file: segment_image_encoder.onnx", "file: a//b.onnx", "clean path"},
		{"backslash", "file: segment_image_encoder.onnx", `file: a\b.onnx`, "forward slashes"},
		{"stage ident", "stage: segment\n    name: image", "stage: Segment\n    name: image", `stage "Segment"`},
		{"no engines", "engines:\n  - stage: segment\n    name: image_encoder\n    file: segment_image_encoder.onnx\n    backend: onnx\n    precision: fp32\n    sha256: 0000000000000000000000000000000000000000000000000000000000000000\n", "engines: []\n", "no engines listed"},
		{"file with backend", "file: consts/segment.npz", "file: consts/segment.npz\n    backend: onnx", "engines only"},
		{"duplicate file", "file: consts/segment.npz", "file: segment_image_encoder.onnx", "listed twice"},
		{"two docs", "description: test", "description: test\n---\nformat: 1", "more than one YAML document"},
		{"not yaml", "format: 1", "format: [1", "manifest:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(goodManifest, tt.from, tt.to, 1)
			if src == goodManifest {
				t.Fatalf("test case did not change the manifest")
			}
			_, err := ParseManifest([]byte(src))
			if err == nil {
				t.Fatalf("no error for %s", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestDuplicateEngine(t *testing.T) {
	dup := goodManifest[:strings.Index(goodManifest, "files:")] +
		"  - stage: segment\n    name: image_encoder\n    file: other.onnx\n    backend: onnx\n    precision: fp32\n    sha256: 0000000000000000000000000000000000000000000000000000000000000000\n"
	_, err := ParseManifest([]byte(dup))
	if err == nil || !strings.Contains(err.Error(), "segment/image_encoder: listed twice") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzParseManifest checks that no input makes the parser panic and that
// whatever it accepts is valid and survives a second validation.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte("format: 1\nname: x\nengines: [{stage: a, name: b, file: c, backend: trt, precision: fp16, sha256: " + strings.Repeat("ab", 32) + "}]"))
	f.Add([]byte(""))
	f.Add([]byte("- - -"))
	f.Add([]byte("format: !!binary AAAA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil manifest with an error")
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted manifest fails validation: %v", err)
		}
		for _, e := range append(m.Engines, m.Files...) {
			if checkRelPath(e.File) != nil {
				t.Fatalf("accepted unsafe path %q", e.File)
			}
		}
	})
}
