package scene

// Amodal is the result of occlusion recovery: masks that include the
// hidden parts of each person, and for each person the frames on which
// they were seen unoccluded. Images, when not nil, holds completed frames
// (hidden parts painted in) per person for the occluded spans, and nil
// with no error on other frames, where the original frame applies.
type Amodal struct {
	Masks   MaskSource
	Visible map[PersonID][]bool
	Images  func(id PersonID, frame int) (*RGB, error)
}

// Seen reports whether person id was seen unoccluded on frame. Without
// occlusion recovery (a nil Amodal), or for a person or frame it has no
// verdict on, every frame counts as seen.
func (a *Amodal) Seen(id PersonID, frame int) bool {
	if a == nil {
		return true
	}
	v, ok := a.Visible[id]
	return !ok || frame >= len(v) || v[frame]
}

// MeshInput is what mesh recovery reads: the frames, each person's mask
// on each frame, one camera per frame, and the result of occlusion
// recovery when it ran (nil otherwise). Where it ran, its masks and
// completed images stand in for the tracker's masks and the frames.
type MeshInput struct {
	Frames  FrameSource
	Masks   MaskSource
	Cameras []Intrinsics
	Amodal  *Amodal
}
