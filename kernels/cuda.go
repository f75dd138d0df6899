//go:build cuda

package kernels

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/body4d/body4d/gpu"
	"gorgonia.org/cu"
)

// The PTX is generated from the .cu sources by go generate and committed;
// the driver compiles it for the GPU at load time.
//
//go:embed *.ptx
var ptxFiles embed.FS

// Module holds the kernels loaded into one CUDA context. All pointers
// passed to its methods are device memory of that context; launches are
// queued on the given stream and not waited for.
type Module struct {
	c    *gpu.Context
	mods []cu.Module
	fns  map[string]cu.Function
}

// Load loads every kernel into c.
func Load(c *gpu.Context) (*Module, error) {
	m := &Module{c: c, fns: map[string]cu.Function{}}
	files := map[string][]string{
		"preprocess.ptx": {"warp_normalize", "upsample_mask"},
		"skin.ptx":       {"lbs_skin"},
		"raster.ptx":     {"raster_depth", "raster_face"},
	}
	err := c.Do(func() error {
		for file, names := range files {
			ptx, err := ptxFiles.ReadFile(file)
			if err != nil {
				return err
			}
			mod, err := cu.LoadData(string(ptx))
			if err != nil {
				return fmt.Errorf("load %s: %w", file, err)
			}
			m.mods = append(m.mods, mod)
			for _, name := range names {
				fn, err := mod.Function(name)
				if err != nil {
					return fmt.Errorf("%s: function %s: %w", file, name, err)
				}
				m.fns[name] = fn
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("kernels: %w", err), m.Close())
	}
	return m, nil
}

// Close unloads the kernels.
func (m *Module) Close() error {
	var errs []error
	for _, mod := range m.mods {
		errs = append(errs, m.c.Do(mod.Unload))
	}
	m.mods = nil
	return errors.Join(errs...)
}

// args packs kernel arguments. cu's Launch copies 8 bytes from each
// argument's address, so each argument gets an 8-byte slot; 4-byte int and
// float arguments sit in the low bytes, which is where the driver reads
// them on little-endian hosts.
type args []uint64

func (a *args) ptr(p cu.DevicePtr) { *a = append(*a, uint64(p)) }
func (a *args) i32(v int) error {
	if v < 0 || v > math.MaxInt32 {
		return fmt.Errorf("kernels: argument %d out of int32 range", v)
	}
	*a = append(*a, uint64(uint32(v)))
	return nil
}
func (a *args) f32(v float32) { *a = append(*a, uint64(math.Float32bits(v))) }

func (m *Module) launch(name string, s *gpu.Stream, grid, block [3]int, a args) error {
	params := make([]unsafe.Pointer, len(a))
	for i := range a {
		params[i] = unsafe.Pointer(&a[i])
	}
	fn := m.fns[name]
	err := m.c.Do(func() error {
		return fn.Launch(grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, s.CU(), params)
	})
	if err != nil {
		return fmt.Errorf("kernels: launch %s: %w", name, err)
	}
	return nil
}

func blocks(n, per int) int { return (n + per - 1) / per }

// ints appends int32 arguments, failing on the first out of range.
func (a *args) ints(vs ...int) error {
	for _, v := range vs {
		if err := a.i32(v); err != nil {
			return err
		}
	}
	return nil
}

// WarpNormalize queues warp_normalize (see WarpAffine) for n images: src
// holds n interleaved RGB images of sw×sh bytes, dst n×3×dh×dw floats and
// warps n×6 floats.
func (m *Module) WarpNormalize(s *gpu.Stream, src cu.DevicePtr, n, sw, sh int, dst cu.DevicePtr, dw, dh int, warps cu.DevicePtr, border float32, norm Norm) error {
	if n <= 0 || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 {
		return fmt.Errorf("kernels: warp of %d images from %d×%d to %d×%d: sizes must be positive", n, sw, sh, dw, dh)
	}
	var a args
	a.ptr(src)
	if err := a.ints(sw, sh); err != nil {
		return err
	}
	a.ptr(dst)
	if err := a.ints(dw, dh); err != nil {
		return err
	}
	a.ptr(warps)
	a.f32(border)
	for c := 0; c < 3; c++ {
		a.f32(norm.Mean[c])
	}
	for c := 0; c < 3; c++ {
		if norm.Std[c] == 0 {
			return fmt.Errorf("kernels: normalisation std of channel %d is 0", c)
		}
		a.f32(1 / norm.Std[c])
	}
	return m.launch("warp_normalize", s, [3]int{blocks(dw, 16), blocks(dh, 16), n}, [3]int{16, 16, 1}, a)
}

// UpsampleMask queues upsample_mask (see UpsampleMask) for n logit maps of
// w×h floats into n masks of W×H bytes.
func (m *Module) UpsampleMask(s *gpu.Stream, logits cu.DevicePtr, n, w, h int, mask cu.DevicePtr, W, H int) error {
	if n <= 0 || w <= 0 || h <= 0 || W <= 0 || H <= 0 {
		return fmt.Errorf("kernels: mask upsample of %d maps from %d×%d to %d×%d: sizes must be positive", n, w, h, W, H)
	}
	var a args
	a.ptr(logits)
	if err := a.ints(w, h); err != nil {
		return err
	}
	a.ptr(mask)
	if err := a.ints(W, H); err != nil {
		return err
	}
	return m.launch("upsample_mask", s, [3]int{blocks(W, 16), blocks(H, 16), n}, [3]int{16, 16, 1}, a)
}

// SkinDevice is a Skinning in device memory: nk int32 vertex and joint
// indices and float32 weights.
type SkinDevice struct {
	Vert, Joint, Weight cu.DevicePtr
	N                   int
}

// Skin zeroes out (batch×nv×3 floats) and queues lbs_skin (see Skin) for
// rest (batch×nv×3) and xform (batch×nj×8).
func (m *Module) Skin(s *gpu.Stream, out, rest cu.DevicePtr, batch, nv int, xform cu.DevicePtr, nj int, sk SkinDevice) error {
	if batch <= 0 || nv <= 0 || nj <= 0 || sk.N <= 0 {
		return fmt.Errorf("kernels: skin of %d bodies, %d vertices, %d joints, %d triplets: sizes must be positive", batch, nv, nj, sk.N)
	}
	err := m.c.Do(func() error { return cu.MemsetD32Async(out, 0, int64(batch*nv*3), s.CU()) })
	if err != nil {
		return fmt.Errorf("kernels: clear skin output: %w", err)
	}
	var a args
	a.ptr(rest)
	if err := a.i32(nv); err != nil {
		return err
	}
	a.ptr(xform)
	if err := a.i32(nj); err != nil {
		return err
	}
	a.ptr(sk.Vert)
	a.ptr(sk.Joint)
	a.ptr(sk.Weight)
	if err := a.i32(sk.N); err != nil {
		return err
	}
	a.ptr(out)
	return m.launch("lbs_skin", s, [3]int{blocks(sk.N, 256), batch, 1}, [3]int{256, 1, 1}, a)
}

// Raster clears depth (W×H floats, to +Inf) and face (W×H int32, to −1)
// and queues both rasterizer passes (see Raster) for nf triangles.
func (m *Module) Raster(s *gpu.Stream, verts, faces cu.DevicePtr, nf int, depth, face cu.DevicePtr, W, H int) error {
	if nf <= 0 || W <= 0 || H <= 0 {
		return fmt.Errorf("kernels: raster of %d triangles at %d×%d: sizes must be positive", nf, W, H)
	}
	err := m.c.Do(func() error {
		if err := cu.MemsetD32Async(depth, uint(math.Float32bits(float32(math.Inf(1)))), int64(W*H), s.CU()); err != nil {
			return err
		}
		return cu.MemsetD32Async(face, math.MaxUint32, int64(W*H), s.CU())
	})
	if err != nil {
		return fmt.Errorf("kernels: clear raster buffers: %w", err)
	}
	var a args
	a.ptr(verts)
	a.ptr(faces)
	if err := a.i32(nf); err != nil {
		return err
	}
	a.ptr(depth)
	if err := a.ints(W, H); err != nil {
		return err
	}
	grid, block := [3]int{blocks(nf, 128), 1, 1}, [3]int{128, 1, 1}
	if err := m.launch("raster_depth", s, grid, block, a); err != nil {
		return err
	}
	// raster_face takes face after depth: verts, faces, nf, depth, face, W, H.
	b := append(append(args{}, a[:4]...), uint64(face))
	b = append(b, a[4:]...)
	return m.launch("raster_face", s, grid, block, b)
}
