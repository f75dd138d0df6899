package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockName is the file in a server's data folder that its process holds
// an exclusive flock on for as long as it runs. The kernel drops the
// lock when the process dies, kill -9 included, so a folder whose lock
// can be taken belongs to no running server.
const lockName = "server.lock"

// lockRoot creates root's lock file, takes its lock and writes the PID
// into it (for people looking at the folder).
func lockRoot(root string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(root, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", lockName, err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return f, nil
}

// removeOrphans removes the data folders under data that earlier servers
// left behind when they died without Close: folders named like ours
// whose lock no process holds. Folders of running servers (their lock is
// held) are left alone. It returns the folders removed.
func removeOrphans(data string) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(data, rootPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, dir := range dirs {
		f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
		if err != nil {
			// No lock file: not a folder of this kind of server, or
			// one that died before writing it (an empty folder).
			if errors.Is(err, os.ErrNotExist) {
				if ents, err := os.ReadDir(dir); err == nil && len(ents) == 0 {
					os.Remove(dir)
				}
			}
			continue
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil {
			f.Close() // held: a running server's
			continue
		}
		err = os.RemoveAll(dir)
		f.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}
