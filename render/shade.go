package render

import "math"

// The reference lights the meshes with pyrender's default shader
// (pyrender/shaders/mesh.frag) and the material pyrender gives a trimesh
// with vertex colours (mesh.py, _get_trimesh_props): metallic-roughness
// with base colour 1, metallic 0.2, roughness 0.8; the vertex colour
// multiplies the lit colour afterwards, then gamma 1/2.2 is applied.
// Because base colour and lights are white, lighting is one scalar per
// pixel, and the gamma of a product is the product of gammas:
// out = (L·c)^(1/2.2) = L^(1/2.2) · c^(1/2.2).
const (
	metallic   = 0.2
	roughness  = 0.8
	minRough   = 0.04 // mesh.frag's min_roughness, also its dielectric F0
	ambient    = 0.3  // the reference scene's ambient_light
	invGamma   = 1 / 2.2
	cDiff      = (1 - minRough) * (1 - metallic)  // mix(0, base·(1−0.04), 1−metallic)
	f0         = minRough*(1-metallic) + metallic // mix(0.04, base, metallic)
	roughA2    = roughness * roughness * roughness * roughness
	smithK     = (roughness + 1) * (roughness + 1) / 8
	lightCount = 3
)

// lightDirs are the directions towards the three raymond lights in the
// OpenCV camera frame. The reference (sam_3d_body renderer.py,
// create_raymond_lights) poses light i with its z axis along
// (sin θ cos φ, sin θ sin φ, cos θ), θ = π/6, φ = 0, 2π/3, 4π/3, in the
// world frame, whose axes are the GL camera's (the camera pose has no
// rotation). pyrender shines a directional light along −z of its pose
// (renderer.py: direction = −pose[:3,2]), so the shader's vector towards
// the light is +z. GL camera axes are OpenCV's with y and z negated.
func lightDirs() [lightCount][3]float64 {
	var d [lightCount][3]float64
	th := math.Pi / 6
	for i := range d {
		ph := 2 * math.Pi / 3 * float64(i)
		d[i] = [3]float64{math.Sin(th) * math.Cos(ph), -math.Sin(th) * math.Sin(ph), -math.Cos(th)}
	}
	return d
}

// shader holds what shading needs besides the mesh: the light directions
// and a table of the gamma curve, which math.Pow would make the costliest
// step of a frame.
type shader struct {
	lights [lightCount][3]float64
	gamma  [gammaSteps + 2]float32 // (i/gammaScale)^(1/2.2)
}

const (
	gammaScale = 1024
	gammaSteps = 8 * gammaScale // radiance stays well under 8 (3 lights of ≤ 1.1, ambient 0.3)
)

func newShader() *shader {
	s := &shader{lights: lightDirs()}
	for i := range s.gamma {
		s.gamma[i] = float32(math.Pow(float64(i)/gammaScale, invGamma))
	}
	return s
}

// encode returns L^(1/2.2), interpolating the table linearly; the error is
// below 1e-6 for L ≥ 0.3, the ambient floor.
func (s *shader) encode(L float64) float32 {
	x := L * gammaScale
	if !(x > 0) { // extrapolated past a face's edge, or NaN
		return 0
	}
	if x >= gammaSteps {
		return float32(math.Pow(L, invGamma))
	}
	i := int(x)
	f := float32(x - float64(i))
	return s.gamma[i] + f*(s.gamma[i+1]-s.gamma[i])
}

// radiance is the linear lit value (before the vertex colour) of a
// surface point p with unit normal n, seen from the camera at the origin:
// mesh.frag's compute_brdf summed over the lights, plus ambient.
func (s *shader) radiance(p, n [3]float64) float64 {
	il := 1 / math.Sqrt(p[0]*p[0]+p[1]*p[1]+p[2]*p[2])
	v := [3]float64{-p[0] * il, -p[1] * il, -p[2] * il}
	nv := clamp(math.Abs(dot(n, v)), 0.001, 1)
	gv := nv / (nv*(1-smithK) + smithK)
	sum := 0.0
	for i := range s.lights {
		l := &s.lights[i]
		h := [3]float64{l[0] + v[0], l[1] + v[1], l[2] + v[2]}
		ih := 1 / math.Sqrt(dot(h, h))
		nl := clamp(dot(n, *l), 0.001, 1)
		nh := clamp(dot(n, h)*ih, 0, 1)
		vh := clamp(dot(v, h)*ih, 0, 1)
		t := 1 - vh
		t2 := t * t
		F := f0 + (1-f0)*t2*t2*t
		den := nh*nh*(roughA2-1) + 1
		diffuse := (1 - F) * (cDiff / math.Pi)
		// F·G·D / (4·nl·nv + 0.001) with Smith G = gv·nl/(nl(1−k)+k) and
		// GGX D = α²/(π·den²), over one division.
		spec := F * gv * nl * roughA2 / ((nl*(1-smithK) + smithK) * math.Pi * den * den * (4*nl*nv + 0.001))
		sum += nl * (diffuse + spec)
	}
	return sum + ambient
}

func gammaEncode(x float64) float32 { return float32(math.Pow(x, invGamma)) }

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func normalize(a [3]float64) [3]float64 {
	l := math.Sqrt(dot(a, a))
	if l == 0 {
		return a
	}
	return [3]float64{a[0] / l, a[1] / l, a[2] / l}
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// vertexRadiance lights each vertex (Gouraud shading): pyrender lights
// each pixel, but on body meshes, whose triangles span a few pixels, the
// two differ by well under one grey level on average (see
// TestPyrenderParity) while this is several times faster.
func vertexRadiance(L, pos, nrm []float32, sh *shader) {
	for i := range L {
		p := [3]float64{float64(pos[3*i]), float64(pos[3*i+1]), float64(pos[3*i+2])}
		if p == [3]float64{} {
			p[2] = -1 // a vertex at the eye: any view direction will do
		}
		n := [3]float64{float64(nrm[3*i]), float64(nrm[3*i+1]), float64(nrm[3*i+2])}
		L[i] = float32(sh.radiance(p, n))
	}
}

// cornerNormals writes, for faces [lo, hi) of the concatenated mesh,
// each corner's contribution to its vertex normal as trimesh computes the
// normals for pyrender.Mesh.from_trimesh(smooth=True)
// (trimesh.geometry.weighted_vertex_normals): the unit face normal times
// the face's angle at that corner; degenerate faces contribute nothing.
// sumNormals then adds them up per vertex. The split lets the costly part
// (square roots, arc cosines) run in parallel over faces.
func cornerNormals(w []float32, pos []float32, faces []uint32, lo, hi int) {
	at := func(i uint32) [3]float64 {
		return [3]float64{float64(pos[3*i]), float64(pos[3*i+1]), float64(pos[3*i+2])}
	}
	for f := lo; f < hi; f++ {
		out := w[9*f : 9*f+9 : 9*f+9]
		p := [3][3]float64{at(faces[3*f]), at(faces[3*f+1]), at(faces[3*f+2])}
		n := cross(sub(p[1], p[0]), sub(p[2], p[0]))
		l := math.Sqrt(dot(n, n))
		if !(l > 0) {
			clear(out)
			continue
		}
		n = [3]float64{n[0] / l, n[1] / l, n[2] / l}
		// Corner angles from the edge lengths; the third is π minus the
		// other two, saving an arc cosine.
		e := [3][3]float64{sub(p[1], p[0]), sub(p[2], p[1]), sub(p[0], p[2])}
		ln := [3]float64{math.Sqrt(dot(e[0], e[0])), math.Sqrt(dot(e[1], e[1])), math.Sqrt(dot(e[2], e[2]))}
		a0 := acos(-dot(e[0], e[2]) / (ln[0] * ln[2]))
		a1 := acos(-dot(e[1], e[0]) / (ln[1] * ln[0]))
		ang := [3]float64{a0, a1, math.Max(math.Pi-a0-a1, 0)}
		for c := 0; c < 3; c++ {
			out[3*c], out[3*c+1], out[3*c+2] = float32(ang[c]*n[0]), float32(ang[c]*n[1]), float32(ang[c]*n[2])
		}
	}
}

// sumNormals adds the corner contributions of faces [lo, hi) into the
// unit vertex normals nrm of vertices [vlo, vhi), which those faces use
// alone.
func sumNormals(nrm []float32, w []float32, faces []uint32, lo, hi, vlo, vhi int) {
	acc := nrm[3*vlo : 3*vhi]
	clear(acc)
	for f := lo; f < hi; f++ {
		for c := 0; c < 3; c++ {
			o := 3*int(faces[3*f+c]) - 3*vlo
			acc[o] += w[9*f+3*c]
			acc[o+1] += w[9*f+3*c+1]
			acc[o+2] += w[9*f+3*c+2]
		}
	}
	for i := 0; i < len(acc); i += 3 {
		n := normalize([3]float64{float64(acc[i]), float64(acc[i+1]), float64(acc[i+2])})
		acc[i], acc[i+1], acc[i+2] = float32(n[0]), float32(n[1]), float32(n[2])
	}
}

func sub(a, b [3]float64) [3]float64 { return [3]float64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

// acos is arc cosine to within 2e-8 rad (Abramowitz & Stegun 4.4.46),
// several times faster than math.Acos; the angles only weight normals
// that are stored as float32. x is clamped to [−1, 1].
func acos(x float64) float64 {
	neg := x < 0
	x = math.Min(math.Abs(x), 1)
	r := math.Sqrt(1-x) * (1.5707963050 + x*(-0.2145988016+x*(0.0889789874+x*(-0.0501743046+
		x*(0.0308918810+x*(-0.0170881256+x*(0.0066700901+x*-0.0012624911)))))))
	if neg {
		return math.Pi - r
	}
	return r
}
