package render

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/body4d/body4d/internal/npytest"
	"github.com/body4d/body4d/scene"
)

// goldenDir holds pyrender's renders, made by
// tools/golden/render/make_golden.py.
const goldenDir = "../testdata/render"

type goldenScene struct {
	Size   [2]int
	K      [4]float64
	People []struct{ ID int }
}

func loadGolden(t *testing.T) map[string]goldenScene {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "scenes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]goldenScene
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func readNpy[T any](t *testing.T, name string) []T {
	return npytest.Read[T](t, filepath.Join(goldenDir, name))
}

// renderRGBA renders people on a black and on a white frame and recovers
// straight coverage α and premultiplied colour α·c, the form of pyrender's
// RGBA output over a transparent black background.
func renderRGBA(t *testing.T, people []Item, K scene.Intrinsics, w, h int) (alpha []float64, premul []float64) {
	t.Helper()
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	black := scene.NewRGB(image.Rect(0, 0, w, h))
	white := scene.NewRGB(image.Rect(0, 0, w, h))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	if err := r.Render(black, people, K); err != nil {
		t.Fatal(err)
	}
	if err := r.Render(white, people, K); err != nil {
		t.Fatal(err)
	}
	alpha = make([]float64, w*h)
	premul = make([]float64, 3*w*h)
	for i := 0; i < w*h; i++ {
		var a float64
		for c := 0; c < 3; c++ {
			a += 1 - (float64(white.Pix[3*i+c])-float64(black.Pix[3*i+c]))/255
			premul[3*i+c] = float64(black.Pix[3*i+c]) / 255
		}
		alpha[i] = a / 3
	}
	return alpha, premul
}

// TestPyrenderParity compares our renders with pyrender's (OSMesa, 4×
// MSAA, the reference's shader, lights and camera) on the same meshes:
// silhouettes (≥ 2 of 4 samples covered) must agree with IoU ≥ 0.999, the
// per-pixel sample coverage must agree on ≥ 99.9% of pixels (both use the
// standard 4× MSAA pattern), and the premultiplied colour inside the
// common silhouette must be within 0.25/255 on average and 32/255 at worst
// (edge pixels, where pyrender shades per pixel and we per vertex).
func TestPyrenderParity(t *testing.T) {
	for name, sc := range loadGolden(t) {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(goldenDir, name+"_pyrender.png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			ref, ok := img.(*image.NRGBA)
			if !ok {
				t.Fatalf("golden is %T, want RGBA PNG", img)
			}
			var people []Item
			for _, p := range sc.People {
				people = append(people, Item{
					Person: scene.PersonID(p.ID),
					Mesh: &scene.Mesh{
						Vertices: readNpy[float32](t, fmt.Sprintf("%s_p%d_verts.npy", name, p.ID)),
						Faces:    readNpy[uint32](t, fmt.Sprintf("%s_p%d_faces.npy", name, p.ID)),
					},
				})
			}
			w, h := sc.Size[0], sc.Size[1]
			K := scene.Intrinsics{Fx: sc.K[0], Fy: sc.K[1], Cx: sc.K[2], Cy: sc.K[3]}
			alpha, premul := renderRGBA(t, people, K, w, h)

			var inter, union, n, sameCover int
			var sumDiff, maxDiff float64
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					i := y*w + x
					o := ref.PixOffset(x, y)
					// pyrender resolved its samples over a transparent
					// black background, so its RGB is already α·c; PNG
					// stores those bytes as they are.
					ra := float64(ref.Pix[o+3]) / 255
					// Both sides have 4 samples a pixel: compare counts.
					rs, os := math.Round(4*ra), math.Round(4*alpha[i])
					if rs == os {
						sameCover++
					}
					a, b := rs >= 2, os >= 2
					if a || b {
						union++
					}
					if !(a && b) {
						continue
					}
					inter++
					for c := 0; c < 3; c++ {
						rc := float64(ref.Pix[o+c]) / 255
						d := math.Abs(rc - premul[3*i+c])
						sumDiff += d
						maxDiff = math.Max(maxDiff, d)
					}
					n += 3
				}
			}
			iou := float64(inter) / float64(union)
			mean := sumDiff / float64(n) * 255
			same := float64(sameCover) / float64(w*h)
			t.Logf("%s: silhouette IoU %.5f (%d px), same sample coverage on %.4f of pixels, colour mean |Δ| %.3f/255, max %.1f/255",
				name, iou, union, same, mean, maxDiff*255)
			if same < 0.999 {
				t.Errorf("sample coverage differs on %.4f of pixels, want ≤ 0.001", 1-same)
			}
			if iou < 0.999 {
				t.Errorf("silhouette IoU %.5f < 0.999", iou)
			}
			// Tight on purpose: mirroring the lights left-right alone
			// raises the mean to 0.3–0.5/255.
			if mean > 0.25 {
				t.Errorf("mean colour difference %.3f/255 > 0.25/255", mean)
			}
			if maxDiff*255 > 32 {
				t.Errorf("largest colour difference %.1f/255 > 32/255", maxDiff*255)
			}
		})
	}
}
