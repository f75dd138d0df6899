// Package bvh writes a rig's motion as Biovision Hierarchy (BVH) text:
// the skeleton with offsets from the person's bind pose, then one line of
// channel values per video frame.
//
// Conventions (as Blender's importer reads them, which the project's
// Blender test checks):
//
//   - Units are metres, axes those of the rig's output frame (Y up).
//   - The rest pose (every rotation 0) is MHR's zero pose with the
//     person's own bone lengths: each joint's OFFSET is its position
//     relative to its parent in that pose, in world-aligned axes, the
//     median over the frames where the person is present. The root's
//     OFFSET is 0 0 0 and its position channels are its position in the
//     output frame.
//   - Rotations are Euler angles in degrees, channels
//     "Zrotation Yrotation Xrotation": the joint's rotation from its rest
//     orientation is R = Rz·Ry·Rx (x applied first), in world-aligned
//     axes relative to its parent's. Angles are kept continuous from frame
//     to frame (the equivalent triple nearest the previous frame's).
//   - A non-root joint gets position channels only when its offset from
//     its parent changes over the frames by more than 1 µm (MHR's
//     skeleton-scale and translation parameters can move joints); they
//     then give the joint's whole offset on that frame (replacing OFFSET,
//     as Blender reads them).
//   - Frame Time is 1/fps (Den/Num) to float64 precision; there is one
//     frame per video frame.
//   - Absent frames: BVH cannot hide a skeleton, so they hold the nearest
//     present frame's pose (the rig's poses; glTF marks them with scale 0).
//   - Joint scale (MHR's 2^s per joint) has no BVH channel: joint
//     positions stay exact through the position channels above, but a
//     scaled joint's own size is not expressed.
//   - Leaf joints end in an End Site 5 cm along their bone's direction.
package bvh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

// moveTolerance is how far (metres) a joint's offset may vary before it
// gets position channels.
const moveTolerance = 1e-6

// Write writes r's skeleton and motion at fps.
func Write(w io.Writer, r *rig.Rig, fps scene.Rational) error {
	if fps.Num <= 0 || fps.Den <= 0 {
		return fmt.Errorf("bvh: frame rate %v: want a positive rational", fps)
	}
	J := len(r.Parents)
	n := len(r.Poses)
	if n == 0 {
		return errors.New("bvh: the rig has no frames")
	}
	// Bind orientation of every joint (MHR's zero pose).
	bindQ := make([]mhr.Quat, J)
	for j, p := range r.Parents {
		bindQ[j] = r.Bind[j].Q
		if p >= 0 {
			bindQ[j] = bindQ[p].Mul(r.Bind[j].Q)
		}
	}
	// Per frame, each joint's global state, its world-aligned rotation
	// from rest (global rotation · bind⁻¹) and its offset d from its parent in
	// world-aligned rest axes: d = s_parent · Qbind_parent(t_local).
	rot := make([][]mhr.Quat, n)
	off := make([][][3]float64, n)
	for f := range n {
		g := r.Global(f)
		rot[f] = make([]mhr.Quat, J)
		off[f] = make([][3]float64, J)
		for j, p := range r.Parents {
			rot[f][j] = g[j].Q.Mul(bindQ[j].Conj())
			if p < 0 {
				off[f][j] = g[j].T
				continue
			}
			t := bindQ[p].Rotate(r.Poses[f][j].T)
			s := g[p].S
			off[f][j] = [3]float64{s * t[0], s * t[1], s * t[2]}
		}
	}
	offset := make([][3]float64, J)
	moves := make([]bool, J)
	for j, p := range r.Parents {
		if p < 0 {
			moves[j] = true
			continue
		}
		for c := range 3 {
			col := make([]float64, 0, n)
			for f := range n {
				if r.Present[f] {
					col = append(col, off[f][j][c])
				}
			}
			slices.Sort(col)
			offset[j][c] = col[len(col)/2]
			for f := range n {
				moves[j] = moves[j] || math.Abs(off[f][j][c]-offset[j][c]) > moveTolerance
			}
		}
	}

	children := make([][]int, J)
	var roots []int
	for j, p := range r.Parents {
		if p < 0 {
			roots = append(roots, j)
		} else {
			children[p] = append(children[p], j)
		}
	}
	names := uniqueNames(r.Names)
	bw := bufio.NewWriter(w)
	bw.WriteString("HIERARCHY\n")
	var order []int // joints in file order (depth first)
	var walk func(j, depth int)
	walk = func(j, depth int) {
		order = append(order, j)
		ind := strings.Repeat("  ", depth)
		kind := "JOINT"
		if r.Parents[j] < 0 {
			kind = "ROOT"
		}
		fmt.Fprintf(bw, "%s%s %s\n%s{\n", ind, kind, names[j], ind)
		fmt.Fprintf(bw, "%s  OFFSET %s\n", ind, vec(offset[j]))
		if moves[j] {
			fmt.Fprintf(bw, "%s  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\n", ind)
		} else {
			fmt.Fprintf(bw, "%s  CHANNELS 3 Zrotation Yrotation Xrotation\n", ind)
		}
		for _, c := range children[j] {
			walk(c, depth+1)
		}
		if len(children[j]) == 0 {
			fmt.Fprintf(bw, "%s  End Site\n%s  {\n%s    OFFSET %s\n%s  }\n", ind, ind, ind, vec(endSite(offset[j])), ind)
		}
		fmt.Fprintf(bw, "%s}\n", ind)
	}
	for _, root := range roots {
		walk(root, 0)
	}
	fmt.Fprintf(bw, "MOTION\nFrames: %d\nFrame Time: %s\n", n, strconv.FormatFloat(float64(fps.Den)/float64(fps.Num), 'g', -1, 64))
	prev := make([][3]float64, J)
	var line []string
	for f := range n {
		line = line[:0]
		for _, j := range order {
			if moves[j] {
				for _, x := range off[f][j] {
					line = append(line, num(x, 7))
				}
			}
			q := rot[f][j]
			if p := r.Parents[j]; p >= 0 {
				q = rot[f][p].Conj().Mul(q) // relative to the parent's rotation
			}
			e := eulerZYX(q, prev[j], f > 0)
			prev[j] = e
			for _, a := range e {
				line = append(line, num(a*180/math.Pi, 6))
			}
		}
		bw.WriteString(strings.Join(line, " "))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// eulerZYX returns angles (z, y, x) in radians with R(q) = Rz·Ry·Rx. Of
// the two equivalent triples, each angle moved by a multiple of 2π to lie
// within π of prev, it returns the one nearest prev (when continuous).
func eulerZYX(q mhr.Quat, prev [3]float64, continuous bool) [3]float64 {
	m := q.Matrix()
	sy := math.Max(-1, math.Min(1, -m[6]))
	var a, b, c float64
	b = math.Asin(sy)
	if math.Abs(sy) < 1-1e-12 {
		a = math.Atan2(m[3], m[0])
		c = math.Atan2(m[7], m[8])
	} else { // gimbal lock: only a−c (or a+c) is determined; put it all in a
		a = math.Atan2(-m[1], m[4])
	}
	sols := [][3]float64{{a, b, c}, {a + math.Pi, math.Pi - b, c + math.Pi}}
	if !continuous {
		return wrap(sols[0], [3]float64{})
	}
	best, bestD := [3]float64{}, math.Inf(1)
	for _, s := range sols {
		s = wrap(s, prev)
		d := math.Abs(s[0]-prev[0]) + math.Abs(s[1]-prev[1]) + math.Abs(s[2]-prev[2])
		if d < bestD {
			best, bestD = s, d
		}
	}
	return best
}

// wrap moves each angle by a multiple of 2π to within π of ref.
func wrap(s, ref [3]float64) [3]float64 {
	for k := range s {
		s[k] -= 2 * math.Pi * math.Round((s[k]-ref[k])/(2*math.Pi))
	}
	return s
}

// endSite is a leaf's End Site offset: 5 cm along its bone, or up.
func endSite(bone [3]float64) [3]float64 {
	l := math.Sqrt(bone[0]*bone[0] + bone[1]*bone[1] + bone[2]*bone[2])
	if l < 1e-9 {
		return [3]float64{0, 0.05, 0}
	}
	return [3]float64{0.05 * bone[0] / l, 0.05 * bone[1] / l, 0.05 * bone[2] / l}
}

// uniqueNames makes joint names BVH tokens (no white space) and unique.
func uniqueNames(in []string) []string {
	out := make([]string, len(in))
	seen := map[string]bool{}
	for j, s := range in {
		s = strings.Join(strings.Fields(s), "_")
		if s == "" {
			s = fmt.Sprintf("joint_%03d", j)
		}
		for base, k := s, 2; seen[s]; k++ {
			s = fmt.Sprintf("%s_%d", base, k)
		}
		seen[s] = true
		out[j] = s
	}
	return out
}

func vec(v [3]float64) string { return num(v[0], 7) + " " + num(v[1], 7) + " " + num(v[2], 7) }

// num formats x with d decimals, never as "-0.000…".
func num(x float64, d int) string {
	s := strconv.FormatFloat(x, 'f', d, 64)
	if strings.Trim(s, "-0.") == "" {
		return strconv.FormatFloat(0, 'f', d, 64)
	}
	return s
}
