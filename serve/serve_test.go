package serve

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/detect"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/scene"
	worldpkg "github.com/body4d/body4d/world"
)

func TestNoSession(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	for _, p := range []string{"/api/session", "/api/clicks", "/api/frames/0", "/api/jobs/abc"} {
		c.wantError("GET", p, nil, http.StatusUnauthorized, "no session")
	}
	// A forged cookie is no session either.
	code, _ := c.do("GET", "/api/session", nil, "Cookie", sessionCookie+"=00112233445566778899aabbccddeeff")
	if code != http.StatusUnauthorized {
		t.Errorf("forged session cookie: status %d, want 401", code)
	}
	c.wantError("GET", "/api/nothing", nil, http.StatusNotFound, "no such API endpoint")
}

func TestIndexMakesNoSession(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	code, page := c.do("GET", "/", nil)
	if code != 200 || !bytes.Contains(page, []byte(`<canvas id="frame"`)) {
		t.Fatalf("GET /: %d %.200s", code, page)
	}
	// Only the page's explicit POST makes a session.
	c.wantError("GET", "/api/session", nil, http.StatusUnauthorized, "no session")
	var st sessionJSON
	c.json("POST", "/api/session", nil, http.StatusCreated, &st)
	c.json("POST", "/api/session", nil, http.StatusOK, nil) // the same session again
	if st.Video != nil || len(st.Clicks) != 0 || len(st.Jobs) != 0 || !st.Features.Sample || st.Features.Preview {
		t.Errorf("fresh session: %+v", st)
	}
	if len(st.Notes) == 0 {
		t.Error("no note that the tiny models' output is not meaningful")
	}
	for _, p := range []string{"/static/app.js", "/static/style.css"} {
		if code, body := c.do("GET", p, nil); code != 200 || len(body) < 100 {
			t.Errorf("GET %s: %d, %d bytes", p, code, len(body))
		}
	}
	// The cookie is HttpOnly and SameSite=Strict.
	res, err := http.Post(hs.URL+"/api/session", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ck := res.Cookies()
	if len(ck) != 1 || ck[0].Name != sessionCookie || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || len(ck[0].Value) != 2*sessionIDBytes {
		t.Errorf("session cookie: %+v", ck)
	}
}

func TestUploadAndFrames(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	st := c.upload(shortClip(t))
	v := st.Video
	if v == nil || v.Width != 640 || v.Height != 360 || v.Frames != 8 || v.FPS != "30000/1001" || v.Name != "short.mp4" || v.Sample {
		t.Fatalf("video after upload: %+v", v)
	}
	code, body := c.do("GET", fmt.Sprintf("/api/frames/7?v=%s", v.ID), nil)
	if code != 200 {
		t.Fatalf("frame 7: %d %s", code, body)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds() != image.Rect(0, 0, 640, 360) {
		t.Fatalf("frame 7: %v, %v", err, img.Bounds())
	}
	for _, n := range []string{"8", "-1", "x", "1e3"} {
		c.wantError("GET", "/api/frames/"+n, nil, http.StatusNotFound, "does not exist")
	}
	c.wantError("GET", "/api/frames/0?v=old", nil, http.StatusNotFound, "was replaced")

	// The sample replaces the upload and its clicks, and the upload's
	// files are deleted.
	c.setClicks(scene.Click{X: 10, Y: 10, Person: 1})
	var st2 sessionJSON
	c.json("POST", "/api/sample", nil, 200, &st2)
	if st2.Video == nil || !st2.Video.Sample || st2.Video.Frames != 90 || len(st2.Clicks) != 0 || len(st2.SuggestedClicks) == 0 {
		t.Fatalf("after POST /api/sample: %+v", st2)
	}
	if code, _ := c.do("GET", "/api/frames/89", nil); code != 200 {
		t.Errorf("sample frame 89: %d", code)
	}
}

func TestUploadRefused(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxUploadBytes: 64 << 10, MaxFrames: 6})
	c := newClient(t, hs)
	c.session()
	clip, err := os.ReadFile(filepath.Join(sampleDir(t), "clip", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if len(clip) <= 64<<10 {
		t.Fatalf("the sample clip is %d bytes, too small to test the limit", len(clip))
	}
	c.wantError("POST", "/api/video", clip, http.StatusRequestEntityTooLarge, "at most 65536")
	// Without a Content-Length the limit holds while reading.
	c.wantError("POST", "/api/video", bufio.NewReader(bytes.NewReader(clip)), http.StatusRequestEntityTooLarge, "over 65536 bytes")
	c.wantError("POST", "/api/video", []byte{}, http.StatusBadRequest, "empty")
	c.wantError("POST", "/api/video", []byte("<!DOCTYPE html><html><body>hi</body></html>"), http.StatusUnsupportedMediaType, "looks like text/html")
	pngData := new(bytes.Buffer)
	png.Encode(pngData, image.NewGray(image.Rect(0, 0, 4, 4)))
	c.wantError("POST", "/api/video", pngData.Bytes(), http.StatusUnsupportedMediaType, "looks like image/png")
	c.wantError("POST", "/api/video", bytes.Repeat([]byte{0x00, 0x13, 0x37, 0xfe}, 300), http.StatusUnsupportedMediaType, "not a supported container")
	if _, body := c.do("POST", "/api/video", bytes.Repeat([]byte{0x00, 0x13, 0x37, 0xfe}, 300)); bytes.Contains(body, []byte(s.root)) {
		t.Errorf("the error shows the server's paths: %s", body)
	}
	code, body := c.do("POST", "/api/video", []byte("--x\r\n"), "Content-Type", "multipart/form-data; boundary=x")
	if code != http.StatusUnsupportedMediaType || !bytes.Contains(body, []byte("not a multipart form")) {
		t.Errorf("multipart upload: %d %s", code, body)
	}
	short, err := os.ReadFile(shortClip(t)) // 8 frames: over MaxFrames
	if err != nil {
		t.Fatal(err)
	}
	c.wantError("POST", "/api/video", short, http.StatusRequestEntityTooLarge, "8 frames; this server takes at most 6")

	var st sessionJSON
	c.json("GET", "/api/session", nil, 200, &st)
	if st.Video != nil {
		t.Errorf("a refused upload became the video: %+v", st.Video)
	}
	// Nothing of the refused uploads is left on disk.
	filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != lockName {
			t.Errorf("left behind: %s", p)
		}
		return err
	})
}

// Client names are never paths: a hostile name is stored under a
// generated one and shown only as text; URL path elements that try to
// climb out select nothing.
func TestPathTraversalNames(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	data, err := os.ReadFile(shortClip(t))
	if err != nil {
		t.Fatal(err)
	}
	var st sessionJSON
	evil := "../../../../tmp/evil\x00name\n.mp4"
	c.json("POST", "/api/video?name="+strings.NewReplacer("/", "%2F", "\x00", "%00", "\n", "%0A").Replace(evil), data, 200, &st)
	if st.Video.Name != "evilname.mp4" {
		t.Errorf("display name %q, want the last element without control characters", st.Video.Name)
	}
	filepath.WalkDir(filepath.Dir(s.root), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "evil") {
			t.Errorf("the client's name reached the file system: %s", p)
		}
		return err
	})
	if _, err := os.Stat("/tmp/evil"); err == nil {
		t.Error("/tmp/evil exists")
	}

	c.setClicks(scene.Click{X: 100, Y: 100, Person: 1})
	var j jobJSON
	c.json("POST", "/api/run", nil, 202, &j)
	if j = c.wait(j.ID); j.State != stateDone {
		t.Fatalf("job: %+v", j)
	}
	base := "/api/jobs/" + j.ID
	for _, p := range []string{
		base + "/files/..%2Fsummary.json",
		base + "/files/..%2F..%2F..%2Fetc%2Fpasswd",
		base + "/files/partial.bin",
		base + "/files/people",
		base + "/people/1/..%2F..%2Fsummary.json",
		base + "/people/1/mesh_000000.ply",
		base + "/people/..%2F1/params.json",
		base + "/people/2/params.json", // no such person
		"/api/jobs/..%2F" + j.ID + "/files/summary.json",
		"/api/jobs/" + filepath.Base(s.root) + "/files/summary.json",
	} {
		if code, body := c.do("GET", p, nil); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404: %.120s", p, code, body)
		}
	}
	// The mux cleans dot-dot paths before routing: they redirect to a
	// cleaned path that is then routed like any other.
	noRedirect := &http.Client{Jar: c.hc.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/static/../serve.go", "/static/../../go.mod", base + "/files/../../../../serve.go"} {
		res, err := noRedirect.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Errorf("GET %s: 200", p)
		}
	}
	if code, _ := c.do("GET", base+"/files/summary.json", nil); code != 200 {
		t.Errorf("the real summary: %d", code)
	}
}

func TestMalformedJSON(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	for _, tc := range []struct{ body, want string }{
		{`{`, "malformed JSON"},
		{``, "malformed JSON: the body is empty"},
		{`[]`, "malformed JSON"},
		{`{"clicks": 5}`, "malformed JSON"},
		{`{"clickz": []}`, `unknown field "clickz"`},
		{`{"clicks": []} {"clicks": []}`, "more than one JSON value"},
		{`{"clicks": [{"frame": "zero", "x": 1, "y": 1, "person": 1}]}`, "malformed JSON"},
		{`{"clicks": [{"frame": 0, "x": 1e999, "y": 1, "person": 1}]}`, "malformed JSON"},
		{`{}`, `want {"clicks": [...]}`},
		{`{"clicks": [{"frame": 0, "x": 700, "y": 1, "person": 1}]}`, "outside the 640x360 frame"},
		{`{"clicks": [{"frame": 90, "x": 1, "y": 1, "person": 1}]}`, "frame 90 does not exist"},
		{`{"clicks": [{"frame": 0, "x": 1, "y": 1, "person": 0}]}`, "must be ≥ 1"},
		{`{"clicks": [{"frame": 0, "x": 1, "y": 1, "person": 17}]}`, "at most 16 people"},
	} {
		c.wantError("PUT", "/api/clicks", tc.body, http.StatusBadRequest, tc.want)
	}
	c.wantError("PUT", "/api/clicks", `{"clicks": [`+strings.Repeat(`{"frame":0,"x":1,"y":1,"person":1},`, 40000)+`]}`,
		http.StatusRequestEntityTooLarge, "over 1048576 bytes")
	var got clicksJSON
	c.json("GET", "/api/clicks", nil, 200, &got)
	if len(got.Clicks) != 0 {
		t.Errorf("refused edits changed the clicks: %+v", got)
	}
	c.setClicks(scene.Click{X: 1, Y: 1, Person: 1})
	c.wantError("POST", "/api/run", `{"smooth": "gauss"}`, http.StatusBadRequest, `smooth "gauss"`)
	c.wantError("POST", "/api/run", `{"mesh": "hands"}`, http.StatusBadRequest, `mesh "hands"`)
	c.wantError("POST", "/api/run", `{"fovx": 200}`, http.StatusBadRequest, "fovx 200")
	c.wantError("POST", "/api/run", `{"amodal": "yes"}`, http.StatusBadRequest, "malformed JSON")
	c.wantError("POST", "/api/run", `{"stages": {}}`, http.StatusBadRequest, `unknown field "stages"`)
}

func TestRunBeforeClicks(t *testing.T) {
	fr := &fakeRun{started: make(chan string, 1)}
	_, hs := newTestServer(t, Options{Run: fr.run})
	c := newClient(t, hs)
	c.session()
	c.wantError("POST", "/api/run", nil, http.StatusConflict, "no video")
	c.wantError("PUT", "/api/clicks", clicksJSON{Clicks: []scene.Click{{X: 1, Y: 1, Person: 1}}}, http.StatusConflict, "no video")
	c.json("POST", "/api/sample", nil, 200, nil)
	c.wantError("POST", "/api/run", nil, http.StatusBadRequest, "no clicks: click at least one point on a person")
	c.setClicks(scene.Click{X: 1, Y: 1, Person: 1})
	c.setClicks() // undo them all
	c.wantError("POST", "/api/run", `{"smooth": "off"}`, http.StatusBadRequest, "no clicks")
	select {
	case out := <-fr.started:
		t.Fatalf("a job ran without clicks: %s", out)
	default:
	}
}

// Two sessions editing and running at the same time never see each
// other's clicks, jobs or results.
func TestSessionsIsolated(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, Workers: 2})
	const rounds = 40
	var wg sync.WaitGroup
	jobs := make([]string, 2)
	clients := make([]*client, 2)
	for i := range 2 {
		clients[i] = newClient(t, hs)
		clients[i].session()
		clients[i].json("POST", "/api/sample", nil, 200, nil)
	}
	for i := range 2 {
		wg.Go(func() {
			c := clients[i]
			// Session i clicks at x = 100*(i+1) + k, person i+1.
			var mine []scene.Click
			for k := range rounds {
				mine = append(mine, scene.Click{Frame: k % 90, X: float64(100*(i+1) + k), Y: 50, Person: scene.PersonID(i + 1)})
				var got clicksJSON
				c.json("PUT", "/api/clicks", clicksJSON{Clicks: mine}, 200, &got)
				var read clicksJSON
				c.json("GET", "/api/clicks", nil, 200, &read)
				if !reflect.DeepEqual(read.Clicks, mine) {
					t.Errorf("session %d round %d: read back %v, want %v", i, k, read.Clicks, mine)
					return
				}
			}
			var j jobJSON
			c.json("POST", "/api/run", nil, 202, &j)
			j = c.wait(j.ID)
			if j.State != stateDone {
				t.Errorf("session %d: job %+v", i, j)
				return
			}
			jobs[i] = j.ID
			var sum job.Summary
			c.json("GET", "/api/jobs/"+j.ID+"/files/summary.json", nil, 200, &sum)
			if !reflect.DeepEqual(sum.Clicks, mine) {
				t.Errorf("session %d: the job ran on clicks %v, want %v", i, sum.Clicks, mine)
			}
			if len(j.Result.People) != 1 || int(j.Result.People[0].ID) != i+1 {
				t.Errorf("session %d: people %+v", i, j.Result.People)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Neither session can reach the other's job.
	for i, c := range clients {
		other := jobs[1-i]
		for _, p := range []string{"", "/events", "/files/result.mp4", "/files/summary.json", fmt.Sprintf("/people/%d/params.json", 2-i)} {
			c.wantError("GET", "/api/jobs/"+other+p, nil, http.StatusNotFound, "in this session")
		}
		c.wantError("POST", "/api/jobs/"+other+"/cancel", nil, http.StatusNotFound, "in this session")
		var st sessionJSON
		c.json("GET", "/api/session", nil, 200, &st)
		if len(st.Jobs) != 1 || st.Jobs[0].ID != jobs[i] {
			t.Errorf("session %d lists jobs %+v", i, st.Jobs)
		}
	}
}

func TestCancelLeavesNoOutputs(t *testing.T) {
	fr := &fakeRun{block: true, release: make(chan struct{}), started: make(chan string, 4)}
	_, hs := newTestServer(t, Options{Run: fr.run, Workers: 1})
	a, b := newClient(t, hs), newClient(t, hs)
	for _, c := range []*client{a, b} {
		c.session()
		c.json("POST", "/api/sample", nil, 200, nil)
		c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	}
	var ja, jb jobJSON
	a.json("POST", "/api/run", nil, 202, &ja)
	out := <-fr.started // a's job is running and has written partial output
	b.json("POST", "/api/run", nil, 202, &jb)
	if jb.State != stateQueued || jb.Position != 0 {
		t.Errorf("b's job with the only worker busy: %+v", jb)
	}
	if _, err := os.Stat(filepath.Join(out, "partial.bin")); err != nil {
		t.Fatalf("the fake job did not write its partial output: %v", err)
	}
	// Only one job per session at a time; the video stays put meanwhile.
	a.wantError("POST", "/api/run", nil, http.StatusConflict, "already running")
	a.wantError("POST", "/api/sample", nil, http.StatusConflict, "a job is queued or running")

	// Cancel the queued job: it never starts.
	b.json("POST", "/api/jobs/"+jb.ID+"/cancel", nil, 202, &jb)
	if jb.State != stateCancelled {
		t.Errorf("cancelled queued job: %+v", jb)
	}
	// Cancel the running one: its folder goes.
	a.json("POST", "/api/jobs/"+ja.ID+"/cancel", nil, 202, nil)
	ja = a.wait(ja.ID)
	if ja.State != stateCancelled || ja.Result != nil {
		t.Errorf("cancelled running job: %+v", ja)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cancelled job's output folder %s: %v, want it removed", out, err)
	}
	a.wantError("GET", "/api/jobs/"+ja.ID+"/files/result.mp4", nil, http.StatusNotFound, "is cancelled")
	a.wantError("GET", "/api/jobs/"+ja.ID+"/files/summary.json", nil, http.StatusNotFound, "is cancelled")
	select {
	case o := <-fr.started:
		t.Errorf("the cancelled queued job ran: %s", o)
	case <-time.After(100 * time.Millisecond):
	}

	// A failed job leaves nothing either, and says why.
	fr.block, fr.fail = false, errors.New("mesh: NaN from engine sam3d_body output pose")
	var jf jobJSON
	a.json("POST", "/api/run", nil, 202, &jf)
	out = <-fr.started
	jf = a.wait(jf.ID)
	if jf.State != stateFailed || !strings.Contains(jf.Error, "NaN from engine") {
		t.Errorf("failed job: %+v", jf)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed job's output folder %s: %v, want it removed", out, err)
	}
}

func TestQueueBounded(t *testing.T) {
	fr := &fakeRun{block: true, release: make(chan struct{}), started: make(chan string, 8)}
	_, hs := newTestServer(t, Options{Run: fr.run, Workers: 1, QueueSize: 2})
	var cs []*client
	for range 4 {
		c := newClient(t, hs)
		c.session()
		c.json("POST", "/api/sample", nil, 200, nil)
		c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
		cs = append(cs, c)
	}
	ids := make([]string, 3)
	for i := range 3 {
		var j jobJSON
		cs[i].json("POST", "/api/run", nil, 202, &j)
		ids[i] = j.ID
		if i == 0 {
			<-fr.started
		}
	}
	var j2 jobJSON
	cs[2].json("GET", "/api/jobs/"+ids[2], nil, 200, &j2)
	if j2.State != stateQueued || j2.Position != 1 {
		t.Errorf("third job: %+v, want queued behind one", j2)
	}
	cs[3].wantError("POST", "/api/run", nil, http.StatusServiceUnavailable, "queue is full")
	close(fr.release) // let every job finish
	for i := range 3 {
		if j := cs[i].wait(ids[i]); j.State != stateDone {
			t.Errorf("job %d: %+v", i, j)
		}
	}
	var j3 jobJSON
	cs[3].json("POST", "/api/run", nil, 202, &j3) // room again
	if j := cs[3].wait(j3.ID); j.State != stateDone {
		t.Errorf("job after the queue drained: %+v", j)
	}
}

func TestEventsAndResults(t *testing.T) {
	fr := &fakeRun{block: true, release: make(chan struct{}), started: make(chan string, 1)}
	_, hs := newTestServer(t, Options{Run: fr.run})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 1}, scene.Click{Frame: 3, X: 520, Y: 172, Person: 3})
	var j jobJSON
	c.json("POST", "/api/run", `{"amodal": false, "camera": true, "smooth": "oneeuro"}`, 202, &j)

	req, _ := http.NewRequest("GET", hs.URL+"/api/jobs/"+j.ID+"/events", nil)
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events Content-Type %q", ct)
	}
	<-fr.started
	var states []string
	var last jobJSON
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	released := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("event data %q: %v", line, err)
		}
		states = append(states, last.State)
		if !released && len(last.Stages) == 1 && last.Stages[0].Done == 4 {
			close(fr.release) // the stream showed the progress; finish
			released = true
		}
	}
	if last.State != stateDone || !released {
		t.Fatalf("stream ended with %+v (states %v)", last, states)
	}
	if sp := last.Stages; len(sp) != 1 || sp[0] != (stageProgress{"segment", 4, 4}) {
		t.Errorf("progress %+v", sp)
	}
	r := last.Result
	if r == nil || len(r.People) != 2 || r.People[1].ID != 3 || len(r.Profile) != 1 || r.Profile[0].WallMS != 1.5 {
		t.Fatalf("result %+v", r)
	}
	for _, p := range []string{r.Video, r.Summary, r.People[0].Params, r.People[1].Meshes} {
		if strings.Contains(p, "/tmp") || !strings.HasPrefix(p, "/api/jobs/"+j.ID+"/") {
			t.Errorf("result URL %q", p)
		}
	}

	// The MP4 supports ranges (for seeking in <video>).
	code, body := c.do("GET", r.Video, nil, "Range", "bytes=0-3")
	if code != http.StatusPartialContent || string(body) != "not " {
		t.Errorf("range request: %d %q", code, body)
	}
	var sum job.Summary
	c.json("GET", r.Summary, nil, 200, &sum)
	if sum.Width != 640 || len(sum.Clicks) != 2 {
		t.Errorf("summary.json: %+v", sum)
	}
	code, body = c.do("GET", r.People[1].Params, nil)
	if code != 200 || string(body) != `[{"person":3}]` {
		t.Errorf("person 3 params: %d %s", code, body)
	}
	code, body = c.do("GET", r.People[1].Meshes, nil)
	if code != 200 {
		t.Fatalf("person 3 zip: %d %s", code, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if want := []string{"person3/mesh_000000.ply", "person3/params.json"}; !reflect.DeepEqual(names, want) {
		t.Errorf("zip holds %v, want %v", names, want)
	}
	if code, _ := c.do("GET", r.Video+"?download", nil); code != 200 {
		t.Errorf("download: %d", code)
	}
}

func TestStagesReachJob(t *testing.T) {
	specs := make(chan job.Spec, 1)
	fr := &fakeRun{}
	_, hs := newTestServer(t, Options{Run: func(ctx context.Context, spec job.Spec, p func(body4d.Event)) (*job.Summary, error) {
		specs <- spec
		return fr.run(ctx, spec, p)
	}, Models: "/models/real"})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	var j jobJSON
	c.json("POST", "/api/run", `{"amodal": false, "camera": false, "smooth": "off", "fovx": 60, "camera_per_frame": true}`, 202, &j)
	spec := <-specs
	want := job.Stages{NoAmodal: true, NoCamera: true, FOVX: 60, CameraPerFrame: true, Smooth: "off"}
	if spec.Stages != want || spec.Models != "/models/real" || !strings.HasSuffix(spec.Video, "sample.mp4") {
		t.Errorf("spec %+v", spec)
	}
	c.wait(j.ID)
	c.json("POST", "/api/run", nil, 202, &j)
	if spec := <-specs; spec.Stages != (job.Stages{}) {
		t.Errorf("default stages: %+v", spec.Stages)
	}
	c.wait(j.ID)
}

func TestPreview(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.wantError("GET", "/api/preview/0", nil, http.StatusNotImplemented, "not available")

	preview := func(ctx context.Context, img *scene.RGB, frame int, clicks []scene.Click) (map[scene.PersonID]*scene.Mask, error) {
		if img.Rect.Dx() != 640 || frame != 0 {
			return nil, fmt.Errorf("preview of frame %d got a %v image", frame, img.Rect)
		}
		out := map[scene.PersonID]*scene.Mask{}
		for _, k := range clicks {
			if k.Frame != frame {
				return nil, fmt.Errorf("preview of frame %d got a click on frame %d", frame, k.Frame)
			}
			m := scene.NewMask(640, 360)
			m.Pix[int(k.Y)*640+int(k.X)] = 1
			out[k.Person] = m
		}
		return out, nil
	}
	_, hs2 := newTestServer(t, Options{Run: (&fakeRun{}).run, Preview: preview})
	c = newClient(t, hs2)
	var st sessionJSON
	c.json("POST", "/api/session", nil, 201, &st)
	if !st.Features.Preview {
		t.Error("preview not announced")
	}
	c.json("POST", "/api/sample", nil, 200, nil)
	c.wantError("GET", "/api/preview/0", nil, http.StatusBadRequest, "no clicks on frame 0")
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 2}, scene.Click{Frame: 5, X: 300, Y: 100, Person: 1})
	code, body := c.do("GET", "/api/preview/0", nil)
	if code != 200 {
		t.Fatalf("preview: %d %s", code, body)
	}
	if h := previewPeople(t, c, "/api/preview/0"); h != "2" {
		t.Errorf("Body4d-People %q, want 2", h)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := color.NRGBAModel.Convert(img.At(90, 175)), (color.NRGBA{60, 180, 75, 140}); got != want {
		t.Errorf("person 2's mask pixel: %v, want %v (palette colour 2)", got, want)
	}
	if _, _, _, a := img.At(91, 175).RGBA(); a != 0 {
		t.Error("pixel outside the mask is not transparent")
	}
	c.wantError("GET", "/api/preview/90", nil, http.StatusNotFound, "does not exist")
}

func TestSessionLimit(t *testing.T) {
	s, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, MaxSessions: 2})
	a, b, c := newClient(t, hs), newClient(t, hs), newClient(t, hs)
	a.session()
	time.Sleep(5 * time.Millisecond)
	b.session()
	time.Sleep(5 * time.Millisecond)
	a.json("GET", "/api/session", nil, 200, nil) // a is now the more recent
	c.session()                                  // drops b
	b.wantError("GET", "/api/session", nil, http.StatusUnauthorized, "no session")
	a.json("GET", "/api/session", nil, 200, nil)
	c.json("GET", "/api/session", nil, 200, nil)
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	s.dropIdle(time.Now().Add(time.Second))
	a.wantError("GET", "/api/session", nil, http.StatusUnauthorized, "no session")
}

// Close cancels running and queued jobs and removes every file.
func TestCloseCancelsJobs(t *testing.T) {
	fr := &fakeRun{block: true, release: make(chan struct{}), started: make(chan string, 2)}
	s, err := New(Options{Run: fr.run, Data: t.TempDir(), SampleDir: sampleDir(t), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	var ids []string
	for i := range 2 {
		c := newClient(t, hs)
		c.session()
		c.json("POST", "/api/sample", nil, 200, nil)
		c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
		var j jobJSON
		c.json("POST", "/api/run", nil, 202, &j)
		ids = append(ids, j.ID)
		if i == 0 {
			<-fr.started // running; the second one queues
		}
	}
	var jobs []*jobState
	s.mu.Lock()
	for _, se := range s.sessions {
		jobs = append(jobs, se.jobs...)
	}
	s.mu.Unlock()
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Close did not return")
	}
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(jobs))
	}
	for _, j := range jobs {
		if st := j.status(); st != stateCancelled {
			t.Errorf("job %s after Close: %s", j.id, st)
		}
	}
	if _, err := os.Stat(s.root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Close left %s: %v", s.root, err)
	}
	newClient(t, hs).wantError("POST", "/api/session", nil, http.StatusServiceUnavailable, "stopping")
}

func TestLoopbackOnly(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run, LoopbackOnly: true})
	for host, want := range map[string]int{
		"":                       http.StatusCreated, // the test server's own 127.0.0.1:port
		"localhost:7860":         http.StatusCreated,
		"[::1]:7860":             http.StatusCreated,
		"127.0.0.1":              http.StatusCreated,
		"evil.example:7860":      http.StatusMisdirectedRequest,
		"192.168.1.2:7860":       http.StatusMisdirectedRequest,
		"localhost.evil.example": http.StatusMisdirectedRequest,
	} {
		req, _ := http.NewRequest("POST", hs.URL+"/api/session", nil)
		if host != "" {
			req.Host = host
		}
		// No cookie jar: each POST makes a session (with one it would
		// return the first, 200).
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %q: status %d, want %d", host, res.StatusCode, want)
		}
	}
}

// previewPeople returns the Body4d-People header of a GET.
func previewPeople(t *testing.T, c *client, path string) string {
	res, err := c.hc.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.Header.Get("Body4d-People")
}

// TestTopView: a run asked for the world frame gets Stages.World; a
// finished job with world.json announces its top view, which answers the
// camera and each person's path from the job's files; a job without one
// answers 404 naming why.
func TestTopView(t *testing.T) {
	specs := make(chan job.Spec, 2)
	fr := &fakeRun{}
	worldRuns := 0
	_, hs := newTestServer(t, Options{Run: func(ctx context.Context, spec job.Spec, p func(body4d.Event)) (*job.Summary, error) {
		specs <- spec
		sum, err := fr.run(ctx, spec, p)
		if err != nil || spec.Stages.World == "" {
			return sum, err
		}
		if worldRuns++; worldRuns == 2 {
			// As job.Run: the camera-frame outputs and summary written,
			// the world frame refused.
			sum.Notes = append(sum.Notes, "the camera moves: camera-frame outputs written, no world frame")
			return sum, worldpkg.ErrMoving
		}
		// What job.Run writes with a world frame: world.json, and each
		// person's trajectory.json (frame 1 absent).
		world := `{"ground":{"camera_height_m":1.5},"camera_to_world":[[1,0,0,0.5],[0,-1,0,1.5],[0,0,-1,-3]]}`
		traj := `[{"frame":0,"present":true,"root_m":[1,0,2]},{"frame":1,"present":false,"root_m":[0,0,0]},{"frame":2,"present":true,"root_m":[1.5,0,2.5]}]`
		if err := os.WriteFile(filepath.Join(spec.Out, "world.json"), []byte(world), 0o644); err != nil {
			return nil, err
		}
		for _, p := range sum.People {
			if err := os.WriteFile(filepath.Join(p.Dir, "trajectory.json"), []byte(traj), 0o644); err != nil {
				return nil, err
			}
		}
		sum.World = &worldpkg.Ground{Height: 1.5}
		return sum, nil
	}})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.setClicks(scene.Click{X: 90, Y: 175, Person: 1})
	var j jobJSON
	c.json("POST", "/api/run", `{"world": true}`, 202, &j)
	if spec := <-specs; spec.Stages.World != "static" {
		t.Errorf("world run: stages %+v", spec.Stages)
	}
	done := c.wait(j.ID)
	if done.Result == nil || done.Result.World != "/api/jobs/"+j.ID+"/world" {
		t.Fatalf("result %+v: want the top view's URL", done.Result)
	}
	var v job.TopView
	c.json("GET", done.Result.World, nil, 200, &v)
	want := job.TopView{Camera: [2]float64{0.5, -3}, CameraFacing: [2]float64{0, -1}, Height: 1.5,
		People: []job.TopViewPerson{{ID: 1, Paths: [][][2]float64{{{1, 2}}, {{1.5, 2.5}}}}}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("top view %+v, want %+v", v, want)
	}

	c.json("POST", "/api/run", nil, 202, &j)
	if spec := <-specs; spec.Stages.World != "" {
		t.Errorf("default run: world %q", spec.Stages.World)
	}
	if done := c.wait(j.ID); done.Result == nil || done.Result.World != "" {
		t.Errorf("a run without a world frame announces a top view: %+v", done.Result)
	}
	c.wantError("GET", "/api/jobs/"+j.ID+"/world", nil, http.StatusNotFound, "no world frame")

	// A moving camera: the job is done with its camera-frame results and
	// the note, not failed.
	c.json("POST", "/api/run", `{"world": true}`, 202, &j)
	<-specs
	done = c.wait(j.ID)
	if done.State != stateDone || done.Result == nil || done.Result.World != "" || !slices.ContainsFunc(done.Result.Notes, func(n string) bool { return strings.Contains(n, "no world frame") }) {
		t.Errorf("moving camera: %s %q, result %+v; want done, the note, no top view", done.State, done.Error, done.Result)
	}
}

// TestFindPeople: "Find people" answers the detector's boxes on a frame
// (501 without a detector, 409 without a video, 404 for a frame that
// does not exist, 429 while the session's last one runs); the boxes the
// page keeps are stored with the clicks, validated, cleared by a new
// video, and reach the job as box prompts, enough to run without clicks.
func TestFindPeople(t *testing.T) {
	_, hs := newTestServer(t, Options{Run: (&fakeRun{}).run})
	c := newClient(t, hs)
	c.session()
	c.json("POST", "/api/sample", nil, 200, nil)
	c.wantError("POST", "/api/detect/0", nil, http.StatusNotImplemented, "no concept detector")

	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	detectFn := func(ctx context.Context, img *scene.RGB) ([]detect.Detection, error) {
		if img.Rect.Dx() != 640 {
			return nil, fmt.Errorf("got a %v image", img.Rect)
		}
		entered <- struct{}{}
		<-release
		return []detect.Detection{{X0: 150, Y0: 60, X1: 240, Y1: 350, Score: 0.93}, {X0: 400, Y0: 70, X1: 500, Y1: 355, Score: 0.86}}, nil
	}
	specs := make(chan job.Spec, 1)
	fr := &fakeRun{}
	_, hs = newTestServer(t, Options{Detect: detectFn, Run: func(ctx context.Context, spec job.Spec, p func(body4d.Event)) (*job.Summary, error) {
		specs <- spec
		return fr.run(ctx, spec, p)
	}})
	c = newClient(t, hs)
	var st sessionJSON
	c.json("POST", "/api/session", nil, 201, &st)
	if !st.Features.Detect {
		t.Error("find people not announced")
	}
	c.wantError("POST", "/api/detect/0", nil, http.StatusConflict, "no video")
	c.json("POST", "/api/sample", nil, 200, nil)
	c.wantError("POST", "/api/detect/90", nil, http.StatusNotFound, "does not exist")

	type found struct {
		Frame int
		Found []foundJSON
	}
	var got found
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, body := c.do("POST", "/api/detect/3", nil)
		if code != 200 || json.Unmarshal(body, &got) != nil {
			t.Errorf("detect: %d %s", code, body)
		}
	}()
	<-entered
	c.wantError("POST", "/api/detect/3", nil, http.StatusTooManyRequests, "one at a time")
	close(release)
	<-done
	if got.Frame != 3 || len(got.Found) != 2 || got.Found[0].Box != [4]float64{150, 60, 240, 350} || got.Found[1].Score != 0.86 {
		t.Fatalf("found %+v", got)
	}

	// The page keeps the second person's box only.
	box := scene.Box{Frame: 3, X0: 400, Y0: 70, X1: 500, Y1: 355, Person: 2}
	c.wantError("PUT", "/api/clicks", clicksJSON{Clicks: []scene.Click{}, Boxes: []scene.Box{{Frame: 3, X0: 400, Y0: 70, X1: 900, Y1: 355, Person: 2}}}, http.StatusBadRequest, "box 0")
	var stored clicksJSON
	c.json("PUT", "/api/clicks", clicksJSON{Clicks: []scene.Click{}, Boxes: []scene.Box{box}}, 200, &stored)
	c.json("GET", "/api/clicks", nil, 200, &stored)
	if len(stored.Boxes) != 1 || stored.Boxes[0] != box {
		t.Fatalf("stored %+v", stored)
	}
	var j jobJSON
	c.json("POST", "/api/run", nil, 202, &j)
	if spec := <-specs; len(spec.Prompts.Clicks) != 0 || len(spec.Prompts.Boxes) != 1 || spec.Prompts.Boxes[0] != box {
		t.Errorf("job prompts %+v: want the one box", spec.Prompts)
	}
	c.wait(j.ID)
	c.json("POST", "/api/sample", nil, 200, &st)
	if len(st.Boxes) != 0 {
		t.Errorf("a new video kept the boxes: %+v", st.Boxes)
	}
}
