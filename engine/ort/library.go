package ort

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// LibraryEnv names the environment variable that points at the ONNX
// Runtime shared library to use, overriding the search.
const LibraryEnv = "BODY4D_ORT_LIB"

// localLibrary is where scripts/setup.sh installs ONNX Runtime, relative to
// the project root.
const localLibrary = ".deps/onnxruntime/lib/libonnxruntime.so.1"

// FindLibrary returns the path of the ONNX Runtime shared library to load.
// It looks, in order, at
//   - the file named by $BODY4D_ORT_LIB (an error if set but missing);
//   - .deps/onnxruntime/lib/libonnxruntime.so.1 in the working directory
//     or any parent, then in the executable's directory or any parent
//     (where scripts/setup.sh installs it);
//   - libonnxruntime.so.1 and libonnxruntime.so in the dynamic loader's
//     directories: $LD_LIBRARY_PATH, those listed in /etc/ld.so.conf, and
//     the standard library directories.
func FindLibrary() (string, error) {
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	if exe != "" {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		exe = filepath.Dir(exe)
	}
	return findLibrary(os.Getenv(LibraryEnv), []string{wd, exe}, loaderDirs(os.Getenv("LD_LIBRARY_PATH")))
}

// findLibrary is FindLibrary with its inputs explicit: the value of
// $BODY4D_ORT_LIB, the directories to walk up from, and the loader's
// directories.
func findLibrary(envLib string, starts, sysDirs []string) (string, error) {
	if envLib != "" {
		if err := isFile(envLib); err != nil {
			return "", fmt.Errorf("ort: %s=%s: %w", LibraryEnv, envLib, err)
		}
		return filepath.Abs(envLib)
	}
	var searched []string
	for _, start := range starts {
		if start == "" {
			continue
		}
		for dir := start; ; {
			p := filepath.Join(dir, localLibrary)
			if isFile(p) == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
		searched = append(searched, start)
	}
	names := systemNames()
	for _, dir := range sysDirs {
		for _, name := range names {
			p := filepath.Join(dir, name)
			if isFile(p) == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("ort: no ONNX Runtime library found: $%s is unset; no %s in %s or their parents; no %s in %s; run scripts/setup.sh to install it (or set %s to its path)",
		LibraryEnv, localLibrary, strings.Join(searched, ", "), strings.Join(names, " or "), strings.Join(sysDirs, ":"), LibraryEnv)
}

// isFile returns nil if p exists and is not a directory.
func isFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("no such file")
		}
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

func systemNames() []string {
	if runtime.GOOS == "darwin" {
		return []string{"libonnxruntime.dylib"}
	}
	return []string{"libonnxruntime.so.1", "libonnxruntime.so"}
}

// loaderDirs lists the directories the dynamic loader searches, in its
// order: $LD_LIBRARY_PATH, then /etc/ld.so.conf (following includes), then
// the built-in defaults.
func loaderDirs(ldLibraryPath string) []string {
	var dirs []string
	for _, d := range filepath.SplitList(ldLibraryPath) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, ldConfDirs("/etc/ld.so.conf", 0)...)
	dirs = append(dirs, "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")
	if runtime.GOOS == "darwin" {
		dirs = append(dirs, "/opt/homebrew/lib")
	}
	seen := make(map[string]bool)
	out := dirs[:0]
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// ldConfDirs reads an ld.so.conf file: one directory per line, and
// "include GLOB" lines naming more such files. depth stops include loops.
func ldConfDirs(path string, depth int) []string {
	f, err := os.Open(path)
	if err != nil || depth > 8 {
		if f != nil {
			f.Close()
		}
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "include "):
			pattern := strings.TrimSpace(strings.TrimPrefix(line, "include "))
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				dirs = append(dirs, ldConfDirs(m, depth+1)...)
			}
		default:
			dirs = append(dirs, line)
		}
	}
	return dirs
}
