// Package rig turns one person's track of MHR body parameters into a
// skinned, animated rig for animation files: the joint hierarchy with its
// names, the bind pose, a bind-pose mesh with the person's identity baked
// in, skin weights of at most MaxInfluences joints per vertex, and every
// joint's transform on every video frame, placed in an output frame. The
// glTF and BVH writers write a Rig; they never pose bodies themselves.
//
// Units are metres. MHR's own frame is Y up with Z towards the viewer;
// SAM-3D-Body's camera frame is MHR's turned half a turn about X and
// shifted by the camera translation: x_cam = D·x_mhr + CamT with
// D = diag(1, −1, −1). The output frame is chosen by a Frame, a rigid
// transform from each video frame's camera coordinates to the output's
// (right-handed, Y up, as glTF and BVH expect). CameraFrame is the
// camera's own frame turned Y up; a world frame (a static camera's ground
// plane) is another Frame.
//
// What a skinned rig cannot carry: MHR's pose correctives (a non-linear
// function of the pose added to the rest mesh before skinning) and any
// change of identity from frame to frame (the mesh has one bind shape).
package rig

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

// MaxInfluences is the most joints that move one vertex in a Rig: glTF's
// two sets of four (JOINTS_0/1, WEIGHTS_0/1), and momentum's own limit,
// so MHR's skin is never truncated (see Skin).
const MaxInfluences = 8

// Frame maps video frame f's camera coordinates (OpenCV axes: x right,
// y down, z forward; metres) into the output frame as a rigid transform
// (S = 1).
type Frame func(f int) mhr.State

// CameraFrame is the camera's own frame turned so that Y is up: x right,
// y up, z towards the viewer, a half turn about x. The camera sits at the
// origin looking down −z, which is glTF's camera convention.
func CameraFrame(int) mhr.State { return halfTurnX() }

// halfTurnX is D = diag(1, −1, −1): MHR's axes to the camera's and back.
func halfTurnX() mhr.State { return mhr.State{Q: mhr.Quat{1, 0, 0, 0}, S: 1} }

// CameraPoses places the camera in the output frame on each of n video
// frames: a glTF camera node's transform (looking down its −z, y up).
// A nil frame is CameraFrame, where the camera stays at the origin.
func CameraPoses(frame Frame, n int) []mhr.State {
	if frame == nil {
		frame = CameraFrame
	}
	out := make([]mhr.State, n)
	for f := range out {
		out[f] = frame(f).Compose(halfTurnX())
	}
	return out
}

// Rig is one person's skinned, animated body.
type Rig struct {
	ID      scene.PersonID
	Names   []string // joint names
	Parents []int    // parent joint, -1 for a root; parents come first
	// Bind is each joint's local state in the bind pose (MHR's zero
	// pose) and InverseBind each joint's inverse global bind state, in
	// MHR's axes.
	Bind, InverseBind []mhr.State
	// Vertices is the bind-pose mesh (V×3, MHR's axes) with the
	// person's identity and expression baked in (BindShape says which);
	// Faces index it.
	Vertices []float32
	Faces    []uint32
	Skin     Skin
	// Poses[f][j] is joint j's local state on video frame f; a root
	// joint's includes the placement in the output frame. A frame where
	// the person is absent holds the nearest earlier present frame's
	// pose (the nearest later one before the first).
	Poses   [][]mhr.State
	Present []bool // per video frame
	// BindShape is the identity (45) and expression (72) baked into
	// Vertices: the per-coefficient median over the present frames,
	// which is the value itself when smoothing locked it (the default).
	BindShape, BindExpr []float32
}

// Skin is a rig's skinning: per vertex, MaxInfluences (joint, weight)
// slots, heaviest first, the unused ones joint 0 with weight 0. Weights
// sum to 1 (renormalised after dropping influences beyond MaxInfluences).
type Skin struct {
	Joints  []uint16  // V × MaxInfluences
	Weights []float32 // V × MaxInfluences
	// Used is the most influences any vertex has (≤ MaxInfluences);
	// Dropped counts influences cut by the limit.
	Used, Dropped int
}

// Options choose a rig's timeline and output frame.
type Options struct {
	// Frames is the video's length: the rig has a pose for every frame
	// 0..Frames-1, so that time f/fps in the file is frame f of the
	// video. 0 means the end of the track.
	Frames int
	// Frame is the output frame; nil is CameraFrame.
	Frame Frame
}

// New builds person tr.ID's rig from their track and the body model.
// Errors name the person and frame.
func New(model *mhr.Model, tr scene.Track, opts Options) (*Rig, error) {
	if model == nil {
		return nil, errors.New("rig: no body model")
	}
	if len(tr.Present) != len(tr.Params) {
		return nil, fmt.Errorf("rig: person %d: %d presence flags for %d frames of parameters", tr.ID, len(tr.Present), len(tr.Params))
	}
	n := opts.Frames
	if n == 0 {
		n = tr.Start + len(tr.Params)
	}
	if tr.Start < 0 || n < tr.Start+len(tr.Params) {
		return nil, fmt.Errorf("rig: person %d: track covers frames %d..%d, outside the video's %d frames", tr.ID, tr.Start, tr.Start+len(tr.Params)-1, n)
	}
	frame := opts.Frame
	if frame == nil {
		frame = CameraFrame
	}
	r := &Rig{ID: tr.ID, Names: model.JointNames(), Parents: model.Parents(), Present: make([]bool, n)}
	var present []scene.Params
	for i, p := range tr.Params {
		if tr.Present[i] {
			r.Present[tr.Start+i] = true
			present = append(present, p)
		}
	}
	if len(present) == 0 {
		return nil, fmt.Errorf("rig: person %d is present on no frame: nothing to animate", tr.ID)
	}
	if err := r.bindPose(model, present); err != nil {
		return nil, fmt.Errorf("rig: person %d: %w", tr.ID, err)
	}
	var err error
	if r.Skin, err = limitSkin(model); err != nil {
		return nil, fmt.Errorf("rig: person %d: %w", tr.ID, err)
	}

	r.Poses = make([][]mhr.State, n)
	for f := range n {
		if !r.Present[f] {
			continue
		}
		out := frame(f)
		p := tr.Params[f-tr.Start]
		local, err := model.LocalStates(p.Model[:])
		if err != nil {
			return nil, fmt.Errorf("rig: person %d, frame %d: %w", tr.ID, f, err)
		}
		// Body → camera is x ↦ D·x + CamT; then the output frame.
		place := out.Compose(mhr.State{T: p.CamT, Q: mhr.Quat{0, 0, 0, 1}, S: 1}).Compose(halfTurnX())
		for j := range local {
			local[j] = metres(local[j])
			if r.Parents[j] < 0 {
				local[j] = place.Compose(local[j])
			}
		}
		r.Poses[f] = local
	}
	holdPoses(r.Poses, r.Present)
	return r, nil
}

// holdPoses fills absent frames with the nearest earlier present pose,
// or the first present one before it.
func holdPoses(poses [][]mhr.State, present []bool) {
	first := slices.Index(present, true)
	var last []mhr.State
	for f := range poses {
		switch {
		case present[f]:
			last = poses[f]
		case last != nil:
			poses[f] = last
		default:
			poses[f] = poses[first]
		}
	}
}

// metres converts a state's translation from MHR's centimetres.
func metres(s mhr.State) mhr.State {
	s.T = [3]float64{s.T[0] / 100, s.T[1] / 100, s.T[2] / 100}
	return s
}

// bindPose sets the bind skeleton, inverse bind states and the
// bind-pose mesh with the median identity and expression of the present
// frames.
func (r *Rig) bindPose(model *mhr.Model, present []scene.Params) error {
	r.BindShape = median(present, func(p *scene.Params) []float32 { return p.Shape[:] })
	r.BindExpr = median(present, func(p *scene.Params) []float32 { return p.Expr[:] })
	rest, err := model.Rest(r.BindShape, r.BindExpr)
	if err != nil {
		return err
	}
	for i := range rest {
		rest[i] /= 100
	}
	r.Vertices = rest
	faces := model.Faces()
	r.Faces = make([]uint32, len(faces))
	for i, f := range faces {
		r.Faces[i] = uint32(f)
	}
	zero := make([]float32, model.NumModelParams())
	bind, err := model.LocalStates(zero)
	if err != nil {
		return err
	}
	r.Bind = make([]mhr.State, len(bind))
	for j, s := range bind {
		r.Bind[j] = metres(s)
	}
	r.InverseBind = model.InverseBind()
	for j, s := range r.InverseBind {
		r.InverseBind[j] = metres(s)
	}
	return nil
}

// median returns the per-coefficient median of field over ps (the mean
// of the two middle values for an even count).
func median(ps []scene.Params, field func(*scene.Params) []float32) []float32 {
	out := make([]float32, len(field(&ps[0])))
	col := make([]float32, len(ps))
	for k := range out {
		for i := range ps {
			col[i] = field(&ps[i])[k]
		}
		slices.Sort(col)
		m := len(col) / 2
		if len(col)%2 == 1 {
			out[k] = col[m]
		} else {
			out[k] = float32((float64(col[m-1]) + float64(col[m])) / 2)
		}
	}
	return out
}

// limitSkin keeps each vertex's MaxInfluences heaviest influences and
// renormalises them to sum to 1 in float32.
func limitSkin(model *mhr.Model) (Skin, error) {
	V := model.NumVertices()
	type infl struct {
		joint  int32
		weight float32
	}
	per := make([][]infl, V)
	vs, js, ws := model.SkinWeights()
	for i, v := range vs {
		if ws[i] != 0 {
			per[v] = append(per[v], infl{js[i], ws[i]})
		}
	}
	if model.NumJoints() > math.MaxUint16+1 {
		return Skin{}, fmt.Errorf("%d joints: more than a skin can index", model.NumJoints())
	}
	s := Skin{Joints: make([]uint16, V*MaxInfluences), Weights: make([]float32, V*MaxInfluences)}
	for v, in := range per {
		if len(in) == 0 {
			return Skin{}, fmt.Errorf("vertex %d has no skin weights", v)
		}
		slices.SortStableFunc(in, func(a, b infl) int {
			return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(a.joint, b.joint))
		})
		if len(in) > MaxInfluences {
			s.Dropped += len(in) - MaxInfluences
			in = in[:MaxInfluences]
		}
		s.Used = max(s.Used, len(in))
		var sum float64
		for _, x := range in {
			sum += float64(x.weight)
		}
		if !(sum > 0) {
			return Skin{}, fmt.Errorf("vertex %d: skin weights sum to %g", v, sum)
		}
		w := s.Weights[v*MaxInfluences : (v+1)*MaxInfluences]
		j := s.Joints[v*MaxInfluences : (v+1)*MaxInfluences]
		var rest float32 // what float32 rounding left over, given to the heaviest
		for k, x := range in {
			j[k] = uint16(x.joint)
			w[k] = float32(float64(x.weight) / sum)
			if k > 0 {
				rest += w[k]
			}
		}
		w[0] = 1 - rest
	}
	return s, nil
}

// Global returns every joint's global state on frame f (composing Poses
// along the hierarchy), in the output frame.
func (r *Rig) Global(f int) []mhr.State {
	g := make([]mhr.State, len(r.Parents))
	for j, p := range r.Parents {
		g[j] = r.Poses[f][j]
		if p >= 0 {
			g[j] = g[p].Compose(g[j])
		}
	}
	return g
}

// Skinned returns the rig's mesh on frame f (V×3, output frame) as a
// glTF viewer skins it: Σ w·(G_j ∘ B_j⁻¹)(bind vertex), in float64.
func (r *Rig) Skinned(f int) []float64 {
	g := r.Global(f)
	xf := make([]mhr.State, len(g))
	for j := range g {
		xf[j] = g[j].Compose(r.InverseBind[j])
	}
	out := make([]float64, len(r.Vertices))
	for v := range len(r.Vertices) / 3 {
		p := [3]float64{float64(r.Vertices[3*v]), float64(r.Vertices[3*v+1]), float64(r.Vertices[3*v+2])}
		for k := range MaxInfluences {
			w := r.Skin.Weights[v*MaxInfluences+k]
			if w == 0 {
				continue
			}
			q := xf[r.Skin.Joints[v*MaxInfluences+k]].Apply(p)
			for c := range 3 {
				out[3*v+c] += float64(w) * q[c]
			}
		}
	}
	return out
}

// Posed poses one frame's parameters with MHR itself (Forward, or
// Forward without pose correctives) and places the result like a rig's
// frame placed in the output frame by out (Frame's value for that
// frame): the reference a rig and the files written from it are checked
// against. It returns V×3 vertices and J×3 joint positions, metres.
func Posed(model *mhr.Model, p scene.Params, out mhr.State, correctives bool) (verts, joints []float64, err error) {
	in := []mhr.Input{{Identity: p.Shape[:], Model: p.Model[:], Expr: p.Expr[:]}}
	var o []mhr.Output
	if correctives {
		o, err = model.Forward(in)
	} else {
		o, err = model.ForwardNoCorrectives(in)
	}
	if err != nil {
		return nil, nil, err
	}
	place := out.Compose(mhr.State{T: p.CamT, Q: mhr.Quat{0, 0, 0, 1}, S: 1}).Compose(halfTurnX())
	at := func(x, y, z float64) [3]float64 { return place.Apply([3]float64{x / 100, y / 100, z / 100}) }
	verts = make([]float64, len(o[0].Verts))
	for i := 0; i < len(verts); i += 3 {
		v := o[0].Verts[i : i+3]
		q := at(float64(v[0]), float64(v[1]), float64(v[2]))
		copy(verts[i:i+3], q[:])
	}
	sk := o[0].Skeleton
	joints = make([]float64, 3*(len(sk)/8))
	for j := range len(sk) / 8 {
		q := at(sk[8*j], sk[8*j+1], sk[8*j+2])
		copy(joints[3*j:3*j+3], q[:])
	}
	return verts, joints, nil
}
