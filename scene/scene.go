// Package scene holds the data that body4d's stages pass to each other:
// frames, people and their prompts, masks, camera intrinsics, body
// parameters, meshes and per-person tracks. It is a leaf package: stages
// import it, never each other, and the root package re-exports its types.
package scene

import (
	"fmt"
	"math"
	"slices"
)

// PersonID names one tracked person. IDs start at 1, as in the reference
// tool, and need not be contiguous: output is filed by ID, never by the
// position of a person in a list.
type PersonID int

// Rational is an exact frame rate such as 30000/1001, so that 29.97 fps
// video is written back at 29.97 fps rather than truncated to 29.
type Rational struct{ Num, Den int }

// Float returns r as a float64; 0 when the denominator is 0.
func (r Rational) Float() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

func (r Rational) String() string {
	if r.Den == 1 {
		return fmt.Sprint(r.Num)
	}
	return fmt.Sprintf("%d/%d", r.Num, r.Den)
}

// VideoInfo describes a decoded video.
type VideoInfo struct {
	Width, Height int
	FPS           Rational
	Frames        int // number of frames; 0 when not yet known
}

// Intrinsics is a pinhole camera in pixel units.
type Intrinsics struct {
	Fx float64 `json:"fx"`
	Fy float64 `json:"fy"`
	Cx float64 `json:"cx"`
	Cy float64 `json:"cy"`
}

// DefaultIntrinsics is the camera SAM-3D-Body assumes when no FOV estimate
// is given: focal length equal to the image diagonal, principal point at
// the image centre. The model was trained around this value, so it is
// reproduced exactly.
func DefaultIntrinsics(width, height int) Intrinsics {
	f := math.Hypot(float64(width), float64(height))
	return Intrinsics{Fx: f, Fy: f, Cx: float64(width) / 2, Cy: float64(height) / 2}
}

// Click is one point prompt on one frame for one person, in pixel
// coordinates of the source video. Negative clicks mark background.
type Click struct {
	Frame    int      `json:"frame"`
	X        float64  `json:"x"`
	Y        float64  `json:"y"`
	Person   PersonID `json:"person"`
	Negative bool     `json:"negative,omitempty"`
}

// Box is an axis-aligned box prompt in pixel coordinates (x0,y0)-(x1,y1).
type Box struct {
	Frame  int      `json:"frame"`
	X0     float64  `json:"x0"`
	Y0     float64  `json:"y0"`
	X1     float64  `json:"x1"`
	Y1     float64  `json:"y1"`
	Person PersonID `json:"person"`
}

// Prompts are all the user's prompts for one video.
type Prompts struct {
	Clicks []Click
	Boxes  []Box
}

// People returns the distinct person IDs named by the prompts, ascending.
func (p Prompts) People() []PersonID {
	seen := map[PersonID]bool{}
	var ids []PersonID
	add := func(id PersonID) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, c := range p.Clicks {
		add(c.Person)
	}
	for _, b := range p.Boxes {
		add(b.Person)
	}
	slices.Sort(ids)
	return ids
}

// Validate checks the prompts against a video: every prompt must name an
// existing frame, lie inside it and name a person ID ≥ 1.
func (p Prompts) Validate(info VideoInfo) error {
	if len(p.Clicks) == 0 && len(p.Boxes) == 0 {
		return fmt.Errorf("no prompts: click at least one point on a person")
	}
	inFrame := func(f int) error {
		if f < 0 || (info.Frames > 0 && f >= info.Frames) {
			return fmt.Errorf("frame %d does not exist (video has %d frames)", f, info.Frames)
		}
		return nil
	}
	for i, c := range p.Clicks {
		if c.Person < 1 {
			return fmt.Errorf("click %d: person id %d must be ≥ 1", i, c.Person)
		}
		if err := inFrame(c.Frame); err != nil {
			return fmt.Errorf("click %d (person %d): %w", i, c.Person, err)
		}
		if !(c.X >= 0 && c.Y >= 0 && c.X < float64(info.Width) && c.Y < float64(info.Height)) {
			return fmt.Errorf("click %d (person %d, frame %d): point (%g,%g) is outside the %dx%d frame",
				i, c.Person, c.Frame, c.X, c.Y, info.Width, info.Height)
		}
	}
	for i, b := range p.Boxes {
		if b.Person < 1 {
			return fmt.Errorf("box %d: person id %d must be ≥ 1", i, b.Person)
		}
		if err := inFrame(b.Frame); err != nil {
			return fmt.Errorf("box %d (person %d): %w", i, b.Person, err)
		}
		if !(b.X0 < b.X1 && b.Y0 < b.Y1) || b.X0 < 0 || b.Y0 < 0 ||
			b.X1 > float64(info.Width) || b.Y1 > float64(info.Height) {
			return fmt.Errorf("box %d (person %d, frame %d): (%g,%g)-(%g,%g) is empty or outside the %dx%d frame",
				i, b.Person, b.Frame, b.X0, b.Y0, b.X1, b.Y1, info.Width, info.Height)
		}
	}
	return nil
}

// Params are one person's MHR body parameters on one frame, in the layout
// SAM-3D-Body produces and MHR consumes.
type Params struct {
	Shape [45]float32  // identity blendshape coefficients
	Model [204]float32 // 3 translation, 3 rotation (ZYX Euler), 130 pose, 68 skeleton scales
	Expr  [72]float32  // face expression (zero in the reference)
	CamT  [3]float64   // camera-frame translation in metres (OpenCV axes)
	Focal float64      // focal length in pixels used for this frame
}

// Mesh is a triangle mesh in the camera frame (metres, OpenCV axes:
// x right, y down, z forward). Vertices are packed xyz; faces index them.
type Mesh struct {
	Vertices []float32 // 3 per vertex
	Faces    []uint32  // 3 per triangle
}

// NumVertices returns the number of vertices.
func (m *Mesh) NumVertices() int { return len(m.Vertices) / 3 }

// NumFaces returns the number of triangles.
func (m *Mesh) NumFaces() int { return len(m.Faces) / 3 }

// Validate reports a mesh whose arrays are ragged or whose faces index
// vertices that do not exist.
func (m *Mesh) Validate() error {
	if len(m.Vertices)%3 != 0 {
		return fmt.Errorf("mesh: %d vertex coordinates is not a multiple of 3", len(m.Vertices))
	}
	if len(m.Faces)%3 != 0 {
		return fmt.Errorf("mesh: %d face indices is not a multiple of 3", len(m.Faces))
	}
	n := uint32(m.NumVertices())
	for i, f := range m.Faces {
		if f >= n {
			return fmt.Errorf("mesh: face %d names vertex %d of %d", i/3, f, n)
		}
	}
	return nil
}

// Person is one person's result on one frame.
type Person struct {
	ID      PersonID
	Present bool // false when the tracker reports the person out of view
	Params  Params
	Mesh    *Mesh // nil until the mesh stage has run
	// LeftHandBox and RightHandBox are the hand boxes (x0, y0, x1, y1,
	// frame pixels) of the mesh stage's "full" mode; nil otherwise.
	LeftHandBox  *[4]float64 `json:",omitempty"`
	RightHandBox *[4]float64 `json:",omitempty"`
}

// Track is one person's parameters over a run of frames, the unit that
// temporal smoothing works on. Visible marks frames where the person was
// seen unoccluded; Present marks frames where the person exists at all.
type Track struct {
	ID      PersonID
	Start   int // index of the first frame
	Params  []Params
	Present []bool
	Visible []bool
}
