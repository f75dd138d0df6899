package serve

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// helperEnv makes the test binary a server process that the crash test
// kills with SIGKILL.
const helperEnv = "BODY4D_SERVE_CRASH_HELPER"

func TestCrashHelper(t *testing.T) {
	data := os.Getenv(helperEnv)
	if data == "" {
		t.Skip("helper process for TestKillLeavesNoOrphan")
	}
	s, err := New(Options{Run: (&fakeRun{}).run, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	// Half-written work, as a crash would leave it.
	os.WriteFile(filepath.Join(s.root, "frames.partial"), make([]byte, 1<<20), 0o644)
	os.Stdout.WriteString("ready " + s.root + "\n")
	select {} // until killed
}

// A server killed with SIGKILL leaves its data folder; the next server
// on the same data folder removes it, and leaves a running server's
// folder alone.
func TestKillLeavesNoOrphan(t *testing.T) {
	data := t.TempDir()
	running, err := New(Options{Run: (&fakeRun{}).run, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"="+data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q, %v", line, err)
	}
	crashed := strings.TrimSpace(strings.TrimPrefix(line, "ready "))
	cmd.Process.Kill() // SIGKILL: no Close
	cmd.Wait()
	if _, err := os.Stat(crashed); err != nil {
		t.Fatalf("the killed server's folder is already gone: %v", err)
	}

	s, err := New(Options{Run: (&fakeRun{}).run, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(crashed); !os.IsNotExist(err) {
		t.Errorf("the killed server's folder is still there (%v)", err)
	}
	if _, err := os.Stat(running.root); err != nil {
		t.Errorf("the running server's folder was removed: %v", err)
	}
	ents, _ := os.ReadDir(data)
	if len(ents) != 2 {
		t.Errorf("%d folders in the data folder, want 2 (the two running servers)", len(ents))
	}
}
