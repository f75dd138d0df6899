package segment

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
)

// Constants are the small learned tensors of the tracker that the host
// applies itself (reference notes A.3, "Constants to export"). They are
// read from the model directory's segment/constants file, an .npz archive
// with one float32 array per field, named as in the reference model.
type Constants struct {
	MaskmemTposEnc    []float32 // maskmem_tpos_enc [7,1,1,64]: temporal position of a memory
	NoMemEmbed        []float32 // no_mem_embed [1,1,256]: added to the features of a clicked frame
	NoObjPtr          []float32 // no_obj_ptr [1,256]: pointer of an object scored absent
	NoObjEmbedSpatial []float32 // no_obj_embed_spatial [1,64]: added to the memory of an absent object
	TposProjWeight    []float32 // obj_ptr_tpos_proj_weight [64,256]: pointer position projection
	TposProjBias      []float32 // obj_ptr_tpos_proj_bias [64]
}

// Dimensions fixed by the SAM-2/SAM-3 tracker architecture.
const (
	hiddenDim  = 256 // C: image features, object pointers
	memDim     = 64  // memory features and memory attention keys
	numMaskmem = 7   // 1 conditioning + 6 recent temporal positions
	ptrTokens  = hiddenDim / memDim
)

// checkShapes reports a field whose length does not match its shape.
func (c *Constants) check() error {
	for _, f := range []struct {
		name string
		v    []float32
		n    int
	}{
		{"maskmem_tpos_enc", c.MaskmemTposEnc, numMaskmem * memDim},
		{"no_mem_embed", c.NoMemEmbed, hiddenDim},
		{"no_obj_ptr", c.NoObjPtr, hiddenDim},
		{"no_obj_embed_spatial", c.NoObjEmbedSpatial, memDim},
		{"obj_ptr_tpos_proj_weight", c.TposProjWeight, memDim * hiddenDim},
		{"obj_ptr_tpos_proj_bias", c.TposProjBias, memDim},
	} {
		if len(f.v) != f.n {
			return fmt.Errorf("segment: constant %s has %d values, want %d", f.name, len(f.v), f.n)
		}
	}
	return nil
}

// ReadConstants reads the constants from an .npz archive of size bytes.
func ReadConstants(r io.ReaderAt, size int64) (*Constants, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("segment: constants: %w", err)
	}
	c := &Constants{}
	fields := []struct {
		name  string
		dst   *[]float32
		shape []int
	}{
		{"maskmem_tpos_enc", &c.MaskmemTposEnc, []int{numMaskmem, 1, 1, memDim}},
		{"no_mem_embed", &c.NoMemEmbed, []int{1, 1, hiddenDim}},
		{"no_obj_ptr", &c.NoObjPtr, []int{1, hiddenDim}},
		{"no_obj_embed_spatial", &c.NoObjEmbedSpatial, []int{1, memDim}},
		{"obj_ptr_tpos_proj_weight", &c.TposProjWeight, []int{memDim, hiddenDim}},
		{"obj_ptr_tpos_proj_bias", &c.TposProjBias, []int{memDim}},
	}
	for _, f := range fields {
		if err := readNpzArray(z, f.name, f.dst, f.shape); err != nil {
			return nil, fmt.Errorf("segment: constants: %s: %w", f.name, err)
		}
	}
	return c, c.check()
}

func readNpzArray(z *zip.Reader, name string, dst *[]float32, want []int) error {
	f, err := z.Open(name + ".npy")
	if err != nil {
		return fmt.Errorf("array missing from the archive")
	}
	defer f.Close()
	rd, err := npy.NewReader(bufio.NewReader(f))
	if err != nil {
		return err
	}
	d := rd.Header.Descr
	if got := strings.Trim(d.Type, `'"`); got != "<f4" {
		return fmt.Errorf("dtype %s, want <f4", got)
	}
	if d.Fortran {
		return fmt.Errorf("array is in Fortran order")
	}
	if !slices.Equal(d.Shape, want) {
		return fmt.Errorf("shape %v, want %v", d.Shape, want)
	}
	return rd.Read(dst)
}
