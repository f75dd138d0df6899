//go:build cuda

package kernels

import (
	"embed"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/body4d/body4d/gpu"
)

// The PTX is generated from the .cu sources by go generate and committed;
// the driver compiles it for the GPU at load time.
//
//go:embed *.ptx
var ptxFiles embed.FS

// Block shapes of the launches; cpugrid.cpp uses the same.
const (
	rasterBlock    = 64
	skinBlock      = 128
	warpBlock      = 16
	normalizeBlock = 256
)

// CUDA runs the kernels on one GPU. Calls are serialized on its stream;
// device buffers come from its pool and are kept for reuse between calls.
type CUDA struct {
	c    *gpu.Context
	pool *gpu.Pool
	own  bool // c and pool were opened by Open and are closed by Close

	mu   sync.Mutex
	s    *gpu.Stream
	mods []*gpu.Module
	fns  map[string]*gpu.Function
	bufs map[string]gpu.Buffer
	skin map[*Skinning]skinDevice
}

type skinDevice struct{ start, joint, weight gpu.Buffer }

// Open opens the kernels on the GPU of pool (nil: the GPU with the most
// free memory, with a pool of its own).
func Open(pool *gpu.Pool) (Kernels, error) {
	if pool != nil {
		c, ok := pool.Allocator().(*gpu.Context)
		if !ok {
			return nil, fmt.Errorf("kernels: the pool allocates from a %T, not a CUDA context", pool.Allocator())
		}
		return OpenOn(c, pool)
	}
	c, err := gpu.OpenBest(64 << 20)
	if err != nil {
		return nil, err
	}
	p, err := gpu.NewPool(c)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	k, err := OpenOn(c, p)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	k.own = true
	return k, nil
}

// OpenOn loads the kernels into context c; their buffers come from pool.
func OpenOn(c *gpu.Context, pool *gpu.Pool) (*CUDA, error) {
	k := &CUDA{c: c, pool: pool, fns: map[string]*gpu.Function{}, bufs: map[string]gpu.Buffer{}, skin: map[*Skinning]skinDevice{}}
	files := map[string][]string{
		"preprocess.ptx": {"warp_crop", "normalize_crop"},
		"skin.ptx":       {"lbs_skin"},
		"raster.ptx":     {"raster_samples"},
	}
	var err error
	if k.s, err = c.NewStream(); err != nil {
		return nil, err
	}
	for file, names := range files {
		ptx, err := ptxFiles.ReadFile(file)
		if err != nil {
			return nil, errors.Join(err, k.Close())
		}
		m, err := c.LoadModule(ptx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("kernels: %s: %w", file, err), k.Close())
		}
		k.mods = append(k.mods, m)
		for _, name := range names {
			if k.fns[name], err = m.Function(name); err != nil {
				return nil, errors.Join(fmt.Errorf("kernels: %s: %w", file, err), k.Close())
			}
		}
	}
	return k, nil
}

// Name says which GPU the kernels run on.
func (k *CUDA) Name() string { return fmt.Sprintf("CUDA on %s (GPU %d)", k.c.Name, k.c.Ordinal) }

// Close frees the kernels' buffers, stream and modules (and the context
// and pool Open made).
func (k *CUDA) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for name, b := range k.bufs {
		errs = append(errs, k.pool.Free(b, k.s))
		delete(k.bufs, name)
	}
	for key, d := range k.skin {
		errs = append(errs, k.pool.Free(d.start, k.s), k.pool.Free(d.joint, k.s), k.pool.Free(d.weight, k.s))
		delete(k.skin, key)
	}
	if k.s != nil {
		errs = append(errs, k.s.Synchronize())
	}
	for _, m := range k.mods {
		errs = append(errs, m.Unload())
	}
	k.mods = nil
	if k.own {
		errs = append(errs, k.pool.Close())
	}
	if k.s != nil {
		errs = append(errs, k.s.Close())
		k.s = nil
	}
	if k.own {
		errs = append(errs, k.c.Close())
	}
	return errors.Join(errs...)
}

// buffer returns scratch buffer name of at least n bytes. The caller
// holds k.mu.
func (k *CUDA) buffer(name string, n int) (gpu.DevicePtr, error) {
	if n <= 0 {
		n = 1
	}
	if b, ok := k.bufs[name]; ok {
		if b.Size >= uint64(n) {
			return b.Ptr, nil
		}
		delete(k.bufs, name)
		if err := k.pool.Free(b, k.s); err != nil {
			return 0, err
		}
	}
	b, err := k.pool.Alloc(uint64(n), k.s)
	if err != nil {
		return 0, fmt.Errorf("kernels: %s buffer: %w", name, err)
	}
	k.bufs[name] = b
	return b.Ptr, nil
}

// upload copies a slice into scratch buffer name.
func upload[T any](k *CUDA, name string, v []T) (gpu.DevicePtr, error) {
	n := len(v) * int(unsafe.Sizeof(*new(T)))
	p, err := k.buffer(name, n)
	if err != nil || n == 0 {
		return p, err
	}
	return p, k.s.Upload(p, unsafe.Pointer(&v[0]), n)
}

// download waits for the stream and copies device memory into v.
func download[T any](k *CUDA, v []T, p gpu.DevicePtr) error {
	n := len(v) * int(unsafe.Sizeof(*new(T)))
	if n == 0 {
		return nil
	}
	return k.s.Download(unsafe.Pointer(&v[0]), p, n)
}

func blocks(n, per int) int { return (n + per - 1) / per }

func i32(v int) uint64           { return uint64(uint32(int32(v))) }
func f32(v float32) uint64       { return uint64(*(*uint32)(unsafe.Pointer(&v))) }
func ptr(p gpu.DevicePtr) uint64 { return uint64(p) }

// RasterSamples runs raster_samples (see Kernels).
func (k *CUDA) RasterSamples(keys []uint64, w, h int, tris []Tri) error {
	if err := checkRaster(keys, w, h, tris); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kp, err := k.buffer("keys", 8*len(keys))
	if err != nil {
		return err
	}
	if err := k.s.Fill32(kp, 0, 2*len(keys)); err != nil {
		return err
	}
	if len(tris) > 0 {
		tp, err := upload(k, "tris", tris)
		if err != nil {
			return err
		}
		err = k.fns["raster_samples"].Launch(k.s, gpu.Dim3{X: blocks(len(tris), rasterBlock), Y: 1, Z: 1}, gpu.Dim3{X: rasterBlock, Y: 1, Z: 1},
			[]uint64{ptr(tp), i32(len(tris)), ptr(kp), i32(w), i32(h)})
		if err != nil {
			return err
		}
	}
	return download(k, keys, kp)
}

// Skin runs lbs_skin (see Kernels). A Skinning is uploaded once and kept
// on the device, keyed by its address, until Close.
func (k *CUDA) Skin(out, rest []float32, batch, nv int, xform []float32, nj int, s *Skinning) error {
	if err := checkSkin(out, rest, batch, nv, xform, nj, s); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	sd, ok := k.skin[s]
	if !ok {
		var err error
		if sd, err = k.uploadSkinning(s); err != nil {
			return err
		}
		k.skin[s] = sd
	}
	rp, err := upload(k, "rest", rest)
	if err != nil {
		return err
	}
	xp, err := upload(k, "xform", xform)
	if err != nil {
		return err
	}
	op, err := k.buffer("verts", 4*len(out))
	if err != nil {
		return err
	}
	err = k.fns["lbs_skin"].Launch(k.s, gpu.Dim3{X: blocks(nv, skinBlock), Y: batch, Z: 1}, gpu.Dim3{X: skinBlock, Y: 1, Z: 1},
		[]uint64{ptr(rp), i32(nv), ptr(xp), i32(nj), ptr(sd.start.Ptr), ptr(sd.joint.Ptr), ptr(sd.weight.Ptr), ptr(op)})
	if err != nil {
		return err
	}
	return download(k, out, op)
}

func (k *CUDA) uploadSkinning(s *Skinning) (skinDevice, error) {
	var d skinDevice
	put := func(dst *gpu.Buffer, src unsafe.Pointer, n int) error {
		var err error
		if *dst, err = k.pool.Alloc(uint64(max(n, 1)), k.s); err != nil {
			return err
		}
		return k.s.Upload(dst.Ptr, src, n)
	}
	var err error
	if err = put(&d.start, unsafe.Pointer(&s.Start[0]), 4*len(s.Start)); err == nil && len(s.Joint) > 0 {
		if err = put(&d.joint, unsafe.Pointer(&s.Joint[0]), 4*len(s.Joint)); err == nil {
			err = put(&d.weight, unsafe.Pointer(&s.Weight[0]), 4*len(s.Weight))
		}
	}
	if err != nil {
		return d, fmt.Errorf("kernels: skinning: %w", err)
	}
	return d, nil
}

// WarpCrops runs warp_crop (see Kernels).
func (k *CUDA) WarpCrops(dst []uint8, size, nch int, src []uint8, stride, W, H int, coef []float32) error {
	if err := checkWarp(dst, size, nch, src, stride, W, H, coef); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	sp, err := upload(k, "image", src[:(H-1)*stride+W*nch])
	if err != nil {
		return err
	}
	cp, err := upload(k, "coef", coef)
	if err != nil {
		return err
	}
	dp, err := k.buffer("crops", len(dst))
	if err != nil {
		return err
	}
	g := blocks(size, warpBlock)
	err = k.fns["warp_crop"].Launch(k.s, gpu.Dim3{X: g, Y: g, Z: len(coef) / 6}, gpu.Dim3{X: warpBlock, Y: warpBlock, Z: 1},
		[]uint64{ptr(sp), i32(stride), i32(nch), i32(W), i32(H), ptr(cp), i32(size), ptr(dp)})
	if err != nil {
		return err
	}
	return download(k, dst, dp)
}

// NormalizeCrops runs normalize_crop (see Kernels).
func (k *CUDA) NormalizeCrops(dst []float32, crops []uint8, size int, mean, std [3]float32) error {
	if err := checkNormalize(dst, crops, size, std); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cp, err := upload(k, "norm_in", crops)
	if err != nil {
		return err
	}
	dp, err := k.buffer("norm_out", 4*len(dst))
	if err != nil {
		return err
	}
	n := len(crops) / (3 * size * size)
	err = k.fns["normalize_crop"].Launch(k.s, gpu.Dim3{X: blocks(size*size, normalizeBlock), Y: n, Z: 1}, gpu.Dim3{X: normalizeBlock, Y: 1, Z: 1},
		[]uint64{ptr(cp), i32(size), ptr(dp), f32(mean[0]), f32(mean[1]), f32(mean[2]), f32(std[0]), f32(std[1]), f32(std[2])})
	if err != nil {
		return err
	}
	return download(k, dst, dp)
}
