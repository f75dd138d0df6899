package render

import (
	"bytes"
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/body4d/body4d/scene"
)

func TestNewBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"opacity", Options{Opacity: 1.5}, "opacity"},
		{"nan opacity", Options{Opacity: math.NaN()}, "opacity"},
		{"near", Options{Near: -1}, "near"},
		{"mode", Options{Mode: 7}, "mode"},
		{"view", Options{Views: []View{Front, 9}}, "view 1"},
		{"workers", Options{Workers: -2}, "workers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) = %v, want error containing %q", tc.opt, err, tc.want)
			}
		})
	}
}

func TestRenderBadInput(t *testing.T) {
	good := ellipsoidMesh(4, 6, 0.3, 0.5, [3]float64{0, 0, 3}, 0)
	nan := ellipsoidMesh(4, 6, 0.3, 0.5, [3]float64{0, 0, 3}, 0)
	nan.Vertices[3*5+1] = float32(math.NaN())
	badFace := ellipsoidMesh(4, 6, 0.3, 0.5, [3]float64{0, 0, 3}, 0)
	badFace.Faces[7] = 999
	ragged := &scene.Mesh{Vertices: []float32{1, 2}, Faces: nil}
	K := scene.DefaultIntrinsics(64, 48)
	frame := func(w, h int) *scene.RGB { return scene.NewRGB(image.Rect(0, 0, w, h)) }
	for _, tc := range []struct {
		name   string
		opt    Options
		dst    *scene.RGB
		people []Item
		K      scene.Intrinsics
		want   string
	}{
		{"nil frame", Options{}, nil, []Item{{1, good}}, K, "nil destination"},
		{"zero-size frame", Options{}, frame(0, 48), []Item{{1, good}}, K, "empty"},
		{"short pixel buffer", Options{}, &scene.RGB{Pix: make([]uint8, 10), Stride: 192, Rect: image.Rect(0, 0, 64, 48)}, nil, K, "too short"},
		{"views do not split", Options{Views: []View{Front, Side}}, frame(63, 48), nil, K, "does not split"},
		{"zero focal", Options{}, frame(64, 48), []Item{{1, good}}, scene.Intrinsics{Fx: 0, Fy: 10, Cx: 32, Cy: 24}, "focal"},
		{"negative focal", Options{}, frame(64, 48), []Item{{1, good}}, scene.Intrinsics{Fx: 10, Fy: -10, Cx: 32, Cy: 24}, "focal"},
		{"nan centre", Options{}, frame(64, 48), []Item{{1, good}}, scene.Intrinsics{Fx: 10, Fy: 10, Cx: math.NaN(), Cy: 24}, "cx"},
		{"nan vertex", Options{}, frame(64, 48), []Item{{1, good}, {3, nan}}, K, "person 3: vertex 5 has coordinate y = NaN"},
		{"face out of range", Options{}, frame(64, 48), []Item{{2, badFace}}, K, "person 2: mesh: face 2 names vertex 999"},
		{"ragged mesh", Options{}, frame(64, 48), []Item{{4, ragged}}, K, "person 4"},
		{"nil mesh", Options{}, frame(64, 48), []Item{{5, nil}}, K, "person 5 has no mesh"},
		{"person id 0", Options{}, frame(64, 48), []Item{{0, good}}, K, "person id 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Render(tc.dst, tc.people, tc.K)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func mustRender(t testing.TB, opt Options, dst *scene.RGB, people []Item, K scene.Intrinsics) {
	t.Helper()
	r, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Render(dst, people, K); err != nil {
		t.Fatal(err)
	}
}

// TestNearPlaneClipping renders a floor that runs from behind the camera
// (z = −1) to z = 10 m, 0.3 m below it. Clipped at the near plane, it must
// cover exactly the rows below its far edge's horizon, v = cy + fy·0.3/10,
// down to the bottom: nothing above it (no exploded triangles from
// vertices behind the camera) and no holes below it (nothing dropped).
func TestNearPlaneClipping(t *testing.T) {
	const w, h = 160, 120
	K := scene.Intrinsics{Fx: 100, Fy: 100, Cx: 80, Cy: 50}
	// Two triangles, normal pointing up (−y) towards the camera.
	floor := &scene.Mesh{
		Vertices: []float32{-50, 0.3, -1, 50, 0.3, -1, -50, 0.3, 10, 50, 0.3, 10},
		Faces:    []uint32{0, 1, 2, 1, 3, 2},
	}
	dst := scene.NewRGB(image.Rect(0, 0, w, h))
	mustRender(t, Options{}, dst, []Item{{1, floor}}, K)
	horizon := K.Cy + K.Fy*0.3/10 // 53
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			drawn := dst.RGBAAt(x, y) != (scene.NewRGB(image.Rect(0, 0, 1, 1)).RGBAAt(0, 0))
			centre := float64(y) + 0.5
			switch {
			case centre < horizon-0.5 && drawn:
				t.Fatalf("pixel (%d,%d) above the horizon %.1f is drawn", x, y, horizon)
			case centre > horizon+0.5 && !drawn:
				t.Fatalf("pixel (%d,%d) below the horizon %.1f is not drawn", x, y, horizon)
			}
		}
	}
	// With the near plane moved to 1 m, the floor's image must end at
	// v = cy + fy·0.3/1 = 80.
	dst = scene.NewRGB(image.Rect(0, 0, w, h))
	mustRender(t, Options{Near: 1}, dst, []Item{{1, floor}}, K)
	black := scene.NewRGB(image.Rect(0, 0, 1, 1)).RGBAAt(0, 0)
	if dst.RGBAAt(80, 78) == black || dst.RGBAAt(80, 82) != black {
		t.Errorf("near plane 1 m: floor should end at row 80: row 78 %v, row 82 %v", dst.RGBAAt(80, 78), dst.RGBAAt(80, 82))
	}
}

// TestWorkersAgree checks that the image does not depend on the number of
// goroutines: each sample's winner is decided by depth and face, not by
// which worker drew first.
func TestWorkersAgree(t *testing.T) {
	people := []Item{{1, bodyMesh(-0.2, 3)}, {2, bodyMesh(0.15, 3.4)}}
	K := scene.DefaultIntrinsics(200, 150)
	var imgs [][]uint8
	for _, n := range []int{1, 3, 8} {
		dst := scene.NewRGB(image.Rect(0, 0, 200, 150))
		mustRender(t, Options{Workers: n}, dst, people, K)
		imgs = append(imgs, dst.Pix)
	}
	for i := 1; i < len(imgs); i++ {
		if !bytes.Equal(imgs[0], imgs[i]) {
			t.Errorf("image with workers #%d differs from 1 worker", i)
		}
	}
}

// TestDepthOrder checks that the nearer person hides the farther one
// whatever their order in the list.
func TestDepthOrder(t *testing.T) {
	near, far := Item{1, bodyMesh(0, 3)}, Item{2, bodyMesh(0.1, 4)}
	K := scene.DefaultIntrinsics(120, 90)
	a := scene.NewRGB(image.Rect(0, 0, 120, 90))
	b := scene.NewRGB(image.Rect(0, 0, 120, 90))
	mustRender(t, Options{}, a, []Item{near, far}, K)
	mustRender(t, Options{}, b, []Item{far, near}, K)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("image depends on the order of people")
	}
	// Where they overlap, the pixel is the nearer person's alone.
	alone := scene.NewRGB(image.Rect(0, 0, 120, 90))
	mustRender(t, Options{}, alone, []Item{near}, K)
	if a.RGBAAt(60, 45) != alone.RGBAAt(60, 45) {
		t.Errorf("centre pixel %v, want the nearer person's %v", a.RGBAAt(60, 45), alone.RGBAAt(60, 45))
	}
}

// TestOverlayOpacity checks the blend: at opacity ½ an interior pixel is
// the mean of the frame and the opaque mesh colour.
func TestOverlayOpacity(t *testing.T) {
	people := []Item{{1, bodyMesh(0, 3)}}
	K := scene.DefaultIntrinsics(80, 60)
	grey := func() *scene.RGB {
		f := scene.NewRGB(image.Rect(0, 0, 80, 60))
		for i := range f.Pix {
			f.Pix[i] = 100
		}
		return f
	}
	opaque, halfway, white := grey(), grey(), grey()
	mustRender(t, Options{}, opaque, people, K)
	mustRender(t, Options{Opacity: 0.5}, halfway, people, K)
	mustRender(t, Options{Mode: OnWhite}, white, people, K)
	o, hw := opaque.RGBAAt(40, 30), halfway.RGBAAt(40, 30)
	for c, v := range [][2]uint8{{o.R, hw.R}, {o.G, hw.G}, {o.B, hw.B}} {
		want := (float64(v[0]) + 100) / 2
		if math.Abs(float64(v[1])-want) > 1 {
			t.Errorf("channel %d: opacity ½ gives %d, want %.1f", c, v[1], want)
		}
	}
	if white.RGBAAt(40, 30) != o {
		t.Errorf("on white the interior is %v, want the opaque colour %v", white.RGBAAt(40, 30), o)
	}
	if c := white.RGBAAt(1, 1); c.R != 255 || c.G != 255 || c.B != 255 {
		t.Errorf("on white the background is %v", c)
	}
	if c := opaque.RGBAAt(1, 1); c.R != 100 {
		t.Errorf("overlay changed the background to %v", c)
	}
}

// TestViews checks the panels: the front panel equals a plain render, and
// the side and top panels show the people on white from other angles.
func TestViews(t *testing.T) {
	// A wide, shallow box-like person: narrow from the side, short from
	// above.
	m := ellipsoidMesh(30, 40, 0.6, 0.8, [3]float64{0, 0, 4}, 0)
	for i := 2; i < len(m.Vertices); i += 3 { // squash depth to 0.1 m
		m.Vertices[i] = 4 + (m.Vertices[i]-4)/6
	}
	people := []Item{{1, m}}
	const w, h = 100, 80
	K := scene.DefaultIntrinsics(w, h)
	front := scene.NewRGB(image.Rect(0, 0, w, h))
	mustRender(t, Options{}, front, people, K)
	panels := scene.NewRGB(image.Rect(0, 0, 3*w, h))
	mustRender(t, Options{Views: []View{Front, Side, Top}}, panels, people, K)
	width := func(img *scene.RGB, x0, y int) (n int) {
		for x := x0; x < x0+w; x++ {
			c := img.RGBAAt(x, y)
			if c != (scene.NewRGB(image.Rect(0, 0, 1, 1)).RGBAAt(0, 0)) && c.B < 250 {
				n++
			}
		}
		return n
	}
	height := func(img *scene.RGB, x int) (n int) {
		for y := 0; y < h; y++ {
			c := img.RGBAAt(x, y)
			if c != (scene.NewRGB(image.Rect(0, 0, 1, 1)).RGBAAt(0, 0)) && c.B < 250 {
				n++
			}
		}
		return n
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if front.RGBAAt(x, y) != panels.RGBAAt(x, y) {
				t.Fatalf("front panel differs from a plain render at (%d,%d)", x, y)
			}
		}
	}
	fw, sw := width(panels, 0, h/2), width(panels, w, h/2)
	if !(sw > 0 && sw*3 < fw) {
		t.Errorf("side view width %d px should be well under the front width %d px", sw, fw)
	}
	fh, th := height(panels, w/2), height(panels, 2*w+w/2)
	if !(th > 0 && th*3 < fh) {
		t.Errorf("top view height %d px should be well under the front height %d px", th, fh)
	}
	if c := panels.RGBAAt(w+1, 1); c.R != 255 || c.G != 255 || c.B != 255 {
		t.Errorf("side panel background is %v, want white", c)
	}
}

// TestConcurrentRenderers runs two renderers at once (for -race).
func TestConcurrentRenderers(t *testing.T) {
	people := []Item{{1, bodyMesh(0, 3)}}
	K := scene.DefaultIntrinsics(64, 48)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := New(Options{Workers: 2})
			if err != nil {
				errs[i] = err
				return
			}
			for k := 0; k < 3; k++ {
				if err := r.Render(scene.NewRGB(image.Rect(0, 0, 64, 48)), people, K); err != nil {
					errs[i] = err
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestPalette checks the colour table against painter.py's float values
// (×255, truncated) for a few entries, and the id+4 indexing.
func TestPalette(t *testing.T) {
	for _, tc := range []struct {
		id  scene.PersonID
		rgb [3]float64 // painter.py colour_list[id+4]
	}{
		{1, [3]float64{0.850, 0.325, 0.098}},
		{2, [3]float64{0.929, 0.694, 0.125}},
		{3, [3]float64{0.494, 0.184, 0.556}},
		{10, [3]float64{1.000, 0.500, 0.000}},
		{76, [3]float64{0.857, 0.857, 0.857}}, // the last entry
		{77, [3]float64{0.000, 0.000, 0.000}}, // wraps to entry 0
	} {
		c, err := PersonColor(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		got := [3]uint8{c.R, c.G, c.B}
		var want [3]uint8
		for i, v := range tc.rgb {
			want[i] = uint8(float32(v) * 255)
		}
		if got != want {
			t.Errorf("PersonColor(%d) = %v, want %v", tc.id, got, want)
		}
	}
	if _, err := PersonColor(0); err == nil {
		t.Error("PersonColor(0) gave no error")
	}
	if paletteLen != 81 {
		t.Errorf("palette has %d colours, painter.py has 81", paletteLen)
	}
}

func TestAcos(t *testing.T) {
	for x := -1.0; x <= 1; x += 1.0 / 4096 {
		if d := math.Abs(acos(x) - math.Acos(x)); d > 3e-8 {
			t.Fatalf("acos(%g) off by %g", x, d)
		}
	}
}

// TestNobody checks that with no people Overlay leaves the frame as it is
// and OnWhite paints it white.
func TestNobody(t *testing.T) {
	K := scene.DefaultIntrinsics(40, 30)
	frame := scene.NewRGB(image.Rect(0, 0, 40, 30))
	for i := range frame.Pix {
		frame.Pix[i] = uint8(i)
	}
	want := append([]uint8(nil), frame.Pix...)
	mustRender(t, Options{}, frame, nil, K)
	if !bytes.Equal(frame.Pix, want) {
		t.Error("overlay with no people changed the frame")
	}
	mustRender(t, Options{Mode: OnWhite}, frame, nil, K)
	for i, v := range frame.Pix {
		if v != 255 {
			t.Fatalf("on white with no people: byte %d is %d", i, v)
		}
	}
}

// TestOffsetBounds checks a destination whose bounds do not start at the
// origin: the image is the same, placed by the bounds.
func TestOffsetBounds(t *testing.T) {
	people := []Item{{2, bodyMesh(0, 3)}}
	K := scene.DefaultIntrinsics(64, 48)
	a := scene.NewRGB(image.Rect(0, 0, 64, 48))
	b := scene.NewRGB(image.Rect(5, 7, 69, 55))
	mustRender(t, Options{}, a, people, K)
	mustRender(t, Options{}, b, people, K)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("image depends on where dst's bounds start")
	}
}
