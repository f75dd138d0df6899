package job

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/body4d/body4d/sample"
)

// SampleDir unpacks the built-in sample (tiny models and clip) into the
// user's cache directory once and returns its path; the ONNX runtime and
// ffmpeg need real files. The folder name carries a hash of the content,
// so a newer binary never reads an older unpacking, and a completion
// marker written last means an interrupted unpacking is redone.
func SampleDir() (string, error) {
	fsys := sample.FS()
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("built-in sample: %w", err)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "body4d", "sample-"+hex.EncodeToString(h.Sum(nil))[:16])
	marker := filepath.Join(dir, ".complete")
	if _, err := os.Stat(marker); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".sample-*")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", fmt.Errorf("built-in sample: %w", err)
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), ".sample-*"); err != nil {
			return "", fmt.Errorf("built-in sample: %w", err)
		}
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return copyFile(fsys, p, dst)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644)
	}
	if err == nil {
		os.RemoveAll(dir) // an interrupted earlier unpacking
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		return "", fmt.Errorf("unpacking the built-in sample: %w", err)
	}
	return dir, nil
}

func copyFile(fsys fs.FS, src, dst string) error {
	in, err := fsys.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
