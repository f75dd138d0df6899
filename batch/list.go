// Package batch reads a JSON Lines list of videos for "body4d batch",
// validates it before any work starts, and splits it into shards for
// cluster array jobs (Slurm, Kubernetes Indexed Jobs, AWS Batch, Cloud Run).
package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/body4d/body4d/scene"
)

// Entry is one validated line of a batch list.
type Entry struct {
	Line   int           // 1-based line number in the list
	ID     string        // output folder name under the batch's out dir
	Video  string        // path, resolved against the list's folder
	Clicks []scene.Click // prompts; may be empty when Masks is set
	Masks  string        // folder of per-frame masks, resolved like Video
	Frames int           // process only the first Frames frames (0: all), as run --frames
	Auto   bool          // no clicks or masks: people are found automatically (run --auto)
	// Settings holds the line's per-video overrides of the run settings,
	// kept raw so the command that owns the settings decodes them.
	Settings json.RawMessage
}

// line is the JSON form of one list line. Unknown fields are errors: a
// misspelt "clicks" must not silently run a video without prompts.
type line struct {
	ID       string          `json:"id"`
	Video    string          `json:"video"`
	Clicks   []scene.Click   `json:"clicks"`
	Masks    string          `json:"masks"`
	Frames   int             `json:"frames"`
	Settings json.RawMessage `json:"settings"`
}

// LineError is a problem with one line of a list.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// ListError collects every bad line of a list, so that all of them are
// reported at once rather than one per attempt.
type ListError []*LineError

func (e ListError) Error() string {
	msgs := make([]string, len(e))
	for i, le := range e {
		msgs[i] = le.Error()
	}
	return strings.Join(msgs, "\n")
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ParseList reads a JSON Lines list. Blank lines and lines starting with
// '#' are skipped. Relative paths are resolved against dir (normally the
// list's folder). Every line is checked — the video and masks exist, the
// clicks are sane, ids are unique and usable as folder names — and all
// problems are returned together as a ListError.
func ParseList(r io.Reader, dir string) ([]Entry, error) {
	var (
		out  []Entry
		errs ListError
		ids  = map[string]int{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		e, err := parseLine(text, n, dir)
		if err != nil {
			errs = append(errs, &LineError{n, err})
			continue
		}
		if prev, dup := ids[e.ID]; dup {
			errs = append(errs, &LineError{n, fmt.Errorf("duplicate id %q (also on line %d)", e.ID, prev)})
			continue
		}
		ids[e.ID] = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading list after line %d: %v", n, err)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("list has no videos")
	}
	return out, nil
}

func parseLine(text []byte, n int, dir string) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var l line
	if err := dec.Decode(&l); err != nil {
		return Entry{}, fmt.Errorf("not a JSON object of video, id, clicks, masks, frames, settings: %v", err)
	}
	if dec.More() {
		return Entry{}, fmt.Errorf("more than one JSON value on the line")
	}
	if l.Video == "" {
		return Entry{}, fmt.Errorf("no \"video\"")
	}
	e := Entry{Line: n, ID: l.ID, Video: resolve(dir, l.Video), Clicks: l.Clicks, Frames: l.Frames, Settings: l.Settings}
	if e.ID == "" {
		e.ID = strings.TrimSuffix(filepath.Base(l.Video), filepath.Ext(l.Video))
	}
	if !idPattern.MatchString(e.ID) {
		return Entry{}, fmt.Errorf("id %q is not a usable folder name (letters, digits, '.', '_', '-'; not starting with '.', '_' or '-')", e.ID)
	}
	if _, err := os.Stat(e.Video); err != nil {
		return Entry{}, fmt.Errorf("video %s: %v", l.Video, unwrapPath(err))
	}
	if l.Masks != "" {
		e.Masks = resolve(dir, l.Masks)
		if st, err := os.Stat(e.Masks); err != nil {
			return Entry{}, fmt.Errorf("masks %s: %v", l.Masks, unwrapPath(err))
		} else if !st.IsDir() {
			return Entry{}, fmt.Errorf("masks %s: not a folder", l.Masks)
		}
	}
	if l.Frames < 0 {
		return Entry{}, fmt.Errorf("frames %d must be ≥ 0", l.Frames)
	}
	for i, c := range e.Clicks {
		if err := checkClick(c, l.Frames); err != nil {
			return Entry{}, fmt.Errorf("click %d: %v", i, err)
		}
	}
	// Neither clicks nor masks: the detector finds the people (body4d run
	// --auto).
	e.Auto = len(e.Clicks) == 0 && e.Masks == ""
	if len(l.Settings) > 0 && !bytes.HasPrefix(bytes.TrimSpace(l.Settings), []byte("{")) {
		return Entry{}, fmt.Errorf("settings must be a JSON object")
	}
	return e, nil
}

func checkClick(c scene.Click, frames int) error {
	switch {
	case c.Person < 1:
		return fmt.Errorf("person %d must be ≥ 1", c.Person)
	case c.Frame < 0:
		return fmt.Errorf("frame %d must be ≥ 0", c.Frame)
	case frames > 0 && c.Frame >= frames:
		return fmt.Errorf("frame %d is past the line's %d frames", c.Frame, frames)
	case !(c.X >= 0 && c.Y >= 0 && c.X <= 1e6 && c.Y <= 1e6):
		return fmt.Errorf("point (%g,%g) is not a pixel position", c.X, c.Y)
	}
	return nil
}

// People is how many people the entry's prompts name (1 when unknown),
// the second factor of the entry's work estimate.
func (e *Entry) People() int {
	seen := map[scene.PersonID]bool{}
	for _, c := range e.Clicks {
		if !c.Negative {
			seen[c.Person] = true
		}
	}
	return max(1, len(seen))
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// unwrapPath drops the *PathError's path, which the caller already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
