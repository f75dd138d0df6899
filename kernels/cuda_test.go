//go:build cuda

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/body4d/body4d/gpu"
	"gorgonia.org/cu"
)

// These tests run the PTX on a GPU and compare with the Go reference.
// Importing gorgonia.org/cu exits the process on a machine without a GPU,
// so off-GPU they are only compiled (go test -c -tags cuda).

type device struct {
	t *testing.T
	c *gpu.Context
	s *gpu.Stream
	m *Module
}

func openDevice(t *testing.T) *device {
	c, err := gpu.OpenBest(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		s.Close()
		c.Close()
	})
	return &device{t, c, s, m}
}

// upload copies a slice to new device memory, freed at the test's end.
func upload[T any](d *device, v []T) cu.DevicePtr {
	n := int64(len(v)) * int64(unsafe.Sizeof(v[0]))
	var p cu.DevicePtr
	err := d.c.Do(func() (err error) {
		if p, err = cu.MemAlloc(n); err != nil {
			return err
		}
		return cu.MemcpyHtoD(p, unsafe.Pointer(&v[0]), n)
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { d.c.Do(func() error { return cu.MemFree(p) }) })
	return p
}

// download waits for the stream and copies device memory into v.
func download[T any](d *device, v []T, p cu.DevicePtr) {
	if err := d.s.Synchronize(); err != nil {
		d.t.Fatal(err)
	}
	n := int64(len(v)) * int64(unsafe.Sizeof(v[0]))
	if err := d.c.Do(func() error { return cu.MemcpyDtoH(unsafe.Pointer(&v[0]), p, n) }); err != nil {
		d.t.Fatal(err)
	}
}

func TestGPUWarpNormalize(t *testing.T) {
	d := openDevice(t)
	r := rand.New(rand.NewPCG(1, 2))
	const sw, sh, dw, dh = 97, 61, 40, 32
	src := randImage(r, sw*sh*3)
	w := ResizeWarp(sw, sh, dw, dh)
	n := ImageNetNorm()
	out := upload(d, make([]float32, 3*dw*dh))
	if err := d.m.WarpNormalize(d.s, upload(d, src), 1, sw, sh, out, dw, dh, upload(d, w[:]), ClampBorder, n); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3*dw*dh)
	download(d, got, out)
	want := make([]float32, 3*dw*dh)
	if err := Resize(want, dw, dh, src, sw, sh, n); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if diff := math.Abs(float64(got[i]-want[i])) * float64(n.Std[i/(dw*dh)]); diff > 1.0/255 {
			t.Fatalf("value %d: GPU %g, reference %g", i, got[i], want[i])
		}
	}
}

func TestGPUUpsampleMask(t *testing.T) {
	d := openDevice(t)
	r := rand.New(rand.NewPCG(3, 4))
	const w, h, W, H = 37, 29, 160, 120
	logits := make([]float32, w*h)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2)
	}
	out := upload(d, make([]uint8, W*H))
	if err := d.m.UpsampleMask(d.s, upload(d, logits), 1, w, h, out, W, H); err != nil {
		t.Fatal(err)
	}
	got := make([]uint8, W*H)
	download(d, got, out)
	want := make([]uint8, W*H)
	if err := UpsampleMask(want, W, H, logits, w, h); err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if got[p] != want[p] && math.Abs(maskLogit(logits, w, h, W, H, p%W, p/W)) > 1e-5 {
			t.Fatalf("pixel %d: GPU %d, reference %d", p, got[p], want[p])
		}
	}
}

func TestGPUSkin(t *testing.T) {
	d := openDevice(t)
	r := rand.New(rand.NewPCG(5, 6))
	const batch, nv, nj = 4, 500, 20
	var s Skinning
	for v := 0; v < nv; v++ {
		for i := 0; i < 2; i++ {
			s.Vert, s.Joint, s.Weight = append(s.Vert, int32(v)), append(s.Joint, int32(r.IntN(nj))), append(s.Weight, 0.5)
		}
	}
	rest := make([]float32, batch*nv*3)
	for i := range rest {
		rest[i] = 100 * (2*r.Float32() - 1)
	}
	xform := make([]float32, batch*nj*8)
	for j := 0; j < batch*nj; j++ {
		q := randQuat(r)
		copy(xform[j*8+3:], q[:])
		xform[j*8], xform[j*8+7] = 10*r.Float32(), 0.5+r.Float32()
	}
	out := upload(d, make([]float32, len(rest)))
	sk := SkinDevice{Vert: upload(d, s.Vert), Joint: upload(d, s.Joint), Weight: upload(d, s.Weight), N: len(s.Vert)}
	if err := d.m.Skin(d.s, out, upload(d, rest), batch, nv, upload(d, xform), nj, sk); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(rest))
	download(d, got, out)
	want := make([]float32, len(rest))
	if err := Skin(want, rest, xform, batch, nv, nj, s); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if rel := math.Abs(float64(got[i]-want[i])) / max(math.Abs(float64(want[i])), 1); rel > 1e-4 {
			t.Fatalf("value %d: GPU %g, reference %g", i, got[i], want[i])
		}
	}
}

func TestGPURaster(t *testing.T) {
	d := openDevice(t)
	r := rand.New(rand.NewPCG(7, 8))
	const W, H, nf = 64, 48, 60
	var verts []float32
	var faces []int32
	for f := 0; f < nf; f++ {
		cx, cy := r.Float32()*W, r.Float32()*H
		for i := 0; i < 3; i++ {
			verts = append(verts, cx+20*(r.Float32()-0.5), cy+20*(r.Float32()-0.5), 1+9*r.Float32())
			faces = append(faces, int32(3*f+i))
		}
	}
	depthDev, faceDev := upload(d, make([]float32, W*H)), upload(d, make([]int32, W*H))
	if err := d.m.Raster(d.s, upload(d, verts), upload(d, faces), nf, depthDev, faceDev, W, H); err != nil {
		t.Fatal(err)
	}
	got, gotFace := make([]float32, W*H), make([]int32, W*H)
	download(d, got, depthDev)
	download(d, gotFace, faceDev)
	want, wantFace := make([]float32, W*H), make([]int32, W*H)
	if err := Raster(want, wantFace, W, H, verts, faces); err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if math.IsInf(float64(want[p]), 1) != math.IsInf(float64(got[p]), 1) ||
			!math.IsInf(float64(want[p]), 1) && math.Abs(float64(got[p]-want[p])) > 1e-5*float64(want[p]) {
			t.Fatalf("pixel %d: GPU depth %g (face %d), reference %g (face %d)", p, got[p], gotFace[p], want[p], wantFace[p])
		}
	}
}
