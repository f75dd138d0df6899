package render

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/scene"
)

// Screen coordinates follow OpenGL and pyrender: pixel (i, j) covers
// [i, i+1)×[j, j+1) and is shaded at its centre (i+½, j+½), and a point
// projects to u = fx·x/z + cx, v = fy·y/z + cy.
//
// Rasterization snaps vertices to 1/256 pixel and evaluates integer edge
// functions with the top-left rule, so triangles sharing an edge never both
// cover, nor both miss, a sample. Each pixel has four samples at the
// standard 4× MSAA positions; a sample keeps the nearest triangle as a
// 64-bit key (float32 bits of 1/z above the face number), so the depth
// test is one integer compare and equal depths resolve the same way
// whatever the drawing order. Shading is deferred: after a band of rows is
// rasterized, each pixel is shaded once per distinct triangle among its
// samples, at the pixel centre, and the four samples are averaged; so
// interior pixels cost one shade and edge pixels get 4-level coverage.
const (
	subBits  = 8
	subScale = 1 << subBits
	half     = subScale / 2
	// bandRows is the height of the strips of rows that workers render.
	bandRows = 16
	// guard is how far outside the panel, in pixels, projected vertices
	// may lie before triangles are clipped to it, keeping fixed-point
	// edge products well inside int64.
	guard = 1 << 14
)

// sampleOffsets returns the four sample positions relative to the pixel
// centre, in 1/256 pixel: the standard 4× MSAA pattern (±2/16, ±6/16
// pixel; Mesa's llvmpipe, which rendered the goldens, and Direct3D use
// it), stated in OpenGL window coordinates, whose y axis points up, so y
// is negated here. With it our per-pixel coverage matches pyrender's
// exactly on the golden scenes.
func sampleOffsets() [4][2]int64 {
	return [4][2]int64{{-32, 96}, {96, 32}, {-96, -32}, {32, -96}}
}

// tri is a screen-space triangle ready to rasterize, front-facing and
// wound so that its area is positive.
type tri struct {
	x, y           [3]int64 // fixed point, subBits fraction bits
	wa, wb, wc     float64  // 1/z = wa·u + wb·v + wc
	x0, y0, x1, y1 int32    // pixels it may touch, inside the panel
	face           uint32   // global face index + 1; 0 marks an empty sample
}

type chunk struct {
	tris []tri
	bins [][]int32 // per band, indices into tris in drawing order
}

type panel struct {
	dst     *scene.RGB
	x0, y0  int // top-left pixel of the panel in dst
	w, h    int
	K       scene.Intrinsics
	white   bool
	opacity float64
	ifx     float64 // 1/fx
	ify     float64 // 1/fy
}

// draw renders the current pos/nrm into one panel.
func (r *Renderer) draw(p *panel) error {

	nb := (p.h + bandRows - 1) / bandRows
	nf := len(r.faces) / 3
	r.proj = grow(r.proj, len(r.pos)/3)
	r.terms = grow(r.terms, nf)
	r.parallel(len(r.proj), func(lo, hi int) { r.projectVertices(p, lo, hi) })
	nc := 4 * r.workers
	if nc > nf/256+1 {
		nc = nf/256 + 1
	}
	r.chunks = grow(r.chunks, nc)
	per := (nf + nc - 1) / nc
	var wg sync.WaitGroup
	for c := range r.chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo := min(c*per, nf)
			hi := min(lo+per, nf)
			r.setup(&r.chunks[c], p, nb, lo, hi)
		}()
	}
	wg.Wait()

	// With kernels, the whole panel's samples are rasterized at once on
	// the device; the bands then only shade.
	var keys []uint64
	if k := r.opt.Kernels; k != nil {
		r.gpuTris = r.gpuTris[:0]
		for c := range r.chunks {
			for _, t := range r.chunks[c].tris {
				r.gpuTris = append(r.gpuTris, kernels.Tri{X: t.x, Y: t.y, WA: t.wa, WB: t.wb, WC: t.wc,
					X0: t.x0, Y0: t.y0, X1: t.x1, Y1: t.y1, Face: t.face})
			}
		}
		r.keys = grow(r.keys, 4*p.w*p.h)
		if err := k.RasterSamples(r.keys, p.w, p.h, r.gpuTris); err != nil {
			return fmt.Errorf("rasterizing with %s: %w", k.Name(), err)
		}
		keys = r.keys
	}

	need := p.w * bandRows * 4
	if len(r.workerBufs) != r.workers {
		r.workerBufs = make([][]uint64, r.workers)
	}
	var next atomic.Int64
	for w := 0; w < r.workers; w++ {
		if len(r.workerBufs[w]) != need {
			r.workerBufs[w] = make([]uint64, need)
		}
		wg.Add(1)
		go func(buf []uint64) {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				if keys != nil {
					rows := keys[b*bandRows*p.w*4 : min((b+1)*bandRows, p.h)*p.w*4]
					r.band(p, b, rows, true, r.shader)
				} else {
					r.band(p, b, buf, false, r.shader)
				}
			}
		}(r.workerBufs[w])
	}
	wg.Wait()
	return nil
}

// setup culls, clips and projects faces [lo, hi) into ch.
func (r *Renderer) setup(ch *chunk, p *panel, nb, lo, hi int) {
	ch.tris = ch.tris[:0]
	ch.bins = grow(ch.bins, nb)
	for b := range ch.bins {
		ch.bins[b] = ch.bins[b][:0]
	}
	K := p.K
	pos := r.pos
	at := func(i uint32) [3]float64 {
		return [3]float64{float64(pos[3*i]), float64(pos[3*i+1]), float64(pos[3*i+2])}
	}
	// Clip planes, kept side a·p ≥ 0: the near plane, then the guard band
	// around the panel (u ≥ −g, u ≤ w+g, v ≥ −g, v ≤ h+g).
	planes := [5][4]float64{
		{0, 0, 1, -r.near},
		{K.Fx, 0, K.Cx + guard, 0},
		{-K.Fx, 0, float64(p.w) + guard - K.Cx, 0},
		{0, K.Fy, K.Cy + guard, 0},
		{0, -K.Fy, float64(p.h) + guard - K.Cy, 0},
	}
	var poly, tmp [16][3]float64
	proj := r.proj
	for f := lo; f < hi; f++ {
		i0, i1, i2 := r.faces[3*f], r.faces[3*f+1], r.faces[3*f+2]
		if q0, q1, q2 := &proj[i0], &proj[i1], &proj[i2]; q0.iz > 0 && q1.iz > 0 && q2.iz > 0 {
			// Common case: no clipping; the vertices are projected already.
			if ch.add(p, nb, [3]int64{q0.x, q1.x, q2.x}, [3]int64{q0.y, q1.y, q2.y},
				[3]float64{q0.iz, q1.iz, q2.iz}, uint32(f+1)) {
				r.terms[f] = r.faceTerms(uint32(f + 1))
			}
			continue
		}
		a, b, c := at(i0), at(i1), at(i2)
		// Back faces are culled, as pyrender does for single-sided
		// materials: front faces have their normal towards the camera.
		if !(dot(cross(sub(b, a), sub(c, a)), a) < 0) {
			continue
		}
		n := 3
		poly[0], poly[1], poly[2] = a, b, c
		for _, pl := range planes {
			out := false
			for i := 0; i < n; i++ {
				if planeDist(pl, poly[i]) < 0 {
					out = true
					break
				}
			}
			if !out {
				continue
			}
			m := 0
			for i := 0; i < n; i++ {
				s, e := poly[i], poly[(i+1)%n]
				ds, de := planeDist(pl, s), planeDist(pl, e)
				if ds >= 0 {
					tmp[m] = s
					m++
				}
				if (ds >= 0) != (de >= 0) {
					t := ds / (ds - de)
					tmp[m] = [3]float64{s[0] + t*(e[0]-s[0]), s[1] + t*(e[1]-s[1]), s[2] + t*(e[2]-s[2])}
					m++
				}
			}
			n = m
			poly, tmp = tmp, poly
			if n < 3 {
				break
			}
		}
		if n < 3 {
			continue
		}
		var scr [16]projVert
		for i := 0; i < n; i++ {
			scr[i] = project(poly[i], &K)
		}
		added := false
		for i := 1; i+1 < n; i++ {
			a, b, c := &scr[0], &scr[i], &scr[i+1]
			if ch.add(p, nb, [3]int64{a.x, b.x, c.x}, [3]int64{a.y, b.y, c.y}, [3]float64{a.iz, b.iz, c.iz}, uint32(f+1)) {
				added = true
			}
		}
		if added {
			r.terms[f] = r.faceTerms(uint32(f + 1))
		}
	}
}

func planeDist(pl [4]float64, q [3]float64) float64 {
	return pl[0]*q[0] + pl[1]*q[1] + pl[2]*q[2] + pl[3]
}

// projVert is a vertex projected to the panel: fixed-point pixel
// coordinates and 1/z; iz is 0 for a vertex that needs clipping (nearer
// than the near plane or beyond the guard band).
type projVert struct {
	x, y int64
	iz   float64
}

func project(q [3]float64, K *scene.Intrinsics) projVert {
	iz := 1 / q[2]
	return projVert{
		x:  int64(math.Round((K.Fx*q[0]*iz + K.Cx) * subScale)),
		y:  int64(math.Round((K.Fy*q[1]*iz + K.Cy) * subScale)),
		iz: iz,
	}
}

// projectVertices fills proj[lo:hi] for the current view.
func (r *Renderer) projectVertices(p *panel, lo, hi int) {
	K := &p.K
	for i := lo; i < hi; i++ {
		q := [3]float64{float64(r.pos[3*i]), float64(r.pos[3*i+1]), float64(r.pos[3*i+2])}
		if !(q[2] >= r.near) {
			r.proj[i] = projVert{}
			continue
		}
		v := project(q, K)
		if v.x < -guard*subScale || v.x > int64(p.w+guard)*subScale ||
			v.y < -guard*subScale || v.y > int64(p.h+guard)*subScale {
			v.iz = 0
		}
		r.proj[i] = v
	}
}

// add bins a snapped triangle (fixed-point x, y and 1/z per vertex).
func (ch *chunk) add(p *panel, nb int, xs, ys [3]int64, iz [3]float64, face uint32) bool {
	t := tri{face: face, x: xs, y: ys}
	area := (t.x[1]-t.x[0])*(t.y[2]-t.y[0]) - (t.y[1]-t.y[0])*(t.x[2]-t.x[0])
	// Front faces wind clockwise on screen (y down); after snapping, a
	// sliver may flip or vanish, and is dropped as OpenGL would cull it.
	if area >= 0 {
		return false
	}
	t.x[1], t.x[2] = t.x[2], t.x[1]
	t.y[1], t.y[2] = t.y[2], t.y[1]
	iz[1], iz[2] = iz[2], iz[1]
	area = -area
	// 1/z is affine in screen space: solve its plane from the snapped
	// vertices with barycentric weights.
	fa := float64(area) / (subScale * subScale)
	for i := 0; i < 3; i++ {
		j, k := (i+1)%3, (i+2)%3
		A := -float64(t.y[k]-t.y[j]) / subScale
		B := float64(t.x[k]-t.x[j]) / subScale
		C := -(A*float64(t.x[j]) + B*float64(t.y[j])) / subScale
		t.wa += A * iz[i] / fa
		t.wb += B * iz[i] / fa
		t.wc += C * iz[i] / fa
	}
	minX := min(t.x[0], t.x[1], t.x[2])
	maxX := max(t.x[0], t.x[1], t.x[2])
	minY := min(t.y[0], t.y[1], t.y[2])
	maxY := max(t.y[0], t.y[1], t.y[2])
	// Pixel i has samples from i·256+32 to i·256+224.
	x0 := max((minX-(half+96))>>subBits, 0)
	x1 := min((maxX-(half-96))>>subBits, int64(p.w-1))
	y0 := max((minY-(half+96))>>subBits, 0)
	y1 := min((maxY-(half-96))>>subBits, int64(p.h-1))
	if x0 > x1 || y0 > y1 {
		return false
	}
	t.x0, t.x1, t.y0, t.y1 = int32(x0), int32(x1), int32(y0), int32(y1)
	idx := int32(len(ch.tris))
	ch.tris = append(ch.tris, t)
	for b := int(y0) / bandRows; b <= int(y1)/bandRows && b < nb; b++ {
		ch.bins[b] = append(ch.bins[b], idx)
	}
	return true
}

// band rasterizes, shades and composites rows [b·bandRows, …) of p. buf
// is all zero on entry and is left so; with rastered, buf already holds
// the band's samples (from Kernels) and only shading runs.
func (r *Renderer) band(p *panel, b int, buf []uint64, rastered bool, sh *shader) {
	ry0 := b * bandRows
	ry1 := min(ry0+bandRows, p.h)

	if p.white {
		for y := ry0; y < ry1; y++ {
			o := p.dst.PixOffset(p.x0, p.y0+y)
			row := p.dst.Pix[o : o+3*p.w]
			for i := range row {
				row[i] = 0xff
			}
		}
	}
	tx0, tx1 := p.w, -1
	for c := range r.chunks {
		ch := &r.chunks[c]
		for _, ti := range ch.bins[b] {
			t := &ch.tris[ti]
			tx0 = min(tx0, int(t.x0))
			tx1 = max(tx1, int(t.x1))
			if !rastered {
				raster(t, buf, p.w, ry0, ry1)
			}
		}
	}
	if tx0 > tx1 {
		return
	}

	r.resolve(p, buf, ry0, ry1, tx0, tx1, sh)
}

// raster writes t's samples in rows [ry0, ry1) into buf.
func raster(t *tri, buf []uint64, w, ry0, ry1 int) {
	ya := max(int(t.y0), ry0)
	yb := min(int(t.y1), ry1-1)
	xa, xb := int(t.x0), int(t.x1)
	var A, B, E0 [3]int64
	var thr [3][4]int64
	for i := 0; i < 3; i++ {
		j, k := (i+1)%3, (i+2)%3 // edge j→k, opposite vertex i
		dx, dy := t.x[k]-t.x[j], t.y[k]-t.y[j]
		A[i], B[i] = -dy, dx
		var bias int64 = 1
		if dy < 0 || (dy == 0 && dx > 0) { // top-left edge
			bias = 0
		}
		for s, o := range sampleOffsets() {
			thr[i][s] = bias - A[i]*o[0] - B[i]*o[1]
		}
		px := int64(xa)<<subBits + half
		py := int64(ya)<<subBits + half
		E0[i] = A[i]*(px-t.x[j]) + B[i]*(py-t.y[j])
	}
	var lo [3]int64
	for i := range lo {
		lo[i] = min(thr[i][0], thr[i][1], thr[i][2], thr[i][3])
	}
	var dw [4]float64
	for s, o := range sampleOffsets() {
		dw[s] = (t.wa*float64(o[0]) + t.wb*float64(o[1])) / subScale
	}
	face := uint64(t.face)
	for y := ya; y <= yb; y++ {
		e0, e1, e2 := E0[0], E0[1], E0[2]
		wrow := t.wa*(float64(xa)+0.5) + t.wb*(float64(y)+0.5) + t.wc
		row := buf[((y-ry0)*w)*4:]
		for x := xa; x <= xb; x++ {
			// Most pixels of a bounding box miss every sample of a small
			// triangle: test the most lenient sample first.
			if e0 >= lo[0] && e1 >= lo[1] && e2 >= lo[2] {
				for s := 0; s < 4; s++ {
					if e0 >= thr[0][s] && e1 >= thr[1][s] && e2 >= thr[2][s] {
						key := uint64(math.Float32bits(float32(wrow+dw[s])))<<32 | face
						if key > row[4*x+s] {
							row[4*x+s] = key
						}
					}
				}
			}
			e0 += A[0] << subBits
			e1 += A[1] << subBits
			e2 += A[2] << subBits
			wrow += t.wa
		}
		E0[0] += B[0] << subBits
		E0[1] += B[1] << subBits
		E0[2] += B[2] << subBits
	}
}

// resolve shades the covered pixels of rows [ry0, ry1), columns
// [tx0, tx1], composites them into p.dst and zeroes buf.
func (r *Renderer) resolve(p *panel, buf []uint64, ry0, ry1, tx0, tx1 int, sh *shader) {
	op := float32(p.opacity)
	for y := ry0; y < ry1; y++ {
		row := buf[(y-ry0)*p.w*4:]
		o := p.dst.PixOffset(p.x0+tx0, p.y0+y)
		pix := p.dst.Pix[o : o+3*(tx1-tx0+1)]
		for x := tx0; x <= tx1; x++ {
			k := row[4*x : 4*x+4 : 4*x+4]
			if k[0]|k[1]|k[2]|k[3] == 0 {
				continue
			}
			var acc [3]float32
			var cover float32
			// Samples of one face differ in depth: compare faces only.
			if f := uint32(k[0]); f != 0 && f == uint32(k[1]) && f == uint32(k[2]) && f == uint32(k[3]) {
				acc = r.shade(p, uint32(k[0]), x, y, sh)
				cover = 1
			} else {
				var faces [4]uint32
				var counts [4]float32
				n := 0
				for s := 0; s < 4; s++ {
					if k[s] == 0 {
						continue
					}
					f := uint32(k[s])
					cover += 0.25
					j := 0
					for j < n && faces[j] != f {
						j++
					}
					if j == n {
						faces[n] = f
						n++
					}
					counts[j] += 0.25
				}
				for j := 0; j < n; j++ {
					c := r.shade(p, faces[j], x, y, sh)
					acc[0] += counts[j] * c[0]
					acc[1] += counts[j] * c[1]
					acc[2] += counts[j] * c[2]
				}
			}
			k[0], k[1], k[2], k[3] = 0, 0, 0, 0
			q := pix[3*(x-tx0) : 3*(x-tx0)+3 : 3*(x-tx0)+3]
			if cover == 1 && op == 1 {
				q[0], q[1], q[2] = uint8(255*acc[0]+0.5), uint8(255*acc[1]+0.5), uint8(255*acc[2]+0.5)
				continue
			}
			keep := 1 - op*cover
			for c := 0; c < 3; c++ {
				v := float32(q[c])*keep + op*255*acc[c] + 0.5
				if v > 255 {
					v = 255
				}
				q[c] = uint8(v)
			}
		}
	}
}

// faceTerms let shade find the perspective-correct radiance of a face at
// pixel ray d = ((u−cx)/fx, (v−cy)/fy, 1) as L = d·N / d·C. For a face
// p0, e1 = p1−p0, e2 = p2−p0, the ray meets it at barycentric
// b1 = d·(e2×−p0)/d·C and b2 = d·(−p0×e1)/d·C with C = e2×e1
// (Möller–Trumbore with the eye at the origin), so
// L = L0 + b1(L1−L0) + b2(L2−L0) has N = L0·C + (L1−L0)(e2×−p0) + (L2−L0)(−p0×e1).
type faceTerms struct {
	person int
	N, C   [3]float64
	mean   float64 // vertex mean, for a face seen edge-on (d·C = 0)
	lo, hi float64 // vertex extremes, bounding extrapolation past an edge
}

func (r *Renderer) faceTerms(f uint32) faceTerms {
	fi := int(f - 1)
	fc := r.faces[3*fi : 3*fi+3 : 3*fi+3]
	i0, i1, i2 := int(fc[0]), int(fc[1]), int(fc[2])
	pos := r.pos
	p0 := [3]float64{float64(pos[3*i0]), float64(pos[3*i0+1]), float64(pos[3*i0+2])}
	e1 := [3]float64{float64(pos[3*i1]) - p0[0], float64(pos[3*i1+1]) - p0[1], float64(pos[3*i1+2]) - p0[2]}
	e2 := [3]float64{float64(pos[3*i2]) - p0[0], float64(pos[3*i2+1]) - p0[1], float64(pos[3*i2+2]) - p0[2]}
	tv := [3]float64{-p0[0], -p0[1], -p0[2]}
	A, B, C := cross(e2, tv), cross(tv, e1), cross(e2, e1)
	L0, L1, L2 := float64(r.vrad[i0]), float64(r.vrad[i1]), float64(r.vrad[i2])
	t := faceTerms{C: C, mean: (L0 + L1 + L2) / 3, lo: min(L0, L1, L2), hi: max(L0, L1, L2)}
	for k := 0; k < 3; k++ {
		t.N[k] = L0*C[k] + (L1-L0)*A[k] + (L2-L0)*B[k]
	}
	for fi >= r.faceStart[t.person+1] {
		t.person++
	}
	return t
}

// shade returns the gamma-encoded colour (0..1) of face f (global index
// + 1) at the centre of pixel (x, y): the radiance computed at the face's
// vertices (see vertexRadiance), interpolated perspective-correctly as
// OpenGL interpolates varyings, which also holds for faces cut by the
// near plane.
func (r *Renderer) shade(p *panel, f uint32, x, y int, sh *shader) [3]float32 {
	e := &r.terms[f-1]
	dx := (float64(x) + 0.5 - p.K.Cx) * p.ifx
	dy := (float64(y) + 0.5 - p.K.Cy) * p.ify
	den := dx*e.C[0] + dy*e.C[1] + e.C[2]
	L := e.mean
	if den != 0 {
		// A pixel centre outside the face (an edge pixel covered only
		// by some samples) extrapolates, without bound for a face seen
		// nearly edge-on; pyrender's shader is bounded there by
		// normalizing the interpolated normal. Allow one vertex range
		// beyond the vertex values, no more.
		L = min(max((dx*e.N[0]+dy*e.N[1]+e.N[2])/den, e.lo-(e.hi-e.lo)), e.hi+(e.hi-e.lo))
	}
	g := sh.encode(L)
	col := &r.colors[e.person]
	return [3]float32{min(g*col[0], 1), min(g*col[1], 1), min(g*col[2], 1)}
}
