package main

import (
	"strings"
	"testing"

	"github.com/body4d/body4d/scene"
)

func TestParseClick(t *testing.T) {
	tests := []struct {
		in   string
		want scene.Click
		err  string
	}{
		{in: "420,310", want: scene.Click{X: 420, Y: 310, Person: 1}},
		{in: "12:420.5,310", want: scene.Click{Frame: 12, X: 420.5, Y: 310, Person: 1}},
		{in: "3:1,2:4", want: scene.Click{Frame: 3, X: 1, Y: 2, Person: 4}},
		{in: "3:1,2:4:neg", want: scene.Click{Frame: 3, X: 1, Y: 2, Person: 4, Negative: true}},
		{in: "3:1,2:4:pos", want: scene.Click{Frame: 3, X: 1, Y: 2, Person: 4}},
		{in: "420", err: "is not X,Y"},
		{in: "a:1,2", err: "frame \"a\""},
		{in: "-1:1,2", err: "frame \"-1\""},
		{in: "0:x,2", err: "x: \"x\" is not a number"},
		{in: "0:1,NaN", err: "y:"},
		{in: "0:1,2:0", err: "person \"0\""},
		{in: "0:1,2:1:maybe", err: "label \"maybe\""},
		{in: "0:1,2:1:neg:x", err: "too many"},
	}
	for _, tt := range tests {
		got, err := parseClick(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseClick(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseClick(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseClicksJSON(t *testing.T) {
	got, err := parseClicksJSON([]byte(`[{"frame":2,"x":1,"y":2,"person":3,"negative":true}]`), "f")
	if err != nil || len(got) != 1 || got[0] != (scene.Click{Frame: 2, X: 1, Y: 2, Person: 3, Negative: true}) {
		t.Fatalf("got %+v, %v", got, err)
	}
	got, err = parseClicksJSON([]byte(`{"video":"a.mp4","clicks":[{"frame":1,"x":5,"y":6,"person":2}]}`), "f")
	if err != nil || len(got) != 1 || got[0].Person != 2 {
		t.Fatalf("object form: got %+v, %v", got, err)
	}
	for in, want := range map[string]string{
		`[{"frame":0,"x":1,"y":2,"person":1,"negtive":true}]`: "unknown field",
		`[{"frame":0,"x":1,"y":2}]`:                           "person 0",
		`{"frame":0}`:                                         "no \"clicks\" array",
		`{"clicks":{"frame":0}}`:                              "cannot unmarshal",
		`[`:                                                   "unexpected EOF",
		`[{"frame":-1,"x":1,"y":2,"person":1}]`:               "frame -1",
		`[] [{"frame":0,"x":1,"y":2,"person":1}]`:             "after the clicks array",
		`{"clicks":[]} x`:                                     "invalid character",
	} {
		if _, err := parseClicksJSON([]byte(in), "f"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseClicksJSON(%s) err = %v, want %q", in, err, want)
		}
	}
}

// FuzzParseClick: no input panics, and an accepted click has a person ≥ 1,
// a frame ≥ 0 and finite coordinates.
func FuzzParseClick(f *testing.F) {
	for _, s := range []string{"420,310", "1:2,3:4:neg", "::", ",", "1:1e308,-0:9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseClick(s)
		if err != nil {
			return
		}
		if c.Person < 1 || c.Frame < 0 || c.X != c.X || c.Y != c.Y {
			t.Fatalf("parseClick(%q) accepted %+v", s, c)
		}
	})
}

// FuzzParseClicksJSON: no clicks file panics, and every accepted click has
// a person ≥ 1 and a frame ≥ 0.
func FuzzParseClicksJSON(f *testing.F) {
	for _, s := range []string{
		`[{"frame":2,"x":1,"y":2,"person":3,"negative":true}]`,
		`{"video":"a.mp4","clicks":[{"frame":1,"x":5,"y":6,"person":2}]}`,
		`[]`, `{}`, `[{"frame":-1}]`, `[] 1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		clicks, err := parseClicksJSON(data, "f")
		if err != nil {
			return
		}
		for _, c := range clicks {
			if c.Person < 1 || c.Frame < 0 {
				t.Fatalf("parseClicksJSON(%q) accepted %+v", data, c)
			}
		}
	})
}
