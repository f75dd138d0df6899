package amodal

import (
	"image"
	"math"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/internal/npytest"
	"github.com/body4d/body4d/scene"
)

// Goldens from tools/golden/amodal/make_occlusion_golden.py, which runs
// the reference's mask_utils functions and app.py's scoring loop.
const occN, occH, occW = 24, 40, 60

func readUint8Npy(t *testing.T, name string) []uint8 {
	return npytest.Read[uint8](t, filepath.Join("..", "testdata", "amodal", name))
}

func TestOcclusionMatchesReference(t *testing.T) {
	modal, rgb := readUint8Npy(t, "occ_modal.npy"), readUint8Npy(t, "occ_amodal_rgb.npy")
	wantAmodal, scores := readUint8Npy(t, "occ_amodal.npy"), readNpy[float64](t, "occ_scores.npy")
	px := occH * occW
	if len(modal) != occN*px || len(rgb) != 3*occN*px || len(wantAmodal) != occN*px || len(scores) != 2*occN {
		t.Fatalf("golden sizes %d %d %d %d", len(modal), len(rgb), len(wantAmodal), len(scores))
	}
	for i := range occN {
		img := &scene.RGB{Pix: rgb[3*i*px : 3*(i+1)*px], Stride: 3 * occW, Rect: image.Rect(0, 0, occW, occH)}
		am := keepLargestComponent(binariseAmodal(img))
		if string(am.Pix) != string(wantAmodal[i*px:(i+1)*px]) {
			t.Errorf("frame %d: binarised largest component differs from the reference", i)
		}
		md := &scene.Mask{W: occW, H: occH, Pix: modal[i*px : (i+1)*px]}
		for o, obj := range []scene.PersonID{1, 2} {
			want := scores[o*occN+i]
			got, err := occlusionScore(md, am, obj, OcclusionOptions{LongCheckOnlyObject1: true})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("frame %d object %d (bug-compatible): score %g, want %g", i, obj, got, want)
			}
			// Fixed behaviour: every object scores as object 1 does.
			fixed, _ := occlusionScore(md, am, obj, OcclusionOptions{})
			if want1 := scores[i]; math.Abs(fixed-want1) > 1e-12 {
				t.Errorf("frame %d object %d (fixed): score %g, want object 1's %g", i, obj, fixed, want1)
			}
		}
	}
}
