package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/body4d/body4d/scene"
)

// parseClick parses one --click value:
//
//	X,Y                      person 1, frame 0, positive
//	FRAME:X,Y                person 1
//	FRAME:X,Y:PERSON
//	FRAME:X,Y:PERSON:neg     a negative (background) click
//
// X and Y are pixel coordinates of the source video.
func parseClick(s string) (scene.Click, error) {
	c := scene.Click{Person: 1}
	parts := strings.Split(s, ":")
	if len(parts) > 4 {
		return c, fmt.Errorf("click %q: too many ':' (want FRAME:X,Y[:PERSON[:neg]])", s)
	}
	xy := parts[0]
	if len(parts) > 1 {
		f, err := strconv.Atoi(parts[0])
		if err != nil || f < 0 {
			return c, fmt.Errorf("click %q: frame %q is not a non-negative integer", s, parts[0])
		}
		c.Frame, xy = f, parts[1]
	}
	x, y, ok := strings.Cut(xy, ",")
	if !ok {
		return c, fmt.Errorf("click %q: point %q is not X,Y", s, xy)
	}
	var err error
	if c.X, err = parseCoord(x); err != nil {
		return c, fmt.Errorf("click %q: x: %v", s, err)
	}
	if c.Y, err = parseCoord(y); err != nil {
		return c, fmt.Errorf("click %q: y: %v", s, err)
	}
	if len(parts) > 2 {
		p, err := strconv.Atoi(parts[2])
		if err != nil || p < 1 {
			return c, fmt.Errorf("click %q: person %q is not an integer ≥ 1", s, parts[2])
		}
		c.Person = scene.PersonID(p)
	}
	if len(parts) > 3 {
		switch parts[3] {
		case "neg", "-":
			c.Negative = true
		case "pos", "+":
		default:
			return c, fmt.Errorf("click %q: label %q is not neg or pos", s, parts[3])
		}
	}
	return c, nil
}

func parseCoord(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v != v || v > 1e9 || v < -1e9 {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}

// clickJSON is one entry of a clicks file: a JSON array of these.
type clickJSON struct {
	Frame    int     `json:"frame"`
	X        float64 `json:"x"`
	Y        float64 `json:"y"`
	Person   int     `json:"person"`
	Negative bool    `json:"negative,omitempty"`
}

// readClicks reads a clicks file. Unknown fields are errors so that a
// misspelt "negative" does not silently turn into a positive click.
func readClicks(path string) ([]scene.Click, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseClicksJSON(data, path)
}

func parseClicksJSON(data []byte, name string) ([]scene.Click, error) {
	// Either a bare array of clicks, or an object whose "clicks" field is
	// one (the sample clip's clicks.json also describes the video).
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "{") {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("clicks file %s: %v", name, err)
		}
		arr, ok := obj["clicks"]
		if !ok {
			return nil, fmt.Errorf("clicks file %s: object has no \"clicks\" array", name)
		}
		trimmed = string(arr)
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var raw []clickJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("clicks file %s: %v", name, err)
	}
	// Decode stops after the first value; anything after it is a broken
	// file, not something to ignore.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("clicks file %s: unexpected data after the clicks array", name)
	}
	out := make([]scene.Click, len(raw))
	for i, r := range raw {
		if r.Person < 1 {
			return nil, fmt.Errorf("clicks file %s: entry %d: person %d must be ≥ 1", name, i, r.Person)
		}
		if r.Frame < 0 {
			return nil, fmt.Errorf("clicks file %s: entry %d: frame %d must be ≥ 0", name, i, r.Frame)
		}
		out[i] = scene.Click{Frame: r.Frame, X: r.X, Y: r.Y, Person: scene.PersonID(r.Person), Negative: r.Negative}
	}
	return out, nil
}
