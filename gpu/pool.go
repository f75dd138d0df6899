//go:build cuda

package gpu

import (
	"errors"
	"fmt"
	"sync"

	"gorgonia.org/cu"
)

// MeshMaxBatch caps the mesh stage's batch at the reference's fixed batch
// of 64 (sam_3d_body.batch_size); a budget only ever lowers it.
const MeshMaxBatch = 64

// Pool is a caching allocator of device memory. gorgonia.org/cu v0.9.6
// does not expose stream-ordered allocation (cuMemAllocAsync,
// cuMemPoolCreate), so this is a pool of cuMemAlloc blocks in size
// classes, made stream-ordered by hand: Free records an event on the
// stream that last used a block, and Alloc makes the next user's stream
// wait on that event before reuse. The pool never holds more than its
// limit, which NewPool takes from NVML's free memory less a margin.
type Pool struct {
	c     *Context
	limit uint64

	mu    sync.Mutex
	held  uint64 // bytes allocated from the driver: in use plus cached
	inUse map[cu.DevicePtr]*block
	free  map[uint64][]*block // cached blocks by size class
}

type block struct {
	ptr      cu.DevicePtr
	size     uint64 // size class
	released *Event // recorded when the block was freed; nil if never used
}

// Buffer is device memory from a Pool.
type Buffer struct {
	Ptr  cu.DevicePtr
	Size uint64 // bytes asked for; the block may be larger
}

// NewPool returns a pool for c limited to the device's free memory, as
// NVML reports it now, less margin (a fraction in [0,1)).
func NewPool(c *Context, margin float64) (*Pool, error) {
	if margin < 0 || margin >= 1 {
		return nil, fmt.Errorf("gpu: pool margin %g outside [0,1)", margin)
	}
	d, err := c.Memory()
	if err != nil {
		return nil, err
	}
	return &Pool{
		c:     c,
		limit: uint64(float64(d.FreeBytes) * (1 - margin)),
		inUse: map[cu.DevicePtr]*block{},
		free:  map[uint64][]*block{},
	}, nil
}

// Limit returns the most memory the pool will hold.
func (p *Pool) Limit() uint64 { return p.limit }

// Available returns how many bytes can still be allocated: the limit less
// what is in use (cached blocks count as available).
func (p *Pool) Available() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var used uint64
	for _, b := range p.inUse {
		used += b.size
	}
	return p.limit - used
}

// sizeClass rounds n up so that freed blocks fit later requests of
// similar size: powers of two up to 64 MiB, then multiples of 64 MiB,
// which bounds the waste at 2× for small and 64 MiB for large blocks.
func sizeClass(n uint64) uint64 {
	const small, large = 512, 64 << 20
	if n <= small {
		return small
	}
	if n > large {
		return (n + large - 1) / large * large
	}
	c := uint64(small)
	for c < n {
		c <<= 1
	}
	return c
}

// Alloc returns a buffer of at least n bytes for use on stream s. A reused
// block is safe on s because s is made to wait for the point where the
// block was freed.
func (p *Pool) Alloc(n uint64, s *Stream) (Buffer, error) {
	if n == 0 {
		return Buffer{}, errors.New("gpu: allocation of 0 bytes")
	}
	size := sizeClass(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if list := p.free[size]; len(list) > 0 {
		b := list[len(list)-1]
		if b.released != nil {
			if err := s.Wait(b.released); err != nil {
				return Buffer{}, fmt.Errorf("gpu: reuse of a %s block: %w", FormatBytes(size), err)
			}
		}
		p.free[size] = list[:len(list)-1]
		p.inUse[b.ptr] = b
		return Buffer{Ptr: b.ptr, Size: n}, nil
	}
	if p.held+size > p.limit {
		if err := p.trimLocked(); err != nil {
			return Buffer{}, err
		}
	}
	if p.held+size > p.limit {
		return Buffer{}, fmt.Errorf("gpu: allocating %s would exceed the pool's limit of %s (%s in use)",
			FormatBytes(size), FormatBytes(p.limit), FormatBytes(p.held))
	}
	var ptr cu.DevicePtr
	err := p.c.Do(func() (err error) {
		ptr, err = cu.MemAlloc(int64(size))
		return err
	})
	if err != nil {
		return Buffer{}, fmt.Errorf("gpu: cuMemAlloc(%s): %w", FormatBytes(size), err)
	}
	p.held += size
	p.inUse[ptr] = &block{ptr: ptr, size: size}
	return Buffer{Ptr: ptr, Size: n}, nil
}

// Free returns a buffer to the pool once the work queued on s so far is
// done; s is the last stream that used it.
func (p *Pool) Free(buf Buffer, s *Stream) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.inUse[buf.Ptr]
	if !ok {
		return fmt.Errorf("gpu: free of %v, which this pool did not allocate or already freed", buf.Ptr)
	}
	if b.released == nil {
		ev, err := p.c.NewEvent(false)
		if err != nil {
			return err
		}
		b.released = ev
	}
	if err := b.released.Record(s); err != nil {
		return fmt.Errorf("gpu: free of %v: %w", buf.Ptr, err)
	}
	delete(p.inUse, buf.Ptr)
	p.free[b.size] = append(p.free[b.size], b)
	return nil
}

// Trim returns every cached block to the driver.
func (p *Pool) Trim() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trimLocked()
}

func (p *Pool) trimLocked() error {
	var errs []error
	for size, list := range p.free {
		for _, b := range list {
			errs = append(errs, p.release(b))
		}
		delete(p.free, size)
	}
	return errors.Join(errs...)
}

// release waits until b's last user is done and frees it.
func (p *Pool) release(b *block) error {
	if b.released != nil {
		if err := b.released.Synchronize(); err != nil {
			return err
		}
		if err := b.released.Close(); err != nil {
			return err
		}
	}
	p.held -= b.size
	return p.c.Do(func() error { return cu.MemFree(b.ptr) })
}

// Close frees all memory; it fails if buffers are still in use.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.inUse) > 0 {
		return fmt.Errorf("gpu: pool closed with %d buffers in use", len(p.inUse))
	}
	return p.trimLocked()
}

// MeshBatch chooses the mesh stage's batch size from the memory the pool
// can still hand out: fixedBytes is the stage's size-independent cost
// (weights, workspaces) and perItemBytes the cost of one more crop, both
// measured for the engine in use. The pool's margin is already applied, so
// the budget adds none.
func (p *Pool) MeshBatch(fixedBytes, perItemBytes uint64) (int, error) {
	return Budget{
		FreeBytes:    p.Available(),
		FixedBytes:   fixedBytes,
		PerItemBytes: perItemBytes,
		MaxBatch:     MeshMaxBatch,
	}.Batch()
}
