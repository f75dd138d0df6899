package gpu

import (
	"errors"
	"fmt"
	"sync"
)

// DevicePtr is an address in device memory (CUdeviceptr).
type DevicePtr uint64

// Allocator is the device memory a Pool draws from: a CUDA context
// (build tag cuda), or a fake in tests.
type Allocator interface {
	Alloc(n uint64) (DevicePtr, error)
	Free(p DevicePtr) error
}

// A Queue orders work on the device: a CUDA stream. A Pool uses it to
// reuse a block only after the work that last used it is done.
type Queue interface {
	// Mark records the current end of the queue.
	Mark() (Fence, error)
	// After makes later work on the queue wait for f.
	After(f Fence) error
}

// A Fence is a point recorded in a Queue.
type Fence interface {
	Synchronize() error
	Close() error
}

// PoolMargin is the fraction of a GPU's free memory (NVML, at start) that
// the pool leaves alone: room for the CUDA context's own growth, cuBLAS
// and TensorRT workspaces allocated outside the pool, and other processes.
const PoolMargin = 0.10

// MeshMaxBatch caps the mesh stage's batch at the reference's fixed batch
// of 64 (sam_3d_body.batch_size); a budget only ever lowers it.
const MeshMaxBatch = 64

// Pool is a caching allocator of device memory with a hard limit, one per
// GPU. Blocks come in size classes and are reused once the queue that
// freed them has passed the point of the free (stream-ordered reuse). The
// pool never holds more than its limit, which NewPool takes from NVML's
// free memory less PoolMargin; what it can still hand out (Available) is
// what batch sizes are chosen from.
type Pool struct {
	dev   Allocator
	limit uint64

	mu    sync.Mutex
	held  uint64 // bytes allocated from the device: in use plus cached
	inUse map[DevicePtr]*block
	free  map[uint64][]*block // cached blocks by size class
}

type block struct {
	ptr      DevicePtr
	size     uint64 // size class
	released Fence  // recorded when the block was freed; nil if never used
}

// Buffer is device memory from a Pool.
type Buffer struct {
	Ptr  DevicePtr
	Size uint64 // bytes asked for; the block may be larger
}

// NewPoolLimit returns a pool that allocates from dev and never holds
// more than limit bytes.
func NewPoolLimit(dev Allocator, limit uint64) *Pool {
	return &Pool{dev: dev, limit: limit, inUse: map[DevicePtr]*block{}, free: map[uint64][]*block{}}
}

// PoolLimit is the limit of a pool on a GPU with free bytes free: the free
// memory less PoolMargin.
func PoolLimit(free uint64) uint64 { return uint64(float64(free) * (1 - PoolMargin)) }

// Allocator returns what the pool allocates from.
func (p *Pool) Allocator() Allocator { return p.dev }

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

// InUse returns the bytes handed out and not yet freed.
func (p *Pool) InUse() uint64 { return p.limit - p.Available() }

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

// Alloc returns a buffer of at least n bytes for use on q. A reused block
// is safe on q because q is made to wait for the point where the block was
// freed. Running out of the pool's limit or of device memory is an error
// wrapping ErrOutOfMemory.
func (p *Pool) Alloc(n uint64, q Queue) (Buffer, error) {
	if n == 0 {
		return Buffer{}, errors.New("gpu: allocation of 0 bytes")
	}
	size := sizeClass(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if list := p.free[size]; len(list) > 0 {
		b := list[len(list)-1]
		if b.released != nil {
			if err := q.After(b.released); err != nil {
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
		return Buffer{}, fmt.Errorf("gpu: allocating %s would exceed the pool's limit of %s (%s held): %w",
			FormatBytes(size), FormatBytes(p.limit), FormatBytes(p.held), ErrOutOfMemory)
	}
	ptr, err := p.dev.Alloc(size)
	if err != nil {
		return Buffer{}, fmt.Errorf("gpu: allocating %s: %w", FormatBytes(size), err)
	}
	p.held += size
	p.inUse[ptr] = &block{ptr: ptr, size: size}
	return Buffer{Ptr: ptr, Size: n}, nil
}

// Free returns a buffer to the pool once the work queued on q so far is
// done; q is the last queue that used it.
func (p *Pool) Free(buf Buffer, q Queue) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.inUse[buf.Ptr]
	if !ok {
		return fmt.Errorf("gpu: free of %#x, which this pool did not allocate or already freed", uint64(buf.Ptr))
	}
	f, err := q.Mark()
	if err != nil {
		return fmt.Errorf("gpu: free of %#x: %w", uint64(buf.Ptr), err)
	}
	if b.released != nil {
		if err := b.released.Close(); err != nil {
			return err
		}
	}
	b.released = f
	delete(p.inUse, buf.Ptr)
	p.free[b.size] = append(p.free[b.size], b)
	return nil
}

// Trim returns every cached block to the device.
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
	return p.dev.Free(b.ptr)
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

// Batch chooses a batch size from the memory the pool can still hand
// out: fixedBytes is the work's size-independent cost (workspaces) and
// perItemBytes the cost of one more item, capped at maxBatch. The pool's
// margin is already applied, so the budget adds none.
func (p *Pool) Batch(fixedBytes, perItemBytes uint64, maxBatch int) (int, error) {
	return Budget{
		FreeBytes:    p.Available(),
		FixedBytes:   fixedBytes,
		PerItemBytes: perItemBytes,
		MaxBatch:     maxBatch,
	}.Batch()
}
