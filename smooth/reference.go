package smooth

import (
	"fmt"
	"math"
	"sort"
)

// RefParams are the constants of the reference's segment smoother
// (sam-body4d utils/kalman.py; reference note app-pipeline.md §3).
type RefParams struct {
	MedTh, MaxTh float64 // a visible segment is static when median and max frame-to-frame L2 motion are below these
	Alpha        float64 // EMA weight of the new frame on static segments
	// Pose selects the body/hand variant: dynamic segments get spike
	// damping, occluded frames are blended with their raw value and the
	// fill diffuses into the neighbouring visible frames. Without it
	// (the global-rotation variant) dynamic segments stay raw and
	// occluded frames take the interpolation outright.
	Pose bool
	// NormDim divides the L2 distance between interpolation and raw
	// value when choosing the blend weight; 0 means the series width.
	// The reference divides by its tensor's width (133 for body_pose,
	// 108 for hand), which an adapter over a different layout keeps.
	NormDim int
}

// ReferencePose returns the body-pose/hand constants: med 0.08, max 0.25, α 0.18.
func ReferencePose() RefParams { return RefParams{MedTh: 0.08, MaxTh: 0.25, Alpha: 0.18, Pose: true} }

// ReferenceRot returns the global-rotation constants: med 0.02, max 0.08, α 0.10.
func ReferenceRot() RefParams { return RefParams{MedTh: 0.02, MaxTh: 0.08, Alpha: 0.10} }

// Constants of the reference that have no knob there either.
const (
	refSupport     = 5    // visible frames averaged on each side of an occlusion
	refDiffTh      = 0.05 // per-dim distance thresholds for the blend weight
	refSpikeFactor = 2.2
	refBoundary    = 2 // visible frames touched on each side of an occlusion
	refBlend0      = 0.45
	refDecay       = 0.5
	refEmpty       = 1e-6
	refLarge       = 3.0 // "always moving" at this multiple of the thresholds
)

// ReferenceSegments applies the reference's occlusion-aware smoother to
// one person's series y (T frames × D) in place. present[t] marks frames
// where the person exists (others are neither read nor written);
// visible[t] marks unoccluded frames, nil meaning all present frames are
// visible. It reproduces kalman_smooth_mhr_params_per_obj_id_adaptive
// (p.Pose) and ema_smooth_global_rot_per_obj_id_adaptive (!p.Pose) for
// one obj_id and one key, computed in float64.
func ReferenceSegments(y [][]float64, present, visible []bool, p RefParams) error {
	T := len(y)
	if len(present) != T || (visible != nil && len(visible) != T) {
		return fmt.Errorf("smooth: %d frames, %d present flags, %d visible flags", T, len(present), len(visible))
	}
	if T == 0 {
		return nil
	}
	D := len(y[0])
	for t, row := range y {
		if len(row) != D {
			return fmt.Errorf("smooth: frame %d has %d values, frame 0 has %d", t, len(row), D)
		}
	}
	nd := p.NormDim
	if nd <= 0 {
		nd = D
	}
	vis := make([]bool, T)
	occ := make([]bool, T)
	nPresent := 0
	var frames []int // visible frames
	for t := range T {
		if !present[t] {
			continue
		}
		nPresent++
		if visible == nil || visible[t] {
			vis[t] = true
			frames = append(frames, t)
		} else {
			occ[t] = true
		}
	}
	if nPresent <= 1 || len(frames) <= 1 {
		return nil
	}
	var ss float64
	for _, t := range frames {
		for _, v := range y[t] {
			ss += v * v
		}
	}
	if math.Sqrt(ss) < refEmpty {
		return nil
	}
	track := make([][]float64, len(frames))
	for i, t := range frames {
		track[i] = y[t]
	}
	diffs := stepNorms(track)
	if !(median(diffs) >= refLarge*p.MedTh || maxOf(diffs) >= refLarge*p.MaxTh) {
		refVisible(y, vis, p)
	}
	refOccluded(y, vis, occ, p, D, nd)
	return nil
}

// refVisible smooths each contiguous visible segment.
func refVisible(y [][]float64, vis []bool, p RefParams) {
	T := len(y)
	for s := 0; s < T; {
		if !vis[s] {
			s++
			continue
		}
		e := s
		for e+1 < T && vis[e+1] {
			e++
		}
		seg := y[s : e+1]
		L := len(seg)
		if L > 1 {
			diffs := stepNorms(seg)
			var out [][]float64
			switch {
			case median(diffs) < p.MedTh && maxOf(diffs) < p.MaxTh:
				out = ema(seg, func(int) bool { return true }, p.Alpha)
			case p.Pose && L > 2:
				var mean float64
				for _, d := range diffs {
					mean += d
				}
				mean /= float64(len(diffs))
				th := math.Max(refSpikeFactor*mean, p.MaxTh)
				out = ema(seg, func(i int) bool { return diffs[i-1] > th }, p.Alpha*0.5)
			}
			if out != nil && allFinite(out) {
				for i := range seg {
					copy(seg[i], out[i])
				}
			}
		}
		s = e + 1
	}
}

// ema returns seg with frames i ≥ 1 where use(i) replaced by
// a·seg[i] + (1−a)·out[i−1].
func ema(seg [][]float64, use func(int) bool, a float64) [][]float64 {
	out := make([][]float64, len(seg))
	out[0] = append([]float64(nil), seg[0]...)
	for i := 1; i < len(seg); i++ {
		out[i] = append([]float64(nil), seg[i]...)
		if use(i) {
			for d := range out[i] {
				out[i][d] = a*seg[i][d] + (1-a)*out[i-1][d]
			}
		}
	}
	return out
}

// refOccluded fills each contiguous occluded segment from the mean of up
// to refSupport visible frames on each side.
func refOccluded(y [][]float64, vis, occ []bool, p RefParams, D, nd int) {
	T := len(y)
	var visFrames []int
	for t := range T {
		if vis[t] {
			visFrames = append(visFrames, t)
		}
	}
	interp := make([]float64, D)
	for s := 0; s < T; {
		if !occ[s] {
			s++
			continue
		}
		e := s
		for e+1 < T && occ[e+1] {
			e++
		}
		seg0, seg1 := s, e
		s = e + 1

		// Support: last K visible before, first K visible after.
		i := sort.SearchInts(visFrames, seg0)
		prev := visFrames[max(0, i-refSupport):i]
		j := sort.SearchInts(visFrames, seg1+1)
		next := visFrames[j:min(len(visFrames), j+refSupport)]
		if len(prev) == 0 && len(next) == 0 {
			continue
		}
		prevVec, nextVec := meanRows(y, prev, D), meanRows(y, next, D)
		for tt := seg0; tt <= seg1; tt++ {
			switch {
			case prevVec != nil && nextVec != nil:
				a, b := prev[len(prev)-1], next[0]
				r := 0.5
				if b > a {
					r = math.Min(math.Max(float64(tt-a), 0), float64(b-a)) / float64(max(b-a, 1))
				}
				for d := range interp {
					interp[d] = (1-r)*prevVec[d] + r*nextVec[d]
				}
			case prevVec != nil:
				copy(interp, prevVec)
			default:
				copy(interp, nextVec)
			}
			row := y[tt]
			if !p.Pose {
				copy(row, interp)
				continue
			}
			var ss float64
			for d, v := range interp {
				ss += (v - row[d]) * (v - row[d])
			}
			dn := math.Sqrt(ss) / float64(nd)
			w := 0.45
			switch {
			case dn < refDiffTh:
				w = 0.82
			case dn < 2*refDiffTh:
				w = 0.65
			}
			if seg0 == 0 && prevVec == nil {
				w = math.Min(w, 0.35)
			}
			for d, v := range interp {
				row[d] = w*v + (1-w)*row[d]
			}
		}
		if !p.Pose {
			continue
		}
		// Boundary diffusion into the visible frames next to the segment.
		if len(prev) > 0 {
			diffuse(y, vis, y[seg0], prev[len(prev)-1], -1)
		}
		if len(next) > 0 {
			diffuse(y, vis, y[seg1], next[0], +1)
		}
	}
}

// diffuse pulls up to refBoundary+1 visible frames from centre outward
// (step dir) towards edge with weight refBlend0·refDecay^d.
func diffuse(y [][]float64, vis []bool, edge []float64, centre, dir int) {
	edge = append([]float64(nil), edge...)
	for d := 0; d <= refBoundary; d++ {
		f := centre + dir*d
		if f < 0 || f >= len(y) {
			break
		}
		if !vis[f] {
			continue
		}
		w := refBlend0 * math.Pow(refDecay, float64(d))
		for k, v := range edge {
			y[f][k] = w*v + (1-w)*y[f][k]
		}
	}
}

func meanRows(y [][]float64, frames []int, D int) []float64 {
	if len(frames) == 0 {
		return nil
	}
	m := make([]float64, D)
	for _, t := range frames {
		for d, v := range y[t] {
			m[d] += v
		}
	}
	for d := range m {
		m[d] /= float64(len(frames))
	}
	return m
}

// stepNorms returns the L2 norms of consecutive differences.
func stepNorms(rows [][]float64) []float64 {
	out := make([]float64, len(rows)-1)
	for i := 1; i < len(rows); i++ {
		var ss float64
		for d, v := range rows[i] {
			ss += (v - rows[i-1][d]) * (v - rows[i-1][d])
		}
		out[i-1] = math.Sqrt(ss)
	}
	return out
}

// median is numpy's median: the mean of the two middle values for even n.
func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func maxOf(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	return m
}

func allFinite(rows [][]float64) bool {
	for _, r := range rows {
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}
