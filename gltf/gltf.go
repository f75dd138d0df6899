package gltf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

// Scene is what one .glb holds: people, and optionally the camera, over
// the same video frames.
type Scene struct {
	People []Person
	Camera *Camera // nil: no camera node
	FPS    scene.Rational
}

// Person is one rig and the colour of its mesh.
type Person struct {
	Rig *rig.Rig
	// Color is the mesh's base colour (linear RGB, 0..1).
	Color [3]float32
}

// Camera is the video's camera: its intrinsics, image size, and pose on
// every frame (rig.CameraPoses).
type Camera struct {
	K             scene.Intrinsics
	Width, Height int
	Poses         []mhr.State
}

// Write writes s as one glTF binary file.
func Write(w io.Writer, s Scene) error {
	if len(s.People) == 0 {
		return errors.New("gltf: no people to write")
	}
	if s.FPS.Num <= 0 || s.FPS.Den <= 0 {
		return fmt.Errorf("gltf: frame rate %v: want a positive rational", s.FPS)
	}
	n := len(s.People[0].Rig.Poses)
	for _, p := range s.People {
		if len(p.Rig.Poses) != n {
			return fmt.Errorf("gltf: person %d has %d frames, person %d has %d", p.Rig.ID, len(p.Rig.Poses), s.People[0].Rig.ID, n)
		}
	}
	if s.Camera != nil && len(s.Camera.Poses) != n {
		return fmt.Errorf("gltf: camera has %d poses for %d frames", len(s.Camera.Poses), n)
	}
	b := &builder{doc: document{
		Asset: asset{Version: "2.0", Generator: "body4d", Extras: &assetExtras{
			FPS: s.FPS.String(), Frames: n, Units: "metres", Axes: "Y up",
			Absent: "root joint scale 0 (STEP interpolation) on frames where the person is absent",
		}},
		Scenes: []sceneJSON{{Name: "body4d"}},
	}}
	times := make([]float32, n)
	for f := range times {
		times[f] = float32(float64(f) * float64(s.FPS.Den) / float64(s.FPS.Num))
	}
	timeAcc := b.accessor(b.view(floats(times), 0), componentFloat, n, "SCALAR", []float64{float64(times[0])}, []float64{float64(times[n-1])})
	anim := animation{Name: "motion"}
	for _, p := range s.People {
		if err := b.person(p, timeAcc, &anim); err != nil {
			return err
		}
	}
	if s.Camera != nil {
		b.camera(s.Camera, timeAcc, &anim)
	}
	b.doc.Animations = []animation{anim}
	return b.writeGLB(w)
}

// person adds one rig: joint nodes, the skinned mesh and its channels.
func (b *builder) person(p Person, timeAcc int, anim *animation) error {
	r := p.Rig
	J := len(r.Parents)
	if len(r.Names) != J || len(r.Bind) != J || len(r.InverseBind) != J {
		return fmt.Errorf("gltf: person %d: rig has %d joints but %d names, %d bind states, %d inverse bind states",
			r.ID, J, len(r.Names), len(r.Bind), len(r.InverseBind))
	}
	V := len(r.Vertices) / 3
	if len(r.Skin.Joints) != V*rig.MaxInfluences || len(r.Skin.Weights) != V*rig.MaxInfluences {
		return fmt.Errorf("gltf: person %d: skin has %d slots for %d vertices", r.ID, len(r.Skin.Weights), V)
	}
	base := len(b.doc.Nodes)
	joints := make([]int, J)
	for j := range J {
		joints[j] = base + j
		t, q, s := trs(r.Bind[j])
		b.doc.Nodes = append(b.doc.Nodes, node{Name: r.Names[j], Translation: &t, Rotation: &q, Scale: &s})
	}
	var roots []int
	for j, par := range r.Parents {
		if par < 0 {
			roots = append(roots, base+j)
			continue
		}
		if par >= j {
			return fmt.Errorf("gltf: person %d: joint %d has parent %d, want an earlier joint", r.ID, j, par)
		}
		b.doc.Nodes[base+par].Children = append(b.doc.Nodes[base+par].Children, base+j)
	}

	// Skin.
	ibm := make([]float32, 16*J)
	for j, s := range r.InverseBind {
		m := matrix(s)
		copy(ibm[16*j:], m[:])
	}
	skinIdx := len(b.doc.Skins)
	sk := skin{Name: fmt.Sprintf("person_%d", r.ID), Joints: joints,
		InverseBindMatrices: b.accessor(b.view(floats(ibm), 0), componentFloat, J, "MAT4", nil, nil)}
	if len(roots) == 1 {
		sk.Skeleton = &roots[0]
	}
	b.doc.Skins = append(b.doc.Skins, sk)

	// Mesh.
	prim, err := b.primitive(r, V, J)
	if err != nil {
		return err
	}
	prim.Material = len(b.doc.Materials)
	b.doc.Materials = append(b.doc.Materials, material{Name: fmt.Sprintf("person_%d", r.ID), PBR: pbr{
		BaseColorFactor: [4]float32{p.Color[0], p.Color[1], p.Color[2], 1}, MetallicFactor: 0, RoughnessFactor: 0.8}})
	meshIdx := len(b.doc.Meshes)
	b.doc.Meshes = append(b.doc.Meshes, meshJSON{Name: fmt.Sprintf("person_%d", r.ID), Primitives: []primitive{prim}})
	meshNode := len(b.doc.Nodes)
	b.doc.Nodes = append(b.doc.Nodes, node{Name: fmt.Sprintf("person_%d", r.ID), Mesh: &meshIdx, Skin: &skinIdx,
		Extras: &nodeExtras{Person: int(r.ID)}})
	b.doc.Scenes[0].Nodes = append(b.doc.Scenes[0].Nodes, meshNode)
	b.doc.Scenes[0].Nodes = append(b.doc.Scenes[0].Nodes, roots...)

	// Channels: every joint's T, R, S on every frame.
	n := len(r.Poses)
	for j := range J {
		ts := make([]float32, 0, 3*n)
		qs := make([]float32, 0, 4*n)
		ss := make([]float32, 0, 3*n)
		var prev [4]float64
		for f := range n {
			t, q, s := trs(r.Poses[f][j])
			if f > 0 && q[0]*prev[0]+q[1]*prev[1]+q[2]*prev[2]+q[3]*prev[3] < 0 {
				q = [4]float64{-q[0], -q[1], -q[2], -q[3]}
			}
			prev = q
			if r.Parents[j] < 0 && !r.Present[f] {
				s = [3]float64{}
			}
			ts = append(ts, f32(t[:])...)
			qs = append(qs, f32(q[:])...)
			ss = append(ss, f32(s[:])...)
		}
		scaleInterp := "LINEAR"
		if r.Parents[j] < 0 {
			scaleInterp = "STEP"
		}
		b.channel(anim, timeAcc, base+j, "translation", "LINEAR", ts, "VEC3")
		b.channel(anim, timeAcc, base+j, "rotation", "LINEAR", qs, "VEC4")
		b.channel(anim, timeAcc, base+j, "scale", scaleInterp, ss, "VEC3")
	}
	return nil
}

// primitive writes the bind-pose mesh: positions, normals, indices and
// the skin's joint and weight attributes.
func (b *builder) primitive(r *rig.Rig, V, J int) (primitive, error) {
	lo := []float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := []float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for i, x := range r.Vertices {
		lo[i%3] = min(lo[i%3], float64(x))
		hi[i%3] = max(hi[i%3], float64(x))
	}
	for _, f := range r.Faces {
		if int(f) >= V {
			return primitive{}, fmt.Errorf("gltf: person %d: face vertex %d of %d", r.ID, f, V)
		}
	}
	attr := map[string]int{
		"POSITION": b.accessor(b.view(floats(r.Vertices), targetArray), componentFloat, V, "VEC3", lo, hi),
		"NORMAL":   b.accessor(b.view(floats(normals(r.Vertices, r.Faces)), targetArray), componentFloat, V, "VEC3", nil, nil),
	}
	sets := 1
	if r.Skin.Used > 4 {
		sets = 2
	}
	for set := range sets {
		var js []byte
		comp := componentUByte
		if J > 256 {
			comp = componentUShort
		}
		ws := make([]float32, 0, 4*V)
		for v := range V {
			for k := 4 * set; k < 4*set+4; k++ {
				j := r.Skin.Joints[v*rig.MaxInfluences+k]
				if int(j) >= J {
					return primitive{}, fmt.Errorf("gltf: person %d: vertex %d skinned to joint %d of %d", r.ID, v, j, J)
				}
				if comp == componentUByte {
					js = append(js, byte(j))
				} else {
					js = binary.LittleEndian.AppendUint16(js, j)
				}
				ws = append(ws, r.Skin.Weights[v*rig.MaxInfluences+k])
			}
		}
		attr[fmt.Sprintf("JOINTS_%d", set)] = b.accessor(b.view(js, targetArray), comp, V, "VEC4", nil, nil)
		attr[fmt.Sprintf("WEIGHTS_%d", set)] = b.accessor(b.view(floats(ws), targetArray), componentFloat, V, "VEC4", nil, nil)
	}
	var idx []byte
	comp := componentUInt
	if V <= math.MaxUint16 {
		comp = componentUShort
	}
	for _, f := range r.Faces {
		if comp == componentUShort {
			idx = binary.LittleEndian.AppendUint16(idx, uint16(f))
		} else {
			idx = binary.LittleEndian.AppendUint32(idx, f)
		}
	}
	return primitive{Attributes: attr, Indices: b.accessor(b.view(idx, targetElements), comp, len(r.Faces), "SCALAR", nil, nil), Mode: 4}, nil
}

// camera adds the camera node, keyed when its pose changes.
func (b *builder) camera(c *Camera, timeAcc int, anim *animation) {
	K := c.K
	w, h := float64(c.Width), float64(c.Height)
	cam := len(b.doc.Cameras)
	b.doc.Cameras = append(b.doc.Cameras, camera{Type: "perspective", Name: "camera",
		Perspective: perspective{YFov: 2 * math.Atan(h/(2*K.Fy)), AspectRatio: (w / K.Fx) / (h / K.Fy), ZNear: 0.01},
		Extras: &cameraExtras{Fx: K.Fx, Fy: K.Fy, Cx: K.Cx, Cy: K.Cy, Width: c.Width, Height: c.Height,
			PrincipalOffset: [2]float64{K.Cx - w/2, K.Cy - h/2},
			Note:            "glTF has no principal point: principal_offset (pixels from the image centre) is not expressed by the camera"}})
	t, q, s := trs(c.Poses[0])
	idx := len(b.doc.Nodes)
	b.doc.Nodes = append(b.doc.Nodes, node{Name: "camera", Camera: &cam, Translation: &t, Rotation: &q, Scale: &s})
	b.doc.Scenes[0].Nodes = append(b.doc.Scenes[0].Nodes, idx)
	moves := false
	for _, p := range c.Poses {
		moves = moves || p != c.Poses[0]
	}
	if !moves {
		return
	}
	var ts, qs []float32
	for _, p := range c.Poses {
		t, q, _ := trs(p)
		ts = append(ts, f32(t[:])...)
		qs = append(qs, f32(q[:])...)
	}
	b.channel(anim, timeAcc, idx, "translation", "LINEAR", ts, "VEC3")
	b.channel(anim, timeAcc, idx, "rotation", "LINEAR", qs, "VEC4")
}

// trs splits a state into a node's translation, rotation and scale, with
// the quaternion normalised (glTF requires unit rotations).
func trs(s mhr.State) (t [3]float64, q [4]float64, sc [3]float64) {
	n := math.Sqrt(s.Q[0]*s.Q[0] + s.Q[1]*s.Q[1] + s.Q[2]*s.Q[2] + s.Q[3]*s.Q[3])
	return s.T, [4]float64{s.Q[0] / n, s.Q[1] / n, s.Q[2] / n, s.Q[3] / n}, [3]float64{s.S, s.S, s.S}
}

// matrix is s as a column-major 4×4 matrix (glTF's layout).
func matrix(s mhr.State) [16]float32 {
	r := s.Q.Matrix()
	var m [16]float32
	for row := range 3 {
		for col := range 3 {
			m[4*col+row] = float32(s.S * r[3*row+col])
		}
		m[12+row] = float32(s.T[row])
	}
	m[15] = 1
	return m
}

// normals returns area-weighted vertex normals of a mesh, unit length;
// (0, 1, 0) for a vertex on no face of non-zero area.
func normals(v []float32, faces []uint32) []float32 {
	acc := make([]float64, len(v))
	p := func(i uint32) [3]float64 { return [3]float64{float64(v[3*i]), float64(v[3*i+1]), float64(v[3*i+2])} }
	for i := 0; i+2 < len(faces); i += 3 {
		a, b, c := p(faces[i]), p(faces[i+1]), p(faces[i+2])
		u := [3]float64{b[0] - a[0], b[1] - a[1], b[2] - a[2]}
		w := [3]float64{c[0] - a[0], c[1] - a[1], c[2] - a[2]}
		n := [3]float64{u[1]*w[2] - u[2]*w[1], u[2]*w[0] - u[0]*w[2], u[0]*w[1] - u[1]*w[0]}
		for _, k := range faces[i : i+3] {
			for c := range 3 {
				acc[3*k+uint32(c)] += n[c]
			}
		}
	}
	out := make([]float32, len(v))
	for i := 0; i < len(acc); i += 3 {
		l := math.Sqrt(acc[i]*acc[i] + acc[i+1]*acc[i+1] + acc[i+2]*acc[i+2])
		if !(l > 1e-20) {
			out[i+1] = 1
			continue
		}
		for c := range 3 {
			out[i+c] = float32(acc[i+c] / l)
		}
	}
	return out
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func floats(x []float32) []byte {
	out := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// builder collects the JSON document and the binary buffer.
type builder struct {
	doc document
	bin bytes.Buffer
}

// view appends data (4-byte aligned) to the buffer as a buffer view.
func (b *builder) view(data []byte, target int) int {
	for b.bin.Len()%4 != 0 {
		b.bin.WriteByte(0)
	}
	b.doc.BufferViews = append(b.doc.BufferViews, bufferView{ByteOffset: b.bin.Len(), ByteLength: len(data), Target: target})
	b.bin.Write(data)
	return len(b.doc.BufferViews) - 1
}

func (b *builder) accessor(view, comp, count int, typ string, lo, hi []float64) int {
	b.doc.Accessors = append(b.doc.Accessors, accessor{BufferView: view, ComponentType: comp, Count: count, Type: typ, Min: lo, Max: hi})
	return len(b.doc.Accessors) - 1
}

// channel adds a sampler of values keyed at the shared times and a
// channel driving node's path with it.
func (b *builder) channel(anim *animation, timeAcc, nodeIdx int, path, interp string, values []float32, typ string) {
	out := b.accessor(b.view(floats(values), 0), componentFloat, b.doc.Accessors[timeAcc].Count, typ, nil, nil)
	anim.Samplers = append(anim.Samplers, sampler{Input: timeAcc, Output: out, Interpolation: interp})
	anim.Channels = append(anim.Channels, channel{Sampler: len(anim.Samplers) - 1, Target: target{Node: nodeIdx, Path: path}})
}

// writeGLB writes the binary container: a 12-byte header, the JSON chunk
// padded with spaces and the BIN chunk padded with zeros.
func (b *builder) writeGLB(w io.Writer) error {
	for b.bin.Len()%4 != 0 {
		b.bin.WriteByte(0)
	}
	b.doc.Buffers = []buffer{{ByteLength: b.bin.Len()}}
	js, err := json.Marshal(b.doc)
	if err != nil {
		return fmt.Errorf("gltf: %w", err)
	}
	for len(js)%4 != 0 {
		js = append(js, ' ')
	}
	total := 12 + 8 + len(js) + 8 + b.bin.Len()
	if total > math.MaxUint32 {
		return fmt.Errorf("gltf: %d bytes is more than a .glb can hold", total)
	}
	var hdr []byte
	hdr = binary.LittleEndian.AppendUint32(hdr, 0x46546C67) // "glTF"
	hdr = binary.LittleEndian.AppendUint32(hdr, 2)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(total))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(js)))
	hdr = binary.LittleEndian.AppendUint32(hdr, 0x4E4F534A) // "JSON"
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	hdr = binary.LittleEndian.AppendUint32(hdr[:0], uint32(b.bin.Len()))
	hdr = binary.LittleEndian.AppendUint32(hdr, 0x004E4942) // "BIN\0"
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err = w.Write(b.bin.Bytes())
	return err
}
