package mesh

import (
	"archive/zip"
	"errors"
	"fmt"
	"slices"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/models"
)

// Data files of the stage in a model directory's manifest (stage "mesh").
const (
	// FileMHR is the MHR asset (the mhr package's asset directory as one
	// zip archive, header.json and the .npy arrays at its root).
	FileMHR = "mhr"
	// FileHead is the MHR head's buffers from the SAM-3D-Body checkpoint
	// (see readHead).
	FileHead = "head"
	// FileHandHead is full mode's head buffers (see readHandHead);
	// optional like the full-mode engines.
	FileHandHead = "hand_head"
)

// Open loads the stage from a model directory: the backbone, decoder and
// decoder layer engines through load, the MHR asset and the head buffers.
// With Options.Mode ModeFull it also loads the full-mode engines and the
// hand head, and a directory without them is an error naming the first
// one missing; body mode does not read them. Close releases the engines.
func Open(dir *models.Dir, load func(path string) (engine.Engine, error), opts Options) (r *Recoverer, err error) {
	var engines []engine.Engine
	defer func() {
		if err != nil {
			for _, e := range engines {
				e.Close()
			}
		}
	}()
	get := func(name string) (engine.Engine, error) {
		p, err := dir.EnginePath("mesh", name)
		if err != nil {
			return nil, err
		}
		e, err := load(p)
		if err != nil {
			return nil, fmt.Errorf("mesh/%s: %w", name, err)
		}
		engines = append(engines, e)
		return e, nil
	}
	backbone, err := get(EngineBackbone)
	if err != nil {
		return nil, err
	}
	decoder, err := get(EngineDecoder)
	if err != nil {
		return nil, err
	}
	layers := make([]engine.Engine, Layers-1)
	for i := range layers {
		if layers[i], err = get(refineEngine(i + 1)); err != nil {
			return nil, err
		}
	}
	var hands *Hands
	byName := map[string]engine.Engine{EngineBackbone: backbone, EngineDecoder: decoder}
	for i, l := range layers {
		byName[refineEngine(i+1)] = l
	}
	if opts.Mode == ModeFull {
		for _, name := range fullEngines() {
			if _, ok := dir.Manifest.Engine("mesh", name); !ok {
				return nil, fmt.Errorf("mesh: full mode needs engine mesh/%s, which model directory %s does not list", name, dir.Path)
			}
		}
		hands = &Hands{Layers: make([]engine.Engine, Layers-1)}
		if hands.DecoderPrompt, err = get(EngineDecoderPrompt); err != nil {
			return nil, err
		}
		if hands.Decoder, err = get(EngineHandDecoder); err != nil {
			return nil, err
		}
		for i := range hands.Layers {
			if hands.Layers[i], err = get(handRefineEngine(i + 1)); err != nil {
				return nil, err
			}
		}
		byName[EngineDecoderPrompt], byName[EngineHandDecoder] = hands.DecoderPrompt, hands.Decoder
		for i, l := range hands.Layers {
			byName[handRefineEngine(i+1)] = l
		}
		hp, err := dir.FilePath("mesh", FileHandHead)
		if err != nil {
			return nil, fmt.Errorf("mesh: full mode needs file mesh/%s: %w", FileHandHead, err)
		}
		if hands.Head, err = readHandHead(hp); err != nil {
			return nil, err
		}
	}
	if errs := checkContracts(byName); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	body, err := loadMHR(dir)
	if err != nil {
		return nil, err
	}
	hp, err := dir.FilePath("mesh", FileHead)
	if err != nil {
		return nil, err
	}
	head, err := readHead(hp)
	if err != nil {
		return nil, err
	}
	r, err = newFull(backbone, decoder, layers, hands, body, head, opts)
	if err != nil {
		return nil, err
	}
	for _, e := range engines {
		r.closers = append(r.closers, e.Close)
	}
	return r, nil
}

// OpenBody loads only the body model of a model directory (its mesh/mhr
// file), for callers that pose saved parameters without recovering any,
// such as body4d export.
func OpenBody(dir *models.Dir) (*Body, error) {
	m, err := loadMHR(dir)
	if err != nil {
		return nil, err
	}
	return &Body{Model: m}, nil
}

func loadMHR(dir *models.Dir) (*mhr.Model, error) {
	mp, err := dir.FilePath("mesh", FileMHR)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(mp)
	if err != nil {
		return nil, fmt.Errorf("mesh: MHR asset %s: %w", mp, err)
	}
	defer zr.Close()
	return mhr.LoadFS(zr, mp)
}

// checkContracts checks the loaded engines' I/O against Contracts
// (full-mode engines only where loaded).
func checkContracts(byName map[string]engine.Engine) []error {
	var errs []error
	for _, c := range Contracts() {
		if e := byName[c.Engine]; e != nil {
			errs = append(errs, c.Check(e.Info())...)
		}
	}
	return errs
}

// readHead reads the head buffers from an .npz file written by
// tools/export/mesh (real checkpoints) or tools/export/make_tiny.py:
//
//	scale_mean             float32 [68]
//	scale_comps            float32 [28,68]
//	hand_pose_mean         float32 [54]
//	hand_pose_comps        float32 [54,54]
//	hand_joint_idxs_left   int64   [27]   indices into the first 136 model parameters
//	hand_joint_idxs_right  int64   [27]
func readHead(path string) (*Head, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mesh: head: %w", err)
	}
	defer r.Close()
	var h Head
	f32 := func(name string, dst []float32, shape ...int) error {
		hd := r.Header(name + ".npy")
		if hd == nil {
			return fmt.Errorf("mesh: head %s: no array %s", path, name)
		}
		if !slices.Equal(hd.Descr.Shape, shape) {
			return fmt.Errorf("mesh: head %s: array %s has shape %v, want %v", path, name, hd.Descr.Shape, shape)
		}
		var v []float32
		if err := r.Read(name+".npy", &v); err != nil {
			return fmt.Errorf("mesh: head %s: %w", path, err)
		}
		copy(dst, v)
		return nil
	}
	idx := func(name string, dst *[27]int) error {
		hd := r.Header(name + ".npy")
		if hd == nil || !slices.Equal(hd.Descr.Shape, []int{27}) {
			return fmt.Errorf("mesh: head %s: array %s is missing or not [27]", path, name)
		}
		var v []int64
		if err := r.Read(name+".npy", &v); err != nil {
			return fmt.Errorf("mesh: head %s: %w", path, err)
		}
		for i, x := range v {
			dst[i] = int(x)
		}
		return nil
	}
	comps := make([]float32, numScale*numScales)
	hcomps := make([]float32, numHandCont*numHandCont)
	err = errors.Join(
		f32("scale_mean", h.ScaleMean[:], numScales),
		f32("scale_comps", comps, numScale, numScales),
		f32("hand_pose_mean", h.HandMean[:], numHandCont),
		f32("hand_pose_comps", hcomps, numHandCont, numHandCont),
		idx("hand_joint_idxs_left", &h.HandLeft),
		idx("hand_joint_idxs_right", &h.HandRight),
	)
	if err != nil {
		return nil, err
	}
	for a := range numScale {
		copy(h.ScaleComps[a][:], comps[a*numScales:])
	}
	for a := range numHandCont {
		copy(h.HandComps[a][:], hcomps[a*numHandCont:])
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("mesh: head %s: %w", path, err)
	}
	return &h, nil
}

// readHandHead reads full mode's head buffers from an .npz file written
// by tools/export/mesh or tools/export/make_tiny.py: head_pose_hand's
// buffers under readHead's names, plus
//
//	local_to_world_wrist   float32 [3,3]
//	right_wrist_coords     float32 [3]
//	root_coords            float32 [3]
//	nonhand_param_idxs     int64   [K]     model parameters the hand model zeroes
//	joints                 int64   [6]     MHR joints: lower arm, twist, wrist; left then right
//	twist_joint_rotation   float32 [2,3,3] the body head's joint_rotation at the twist joints
func readHandHead(path string) (*HandHead, error) {
	head, err := readHead(path)
	if err != nil {
		return nil, err
	}
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mesh: hand head: %w", err)
	}
	defer r.Close()
	hh := &HandHead{Head: *head}
	f32 := func(name string, dst []float64, shape ...int) error {
		hd := r.Header(name + ".npy")
		if hd == nil || !slices.Equal(hd.Descr.Shape, shape) {
			return fmt.Errorf("mesh: hand head %s: array %s is missing or not %v", path, name, shape)
		}
		var v []float32
		if err := r.Read(name+".npy", &v); err != nil {
			return fmt.Errorf("mesh: hand head %s: %w", path, err)
		}
		for i, x := range v {
			dst[i] = float64(x)
		}
		return nil
	}
	ints := func(name string, n int) ([]int, error) {
		hd := r.Header(name + ".npy")
		if hd == nil || len(hd.Descr.Shape) != 1 || (n >= 0 && hd.Descr.Shape[0] != n) {
			return nil, fmt.Errorf("mesh: hand head %s: array %s is missing or has the wrong shape", path, name)
		}
		var v []int64
		if err := r.Read(name+".npy", &v); err != nil {
			return nil, fmt.Errorf("mesh: hand head %s: %w", path, err)
		}
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(x)
		}
		return out, nil
	}
	twist := make([]float64, 18)
	nonhand, err1 := ints("nonhand_param_idxs", -1)
	joints, err2 := ints("joints", 6)
	err = errors.Join(
		f32("local_to_world_wrist", hh.LocalToWorldWrist[:], 3, 3),
		f32("right_wrist_coords", hh.RightWristCoords[:], 3),
		f32("root_coords", hh.RootCoords[:], 3),
		f32("twist_joint_rotation", twist, 2, 3, 3),
		err1, err2,
	)
	if err != nil {
		return nil, err
	}
	hh.NonHand = nonhand
	copy(hh.Joints[:], joints)
	copy(hh.TwistRotation[0][:], twist[:9])
	copy(hh.TwistRotation[1][:], twist[9:])
	if err := hh.check(1 << 30); err != nil {
		return nil, fmt.Errorf("mesh: hand head %s: %w", path, err)
	}
	return hh, nil
}
