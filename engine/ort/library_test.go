package ort

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("lib"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindLibrary(t *testing.T) {
	root := t.TempDir()
	project := filepath.Join(root, "project")
	local := touch(t, filepath.Join(project, localLibrary))
	deep := filepath.Join(project, "cmd", "body4d", "sub")
	os.MkdirAll(deep, 0o755)
	elsewhere := filepath.Join(root, "elsewhere", "a")
	os.MkdirAll(elsewhere, 0o755)
	sys1 := filepath.Join(root, "sys1")
	sys2 := filepath.Join(root, "sys2")
	unversioned := touch(t, filepath.Join(sys2, "libonnxruntime.so"))
	versioned := touch(t, filepath.Join(sys2, "libonnxruntime.so.1"))
	envLib := touch(t, filepath.Join(root, "custom", "ort.so"))
	os.Remove(unversioned)

	tests := []struct {
		name    string
		env     string
		starts  []string
		sys     []string
		want    string
		wantErr []string
	}{
		{"env wins", envLib, []string{project}, []string{sys2}, envLib, nil},
		{"env set but missing", filepath.Join(root, "nope.so"), []string{project}, nil, "",
			[]string{"BODY4D_ORT_LIB=" + filepath.Join(root, "nope.so"), "no such file"}},
		{"env is a directory", root, nil, nil, "", []string{"is a directory"}},
		{"project root", "", []string{project}, []string{sys2}, local, nil},
		{"walks up from a subdirectory", "", []string{deep}, []string{sys2}, local, nil},
		{"second start (the executable's directory)", "", []string{elsewhere, deep}, nil, local, nil},
		{"system directories in order", "", []string{elsewhere}, []string{sys1, sys2}, versioned, nil},
		{"nothing", "", []string{elsewhere, ""}, []string{sys1}, "",
			[]string{"no ONNX Runtime library found", elsewhere, sys1, "libonnxruntime.so.1", "run scripts/setup.sh"}},
	}
	for _, tt := range tests {
		got, err := findLibrary(tt.env, tt.starts, tt.sys)
		if tt.wantErr != nil {
			if err == nil {
				t.Errorf("%s: got %s, want an error", tt.name, got)
				continue
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
				}
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got (%q, %v), want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestFindLibraryUsesEnv(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	t.Setenv(LibraryEnv, missing)
	if _, err := FindLibrary(); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("FindLibrary with %s=%s: %v", LibraryEnv, missing, err)
	}
	touch(t, missing)
	if got, err := FindLibrary(); err != nil || got != missing {
		t.Errorf("FindLibrary = %q, %v; want %q", got, err, missing)
	}
}

func TestLdConf(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "ld.so.conf"), []byte("# comment\ninclude conf.d/*.conf\n/opt/a # trailing\n\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "x.conf"), []byte("/opt/b\ninclude "+filepath.Join(dir, "ld.so.conf")+"\n"), 0o644)
	got := ldConfDirs(filepath.Join(dir, "ld.so.conf"), 0)
	// The include loop is cut off; /opt/b comes before /opt/a every round.
	if len(got) < 2 || got[0] != "/opt/b" || got[len(got)-1] != "/opt/a" {
		t.Errorf("ldConfDirs = %v", got)
	}
	dirs := loaderDirs("/first:/second")
	if dirs[0] != "/first" || dirs[1] != "/second" {
		t.Errorf("loaderDirs does not start with $LD_LIBRARY_PATH: %v", dirs)
	}
}

// childEnv marks a run of this test binary as a child started by a test
// below; it holds the library the child opens.
const childEnv = "BODY4D_ORT_TEST_CHILD_LIB"

// TestOpenChild is the child half of TestBadLibrary: a fresh process,
// so a crash while loading a bad library cannot take the other tests with
// it, and no library is loaded yet. It does nothing in a normal run.
func TestOpenChild(t *testing.T) {
	lib := os.Getenv(childEnv)
	if lib == "" {
		return
	}
	r, err := Open(Options{Library: lib})
	if err == nil {
		r.Close()
		t.Fatalf("Open(%s) succeeded", lib)
	}
	t.Logf("OPEN ERROR: %v", err)
}

func TestBadLibrary(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "libonnxruntime.so.1")
	os.WriteFile(text, []byte("this is a text file renamed .so, long enough to not be too short for an ELF header\n"), 0o644)

	// A real shared library that is not ONNX Runtime.
	src := filepath.Join(dir, "other.c")
	os.WriteFile(src, []byte("int body4d_not_ort(void) { return 42; }\n"), 0o644)
	other := filepath.Join(dir, "libother.so")
	cc, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(strings.TrimSpace(string(cc)), "-shared", "-fPIC", "-o", other, src).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", other, err, out)
	}

	tests := []struct {
		lib  string
		want []string
	}{
		{text, []string{"cannot load ONNX Runtime from " + text, "invalid ELF header"}},
		{other, []string{"cannot load ONNX Runtime from " + other, "OrtGetApiBase"}},
	}
	for _, tt := range tests {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOpenChild$", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+tt.lib)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("child opening %s failed (crash?): %v\n%s", tt.lib, err, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("child opening %s: output does not contain %q:\n%s", tt.lib, w, out)
			}
		}
	}
}

// TestMissingLibraryFails runs this package's tests in a child whose
// library cannot be found: they must fail and say to run scripts/setup.sh,
// and skip only when BODY4D_SKIP_ORT=1.
func TestMissingLibraryFails(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	run := func(skip string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGolden$", "-test.v")
		cmd.Env = append(os.Environ(), LibraryEnv+"="+missing, "BODY4D_SKIP_ORT="+skip)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err == nil || !strings.Contains(out, "--- FAIL: TestGolden") || !strings.Contains(out, "run scripts/setup.sh") {
		t.Errorf("without the library: err %v, output:\n%s", err, out)
	}
	out, err = run("1")
	if err != nil || !strings.Contains(out, "--- SKIP: TestGolden") {
		t.Errorf("with BODY4D_SKIP_ORT=1: err %v, output:\n%s", err, out)
	}
}
