package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws one status line per stage on a terminal (redrawn in
// place) or, when stderr is not a terminal, prints a line at most every
// few seconds so that logs stay readable.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	quiet    bool
	stage    string
	last     time.Time
	lastLen  int
	interval time.Duration
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet, interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.interval = true, 100*time.Millisecond
		}
	}
	return p
}

// update reports done of total units in stage (total 0: unknown).
func (p *progress) update(stage string, done, total int) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	newStage := stage != p.stage
	finished := total > 0 && done >= total
	if !newStage && !finished && now.Sub(p.last) < p.interval {
		return
	}
	if newStage && p.tty && p.stage != "" {
		fmt.Fprintln(p.w)
	}
	p.stage, p.last = stage, now
	line := fmt.Sprintf("%-8s %s", stage, bar(done, total))
	if p.tty {
		pad := ""
		if n := p.lastLen - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		p.lastLen = len(line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// done ends the current line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.stage != "" && !p.quiet {
		fmt.Fprintln(p.w)
	}
	p.stage = ""
}

func bar(done, total int) string {
	if total <= 0 {
		return fmt.Sprintf("%d", done)
	}
	const width = 30
	done = min(done, total)
	n := done * width / total
	return fmt.Sprintf("[%s%s] %d/%d %3d%%", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, done*100/total)
}
