//go:build cuda

package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"time"

	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/internal/synthmesh"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/render"
	"github.com/body4d/body4d/scene"
)

func runBench(w io.Writer) error {
	if err := poolRow(w); err != nil {
		return err
	}
	k, why := kernels.Default(nil)
	if k == nil {
		return errors.New(why)
	}
	defer k.(interface{ Close() error }).Close()
	for _, c := range []struct{ w, h, people int }{{1920, 1080, 5}, {1280, 720, 1}} {
		if err := rasterRow(w, k, c.w, c.h, c.people); err != nil {
			return err
		}
	}
	return skinRow(w, k)
}

// poolRow compares the pool's limit (NVML free memory less the margin)
// with the memory that can really be allocated: cuMemAlloc until it fails.
func poolRow(w io.Writer) error {
	c, err := gpu.OpenBest(0)
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.Memory()
	if err != nil {
		return err
	}
	limit := gpu.PoolLimit(d.FreeBytes)
	var ptrs []gpu.DevicePtr
	var got uint64
	for _, chunk := range []uint64{1 << 30, 64 << 20, 4 << 20} {
		for {
			p, err := c.Alloc(chunk)
			if err != nil {
				break
			}
			ptrs = append(ptrs, p)
			got += chunk
		}
	}
	for _, p := range ptrs {
		if err := c.Free(p); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "| pool sizing (%s) | NVML free %s, pool limit %s; allocatable until failure %s; limit/allocatable %.3f |\n",
		c.Name, gpu.FormatBytes(d.FreeBytes), gpu.FormatBytes(limit), gpu.FormatBytes(got), float64(limit)/float64(got))
	return nil
}

// rasterRow renders the same frames with the CUDA rasterizer and the Go
// one and reports both rates and whether the pixels agree.
func rasterRow(w io.Writer, k kernels.Kernels, W, H, n int) error {
	var people []render.Item
	for i := 0; i < n; i++ {
		people = append(people, render.Item{Person: scene.PersonID(i + 1), Mesh: synthmesh.Body(0.45*float64(i)-0.45*float64(n-1)/2, 3.5+0.3*float64(i%2))})
	}
	K := scene.DefaultIntrinsics(W, H)
	fps := func(kern kernels.Kernels) (float64, []uint8, error) {
		r, err := render.New(render.Options{Opacity: 0.85, Kernels: kern})
		if err != nil {
			return 0, nil, err
		}
		dst := scene.NewRGB(image.Rect(0, 0, W, H))
		if err := r.Render(dst, people, K); err != nil { // warm up
			return 0, nil, err
		}
		const frames = 30
		t0 := time.Now()
		for range frames {
			if err := r.Render(dst, people, K); err != nil {
				return 0, nil, err
			}
		}
		return frames / time.Since(t0).Seconds(), dst.Pix, nil
	}
	gpuFPS, a, err := fps(k)
	if err != nil {
		return err
	}
	goFPS, b, err := fps(nil)
	if err != nil {
		return err
	}
	same := "identical pixels"
	for i := range a {
		if a[i] != b[i] {
			same = "PIXELS DIFFER"
			break
		}
	}
	fmt.Fprintf(w, "| render %d×%d, %d people | CUDA visibility %.1f fps, Go %.1f fps (%.2f×); %s |\n", W, H, n, gpuFPS, goFPS, gpuFPS/goFPS, same)
	return nil
}

// skinRow skins batches of 64 MHR-sized bodies (18,439 vertices, 51,337
// joint weights, 127 joints), transfers included.
func skinRow(w io.Writer, k kernels.Kernels) error {
	const batch, nv, nj, pairs = 64, 18439, 127, 51337
	r := rand.New(rand.NewPCG(1, 2))
	s := &kernels.Skinning{Start: make([]int32, nv+1)}
	for v := 0; v < nv; v++ {
		n := pairs / nv
		if v < pairs%nv {
			n++
		}
		for range n {
			s.Joint = append(s.Joint, int32(r.IntN(nj)))
			s.Weight = append(s.Weight, r.Float32())
		}
		s.Start[v+1] = int32(len(s.Joint))
	}
	rest, xform, out := make([]float32, batch*nv*3), make([]float32, batch*nj*12), make([]float32, batch*nv*3)
	for i := range rest {
		rest[i] = r.Float32()
	}
	for i := range xform {
		xform[i] = r.Float32()
	}
	if err := k.Skin(out, rest, batch, nv, xform, nj, s); err != nil {
		return err
	}
	const reps = 50
	t0 := time.Now()
	for range reps {
		if err := k.Skin(out, rest, batch, nv, xform, nj, s); err != nil {
			return err
		}
	}
	dt := time.Since(t0).Seconds() / reps
	fmt.Fprintf(w, "| MHR skinning, batch 64 | %.2f ms per batch, %.0f bodies/s (copies in and out included) |\n", 1e3*dt, batch/dt)
	return nil
}
