// Package render draws people's body meshes over video frames on the CPU,
// with the visibility pass on a GPU when Options.Kernels is given.
//
// It reproduces the look of the reference's pyrender renderer (reference
// note app-pipeline.md §4) without OpenGL or a display: perspective
// projection with the frame's intrinsics, clipping at the near plane,
// back-face culling, a depth buffer, smooth (Gouraud) shading with
// pyrender's default metallic-roughness shader under the three "raymond"
// lights plus ambient 0.3, evaluated at the vertices and interpolated
// perspective-correctly, one palette colour per person, and anti-aliased
// edges in the manner of the reference's 4× MSAA framebuffer: depth and
// coverage are resolved at the four standard sample positions of each
// pixel, shading runs once per pixel and triangle, and the samples are
// averaged.
//
// Usage mirrors image/draw: build a Renderer once with New, then call
// Render for each frame; its buffers are reused between calls.
package render

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/scene"
)

// Mode selects what the front view is drawn over.
type Mode int

const (
	// Overlay draws the meshes over the video frame already in dst,
	// blended with Options.Opacity.
	Overlay Mode = iota
	// OnWhite draws the meshes on a white background, the reference's look.
	OnWhite
)

// View is one panel of the output.
type View int

const (
	// Front is the camera's own view.
	Front View = iota
	// Side turns the people 90° about the vertical (y) axis through their
	// centre, as if the camera orbited them, and shows them from their
	// side, on white. The centre is put on the optical axis, moved back
	// if needed so that everyone fits in the panel.
	Side
	// Top turns the people 90° about the horizontal (x) axis through
	// their centre and shows them from above, framed like Side.
	Top
)

func (v View) String() string {
	switch v {
	case Front:
		return "front"
	case Side:
		return "side"
	case Top:
		return "top"
	}
	return fmt.Sprintf("View(%d)", int(v))
}

// DefaultNear is the near clipping distance in metres used when
// Options.Near is zero: pyrender's default znear (constants.py), which the
// reference's IntrinsicsCamera keeps.
const DefaultNear = 0.05

// Options configure a Renderer. The zero value renders the front view as
// an opaque overlay on the frame.
type Options struct {
	Mode Mode
	// Opacity of the meshes over the frame in Overlay mode, in [0, 1];
	// zero means 1 (opaque). Side and top views and OnWhite are opaque.
	Opacity float64
	// Views are the panels of dst from left to right, each as wide as
	// dst's width divided by len(Views); nil means {Front}.
	Views []View
	// Near is the near clipping distance in metres; zero means DefaultNear.
	Near float64
	// Workers is the number of goroutines; zero means GOMAXPROCS.
	Workers int
	// Kernels, if not nil, runs the visibility pass (which triangle each
	// of a pixel's four samples sees) on a GPU: kernels.Default gives the
	// CUDA kernels where there are some. Its result is bit for bit the Go
	// path's; shading and compositing stay on the CPU either way.
	Kernels kernels.Kernels
}

// Item is one person's mesh on one frame.
type Item struct {
	Person scene.PersonID
	Mesh   *scene.Mesh // camera frame, metres, OpenCV axes
}

// Renderer rasterizes meshes. It keeps its buffers between calls, so one
// Renderer must not be used by two goroutines at once; use one per
// goroutine.
type Renderer struct {
	opt     Options
	opacity float64
	near    float64
	workers int

	// Per call, all people concatenated.
	pos, nrm   []float32 // camera-frame positions and unit normals, 3 per vertex
	base       []float32 // positions before a side/top rotation
	baseNrm    []float32
	faces      []uint32     // global vertex indices, 3 per face
	faceStart  []int        // first face of each person, plus the total
	colors     [][3]float32 // gamma-encoded person colours, 0..1
	chunks     []chunk
	workerBufs [][]uint64
	keys       []uint64      // the panel's samples, when Kernels rasterizes
	gpuTris    []kernels.Tri // every chunk's triangles, for Kernels
	proj       []projVert    // per vertex, in the current panel
	terms      []faceTerms   // per face binned in the current panel
	vrad       []float32     // per vertex, linear radiance in the current view
	cornerW    []float32     // per face, each corner's weighted normal
	shader     *shader
}

// New returns a Renderer with the given options.
func New(opt Options) (*Renderer, error) {
	if !(opt.Opacity >= 0 && opt.Opacity <= 1) {
		return nil, fmt.Errorf("render: opacity %g is outside [0, 1]", opt.Opacity)
	}
	if !(opt.Near >= 0) || math.IsInf(opt.Near, 0) {
		return nil, fmt.Errorf("render: near plane %g must be a positive distance", opt.Near)
	}
	if opt.Mode != Overlay && opt.Mode != OnWhite {
		return nil, fmt.Errorf("render: unknown mode %d", opt.Mode)
	}
	if opt.Workers < 0 {
		return nil, fmt.Errorf("render: %d workers", opt.Workers)
	}
	for i, v := range opt.Views {
		if v != Front && v != Side && v != Top {
			return nil, fmt.Errorf("render: view %d is unknown (%d)", i, int(v))
		}
	}
	r := &Renderer{opt: opt, opacity: opt.Opacity, near: opt.Near, workers: opt.Workers, shader: newShader()}
	r.opt.Views = append([]View(nil), opt.Views...)
	if len(r.opt.Views) == 0 {
		r.opt.Views = []View{Front}
	}
	if r.opacity == 0 {
		r.opacity = 1
	}
	if r.near == 0 {
		r.near = DefaultNear
	}
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	return r, nil
}

// Render draws people into dst. Each panel of dst (see Options.Views) is
// one view through a camera with intrinsics K, in the panel's own pixel
// coordinates; in Overlay mode the front panel must already hold the video
// frame. People are coloured by PersonColor(Person). Edges are
// anti-aliased by coverage and composited as coverage·opacity over the
// background, once (the reference blends its already-blended render over
// white a second time, which slightly lightens its edges).
func (r *Renderer) Render(dst *scene.RGB, people []Item, K scene.Intrinsics) error {
	if dst == nil {
		return fmt.Errorf("render: nil destination image")
	}
	W, H := dst.Rect.Dx(), dst.Rect.Dy()
	nv := len(r.opt.Views)
	if W <= 0 || H <= 0 {
		return fmt.Errorf("render: destination image is empty (%dx%d)", W, H)
	}
	if W%nv != 0 {
		return fmt.Errorf("render: destination width %d does not split into %d views", W, nv)
	}
	if len(dst.Pix) < dst.PixOffset(dst.Rect.Max.X-1, dst.Rect.Max.Y-1)+3 {
		return fmt.Errorf("render: destination pixel buffer is %d bytes, too short for %v", len(dst.Pix), dst.Rect)
	}
	if err := checkIntrinsics(K); err != nil {
		return err
	}
	if err := r.load(people); err != nil {
		return err
	}
	pw := W / nv
	for i, v := range r.opt.Views {
		r.view(v, K, pw, H)
		p := panel{dst: dst, x0: dst.Rect.Min.X + i*pw, y0: dst.Rect.Min.Y, w: pw, h: H, K: K, ifx: 1 / K.Fx, ify: 1 / K.Fy}
		p.white = v != Front || r.opt.Mode == OnWhite
		p.opacity = r.opacity
		if p.white {
			p.opacity = 1
		}
		if err := r.draw(&p); err != nil {
			return fmt.Errorf("render: %s view: %w", v, err)
		}
	}
	return nil
}

func checkIntrinsics(K scene.Intrinsics) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"fx", K.Fx}, {"fy", K.Fy}, {"cx", K.Cx}, {"cy", K.Cy}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("render: intrinsics %s is %g", f.name, f.v)
		}
	}
	if K.Fx <= 0 || K.Fy <= 0 {
		return fmt.Errorf("render: focal length (fx %g, fy %g) must be positive", K.Fx, K.Fy)
	}
	return nil
}

// load checks the people and concatenates their meshes.
func (r *Renderer) load(people []Item) error {
	r.base = r.base[:0]
	r.faces = r.faces[:0]
	r.faceStart = r.faceStart[:0]
	r.colors = r.colors[:0]
	for _, it := range people {
		if err := checkItem(it); err != nil {
			return err
		}
		c, _ := PersonColor(it.Person)
		r.colors = append(r.colors, [3]float32{gammaEncode(float64(c.R) / 255),
			gammaEncode(float64(c.G) / 255), gammaEncode(float64(c.B) / 255)})
		off := uint32(len(r.base) / 3)
		r.faceStart = append(r.faceStart, len(r.faces)/3)
		r.base = append(r.base, it.Mesh.Vertices...)
		for _, f := range it.Mesh.Faces {
			r.faces = append(r.faces, f+off)
		}
	}
	r.faceStart = append(r.faceStart, len(r.faces)/3)
	if uint64(len(r.faces)/3) >= math.MaxUint32 {
		return fmt.Errorf("render: %d faces in one frame is too many", len(r.faces)/3)
	}
	r.baseNrm = grow(r.baseNrm, len(r.base))
	nf := len(r.faces) / 3
	r.cornerW = grow(r.cornerW, 9*nf)
	r.parallel(nf, func(lo, hi int) { cornerNormals(r.cornerW, r.base, r.faces, lo, hi) })
	var wg sync.WaitGroup
	vlo := 0
	for i, it := range people {
		vhi := vlo + it.Mesh.NumVertices()
		wg.Add(1)
		go func(vlo, vhi int) {
			defer wg.Done()
			sumNormals(r.baseNrm, r.cornerW, r.faces, r.faceStart[i], r.faceStart[i+1], vlo, vhi)
		}(vlo, vhi)
		vlo = vhi
	}
	wg.Wait()
	return nil
}

// parallel calls fn on about 4·workers consecutive ranges covering [0, n)
// at once.
func (r *Renderer) parallel(n int, fn func(lo, hi int)) {
	nc := min(4*r.workers, n/256+1)
	per := (n + nc - 1) / nc
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+per, n))
	}
	wg.Wait()
}

func checkItem(it Item) error {
	if it.Person < 1 {
		return fmt.Errorf("render: person id %d must be ≥ 1", it.Person)
	}
	if it.Mesh == nil {
		return fmt.Errorf("render: person %d has no mesh", it.Person)
	}
	if err := it.Mesh.Validate(); err != nil {
		return fmt.Errorf("render: person %d: %w", it.Person, err)
	}
	for i, v := range it.Mesh.Vertices {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("render: person %d: vertex %d has coordinate %c = %g",
				it.Person, i/3, "xyz"[i%3], v)
		}
	}
	return nil
}

// view sets pos and nrm to the people as seen in view v.
func (r *Renderer) view(v View, K scene.Intrinsics, w, h int) {
	r.pos = grow(r.pos, len(r.base))
	r.nrm = grow(r.nrm, len(r.base))
	r.vrad = grow(r.vrad, len(r.base)/3)
	defer r.parallel(len(r.vrad), func(lo, hi int) {
		vertexRadiance(r.vrad[lo:hi], r.pos[3*lo:3*hi], r.nrm[3*lo:3*hi], r.shader)
	})
	if v == Front || len(r.base) == 0 {
		copy(r.pos, r.base)
		copy(r.nrm, r.baseNrm)
		return
	}
	// The camera orbits the centre of the people's bounding box (the point
	// the reference's combined view re-centres on, vis_utils.py, note §4)
	// and looks at it: the people turn about that centre, which is put on
	// the optical axis at its own distance, or farther when needed to keep
	// everyone inside the panel.
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for i, x := range r.base {
		lo[i%3] = math.Min(lo[i%3], float64(x))
		hi[i%3] = math.Max(hi[i%3], float64(x))
	}
	var c [3]float64
	for k := range c {
		c[k] = (lo[k] + hi[k]) / 2
	}
	// R rotates by +90°: about y (x' = z, z' = −x) for Side, about x
	// (y' = −z, z' = y) for Top.
	rot := func(p [3]float64) [3]float64 {
		if v == Side {
			return [3]float64{p[2], p[1], -p[0]}
		}
		return [3]float64{p[0], -p[2], p[1]}
	}
	// Room from the principal point to the nearest panel border, less a
	// margin.
	rx := 0.9 * math.Min(K.Cx, float64(w)-K.Cx)
	ry := 0.9 * math.Min(K.Cy, float64(h)-K.Cy)
	dist := math.Sqrt(c[0]*c[0] + c[1]*c[1] + c[2]*c[2])
	for i := 0; i < len(r.base); i += 3 {
		q := rot([3]float64{float64(r.base[i]) - c[0], float64(r.base[i+1]) - c[1], float64(r.base[i+2]) - c[2]})
		n := rot([3]float64{float64(r.baseNrm[i]), float64(r.baseNrm[i+1]), float64(r.baseNrm[i+2])})
		dist = math.Max(dist, 2*r.near-q[2])
		if rx > 0 {
			dist = math.Max(dist, math.Abs(q[0])*K.Fx/rx-q[2])
		}
		if ry > 0 {
			dist = math.Max(dist, math.Abs(q[1])*K.Fy/ry-q[2])
		}
		for k := 0; k < 3; k++ {
			r.pos[i+k] = float32(q[k])
			r.nrm[i+k] = float32(n[k])
		}
	}
	for i := 2; i < len(r.pos); i += 3 {
		r.pos[i] += float32(dist)
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
