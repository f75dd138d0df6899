package mesh

import (
	"path/filepath"
	"strings"
	"testing"

	"archive/zip"
	"encoding/binary"
	"fmt"
	"os"
)

func TestReadHead(t *testing.T) {
	h, err := readHead(filepath.Join(tinyDir, "mesh_head.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if h.HandComps[5][5] != 1 || h.HandComps[5][6] != 0 || h.HandLeft[0] != 68 || h.HandRight[26] != 121 {
		t.Errorf("tiny head read wrong: comps[5][5..6] %v, left[0] %d, right[26] %d",
			h.HandComps[5][5:7], h.HandLeft[0], h.HandRight[26])
	}
	good := map[string]npyArray{
		"scale_mean.npy": {[]int{68}, make([]float32, 68)}, "scale_comps.npy": {[]int{28, 68}, make([]float32, 28*68)},
		"hand_pose_mean.npy": {[]int{54}, make([]float32, 54)}, "hand_pose_comps.npy": {[]int{54, 54}, make([]float32, 54*54)},
		"hand_joint_idxs_left.npy": {[]int{27}, make([]int64, 27)}, "hand_joint_idxs_right.npy": {[]int{27}, make([]int64, 27)},
	}
	for _, c := range []struct {
		name, key string
		val       *npyArray
		want      string
	}{
		{"short scale mean", "scale_mean.npy", &npyArray{[]int{67}, make([]float32, 67)}, "scale_mean has shape [67], want [68]"},
		{"missing hand mean", "hand_pose_mean.npy", nil, "no array hand_pose_mean"},
		{"index out of range", "hand_joint_idxs_right.npy", &npyArray{[]int{27}, append(make([]int64, 26), 136)}, "hand joint index 136"},
	} {
		t.Run(c.name, func(t *testing.T) {
			arrays := map[string]npyArray{}
			for k, v := range good {
				arrays[k] = v
			}
			if c.val == nil {
				delete(arrays, c.key)
			} else {
				arrays[c.key] = *c.val
			}
			p := filepath.Join(t.TempDir(), "head.npz")
			writeNPZ(t, p, arrays)
			_, err := readHead(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want it to name %s and say %q", err, p, c.want)
			}
		})
	}
}

// npyArray is an array with its shape, for writeNPZ.
type npyArray struct {
	shape []int
	data  any // []float32 or []int64
}

// writeNPZ writes arrays as an .npz (a zip of .npy files, format 1.0).
func writeNPZ(t *testing.T, path string, arrays map[string]npyArray) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for name, a := range arrays {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		descr := "<f4"
		if _, ok := a.data.([]int64); ok {
			descr = "<i8"
		}
		shape := ""
		for _, d := range a.shape {
			shape += fmt.Sprintf("%d, ", d)
		}
		hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
		for (10+len(hdr)+1)%64 != 0 {
			hdr += " "
		}
		hdr += "\n"
		w.Write([]byte("\x93NUMPY\x01\x00"))
		binary.Write(w, binary.LittleEndian, uint16(len(hdr)))
		w.Write([]byte(hdr))
		binary.Write(w, binary.LittleEndian, a.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}
