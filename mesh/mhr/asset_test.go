package mhr

import (
	"bufio"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
)

// copyTiny copies the tiny asset directory into a temporary one.
func copyTiny(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testdataDir, "tiny")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func writeNpy(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npyio.Write(f, v); err != nil {
		t.Fatal(err)
	}
}

func TestLoadBadAssets(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		want    []string // substrings of the error
	}{
		{
			name:    "missing array",
			corrupt: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "skin_weight.npy")) },
			want:    []string{"skin_weight.npy", "array skin_weight", "missing"},
		},
		{
			name: "wrong shape",
			corrupt: func(t *testing.T, dir string) {
				writeNpy(t, filepath.Join(dir, "base_shape.npy"), make([]float32, 12))
			},
			want: []string{"base_shape.npy", "got shape [12], want [300 3]"},
		},
		{
			name: "wrong dtype",
			corrupt: func(t *testing.T, dir string) {
				writeNpy(t, filepath.Join(dir, "parents.npy"), make([]float64, 16))
			},
			want: []string{"parents.npy", "got dtype <f8, want <i4"},
		},
		{
			name: "missing corrective array",
			corrupt: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "corrective_blendshapes.npy"))
			},
			want: []string{"corrective_blendshapes.npy", "missing"},
		},
		{
			name: "parent after child",
			corrupt: func(t *testing.T, dir string) {
				p := make([]int32, 16)
				p[0], p[3] = -1, 7
				writeNpy(t, filepath.Join(dir, "parents.npy"), p)
			},
			want: []string{"parents", "joint 3 has parent 7"},
		},
		{
			name: "skin joint out of range",
			corrupt: func(t *testing.T, dir string) {
				var j []int32
				readNpy(t, filepath.Join(dir, "skin_joint.npy"), &j)
				j[5] = 16
				writeNpy(t, filepath.Join(dir, "skin_joint.npy"), j)
			},
			want: []string{"skin_joint", "entry 5 is joint 16"},
		},
		{
			name: "header format",
			corrupt: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "header.json"), []byte(`{"format":"other","version":1}`), 0o644)
			},
			want: []string{"header.json", `format "other"`},
		},
		{
			name: "header sizes disagree with arrays",
			corrupt: func(t *testing.T, dir string) {
				editHeader(t, dir, `"num_vertices": 300`, `"num_vertices": 301`)
			},
			want: []string{"base_shape.npy", "want [301 3]"},
		},
		{
			name:    "missing header",
			corrupt: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "header.json")) },
			want:    []string{"header.json"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTiny(t)
			tc.corrupt(t, dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func readNpy(t *testing.T, path string, dst any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := readNpyInto(f, dst); err != nil {
		t.Fatal(err)
	}
}

// readNpyInto reads a .npy stream; npyio reads element by element, so
// buffer it.
func readNpyInto(r io.Reader, dst any) error {
	return npyio.Read(bufio.NewReader(r), dst)
}

func editHeader(t *testing.T, dir, old, repl string) {
	t.Helper()
	p := filepath.Join(dir, "header.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, old) {
		t.Fatalf("header.json has no %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(s, old, repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestForwardBadInput(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	good := func() Input {
		return Input{Identity: make([]float32, 45), Model: make([]float32, 204), Expr: make([]float32, 72)}
	}
	tests := []struct {
		name string
		edit func(in *Input)
		want string
	}{
		{"short identity", func(in *Input) { in.Identity = in.Identity[:44] }, "batch item 1: identity: got 44 values, want 45"},
		{"missing model", func(in *Input) { in.Model = nil }, "batch item 1: model parameters: got 0 values, want 204"},
		{"long expression", func(in *Input) { in.Expr = make([]float32, 73) }, "batch item 1: expression: got 73 values, want 72"},
		{"NaN parameter", func(in *Input) { in.Model[17] = float32(math.NaN()) }, "batch item 1: model parameters[17] is NaN"},
		{"Inf identity", func(in *Input) { in.Identity[3] = float32(math.Inf(1)) }, "batch item 1: identity[3] is +Inf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			batch := []Input{good(), good()}
			tc.edit(&batch[1])
			_, err := m.Forward(batch)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCameraFrame(t *testing.T) {
	p := []float32{100, 200, -300, 1, 0, 0}
	CameraFrame(p)
	want := []float32{1, -2, 3, 0.01, 0, 0}
	for i := range p {
		if math.Abs(float64(p[i]-want[i])) > 1e-7 {
			t.Fatalf("CameraFrame = %v, want %v", p, want)
		}
	}
}

func TestEmptyBatch(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(nil)
	if err != nil || len(out) != 0 {
		t.Errorf("Forward(nil) = %d outputs, %v; want none and no error", len(out), err)
	}
}
