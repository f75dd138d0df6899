package mhr

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
)

// Format and Version identify the asset directory layout in header.json.
const (
	Format  = "body4d-mhr"
	Version = 1
)

// Header is header.json of an asset directory.
type Header struct {
	Format             string `json:"format"`
	Version            int    `json:"version"`
	NumVertices        int    `json:"num_vertices"`
	NumJoints          int    `json:"num_joints"`
	NumFaces           int    `json:"num_faces"`
	NumModelParams     int    `json:"num_model_params"`
	NumIdentity        int    `json:"num_identity"`
	NumExpression      int    `json:"num_expression"`
	NumSkin            int    `json:"num_skin"`
	NumKeypoints       int    `json:"num_keypoints"`
	NumKeypointEntries int    `json:"num_keypoint_entries"`
	Correctives        bool   `json:"correctives"`
	CorrectiveHidden   int    `json:"corrective_hidden"`
	CorrectiveNNZ      int    `json:"corrective_nnz"`
	// JointNames is optional: J names (the rig's joint names, which
	// animation exports carry). Without it joints are named by index.
	JointNames []string `json:"joint_names,omitempty"`
}

// Load reads an asset directory (see the package documentation) and builds
// a Model. Each array's dtype and shape are checked against header.json;
// errors name the file and give got and want.
func Load(dir string) (*Model, error) {
	a, err := ReadAssets(dir)
	if err != nil {
		return nil, err
	}
	m, err := New(a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// LoadFS is Load for assets in a file system rather than a directory:
// a model directory ships them as one zip archive (*zip.Reader is an
// fs.FS), so that one checksum covers them. name labels errors.
func LoadFS(fsys fs.FS, name string) (*Model, error) {
	a, err := readAssets(fsys, name)
	if err != nil {
		return nil, err
	}
	m, err := New(a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// ReadAssets reads and shape-checks the arrays of an asset directory
// without building a Model.
func ReadAssets(dir string) (*Assets, error) {
	return readAssets(os.DirFS(dir), dir)
}

func readAssets(fsys fs.FS, dir string) (*Assets, error) {
	hpath := filepath.Join(dir, "header.json")
	raw, err := fs.ReadFile(fsys, "header.json")
	if err != nil {
		return nil, fmt.Errorf("mhr: %s: %w", hpath, err)
	}
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("mhr: %s: %w", hpath, err)
	}
	if h.Format != Format || h.Version != Version {
		return nil, fmt.Errorf("mhr: %s: format %q version %d, want %q version %d", hpath, h.Format, h.Version, Format, Version)
	}
	if h.NumVertices <= 0 || h.NumJoints <= 0 || h.NumModelParams <= 0 || h.NumFaces < 0 || h.NumSkin < 0 ||
		h.NumIdentity < 0 || h.NumExpression < 0 || h.NumKeypoints < 0 || h.NumKeypointEntries < 0 ||
		h.CorrectiveHidden < 0 || h.CorrectiveNNZ < 0 {
		return nil, fmt.Errorf("mhr: %s: sizes must be positive (vertices, joints, model params) or non-negative (the rest)", hpath)
	}
	V, J := h.NumVertices, h.NumJoints
	a := &Assets{
		NumVertices: V, NumJoints: J, NumModelParams: h.NumModelParams,
		NumIdentity: h.NumIdentity, NumExpression: h.NumExpression, NumKeypoints: h.NumKeypoints,
	}
	if h.JointNames != nil && len(h.JointNames) != J {
		return nil, fmt.Errorf("mhr: %s: joint_names has %d names, want %d (num_joints)", hpath, len(h.JointNames), J)
	}
	a.JointNames = h.JointNames
	r := arrayReader{fsys: fsys, dir: dir}
	r.read("parents", &a.Parents, J)
	r.read("translation_offsets", &a.TranslationOffsets, J, 3)
	r.read("pre_rotations", &a.PreRotations, J, 4)
	r.read("inverse_bind_pose", &a.InverseBindPose, J, 8)
	r.read("parameter_transform", &a.ParameterTransform, 7*J, h.NumModelParams)
	r.read("base_shape", &a.BaseShape, V, 3)
	r.read("identity_basis", &a.IdentityBasis, h.NumIdentity, V, 3)
	r.read("expression_basis", &a.ExpressionBasis, h.NumExpression, V, 3)
	r.read("faces", &a.Faces, h.NumFaces, 3)
	r.read("skin_vertex", &a.SkinVertex, h.NumSkin)
	r.read("skin_joint", &a.SkinJoint, h.NumSkin)
	r.read("skin_weight", &a.SkinWeight, h.NumSkin)
	r.read("keypoint_row", &a.KeypointRow, h.NumKeypointEntries)
	r.read("keypoint_col", &a.KeypointCol, h.NumKeypointEntries)
	r.read("keypoint_weight", &a.KeypointWeight, h.NumKeypointEntries)
	if h.Correctives {
		a.CorrectiveHidden = h.CorrectiveHidden
		r.read("corrective_indices", &a.CorrectiveIndices, 2, h.CorrectiveNNZ)
		r.read("corrective_weights", &a.CorrectiveWeights, h.CorrectiveNNZ)
		r.read("corrective_blendshapes", &a.CorrectiveBlendshapes, h.CorrectiveHidden, V, 3)
	}
	if r.err != nil {
		return nil, r.err
	}
	return a, nil
}

// arrayReader reads .npy files, keeping the first error.
type arrayReader struct {
	fsys fs.FS
	dir  string
	err  error
}

// read loads dir/name.npy into dst (a *[]int32, *[]int64, *[]float32 or
// *[]float64), requiring the matching dtype and exactly the shape want.
func (r *arrayReader) read(name string, dst any, want ...int) {
	if r.err != nil {
		return
	}
	path := filepath.Join(r.dir, name+".npy")
	if err := readArray(r.fsys, name+".npy", dst, want); err != nil {
		r.err = fmt.Errorf("mhr: %s: array %s: %w", path, name, err)
	}
}

func readArray(fsys fs.FS, path string, dst any, want []int) error {
	f, err := fsys.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("file is missing")
		}
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	rd, err := npy.NewReader(br)
	if err != nil {
		return err
	}
	d := rd.Header.Descr
	var wantType string
	switch dst.(type) {
	case *[]int32:
		wantType = "<i4"
	case *[]int64:
		wantType = "<i8"
	case *[]float32:
		wantType = "<f4"
	case *[]float64:
		wantType = "<f8"
	default:
		return fmt.Errorf("unsupported destination %T", dst)
	}
	if got := strings.Trim(d.Type, `'"`); got != wantType {
		return fmt.Errorf("got dtype %s, want %s", got, wantType)
	}
	if d.Fortran {
		return errors.New("array is in Fortran order, want C order")
	}
	shape := d.Shape
	if shape == nil {
		shape = []int{}
	}
	if !slices.Equal(shape, want) {
		return fmt.Errorf("got shape %v, want %v", shape, want)
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	// npyio decodes element by element; the dense corrective layer of a
	// real asset has 166M values, so read the payload in one go instead.
	size := 4
	if wantType[2] == '8' {
		size = 8
	}
	buf := make([]byte, n*size)
	if _, err := io.ReadFull(br, buf); err != nil {
		return fmt.Errorf("reading %d values: %w", n, err)
	}
	le := binary.LittleEndian
	switch p := dst.(type) {
	case *[]int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(buf[4*i:]))
		}
		*p = v
	case *[]int64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(buf[8*i:]))
		}
		*p = v
	case *[]float32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(buf[4*i:]))
		}
		*p = v
	case *[]float64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(buf[8*i:]))
		}
		*p = v
	}
	return nil
}
