package gpu

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// fakeDevice is device memory as a counter: addresses are handed out in
// order and every allocation and free is checked.
type fakeDevice struct {
	mu     sync.Mutex
	next   DevicePtr
	live   map[DevicePtr]uint64
	total  uint64 // most the device can hold
	held   uint64
	allocs int
}

func newFakeDevice(total uint64) *fakeDevice {
	return &fakeDevice{next: 1 << 20, live: map[DevicePtr]uint64{}, total: total}
}

func (d *fakeDevice) Alloc(n uint64) (DevicePtr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held+n > d.total {
		return 0, fmt.Errorf("fake cuMemAlloc: %w", ErrOutOfMemory)
	}
	p := d.next
	d.next += DevicePtr(n)
	d.live[p] = n
	d.held += n
	d.allocs++
	return p, nil
}

func (d *fakeDevice) Free(p DevicePtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.live[p]
	if !ok {
		return fmt.Errorf("fake cuMemFree(%#x): not allocated", uint64(p))
	}
	delete(d.live, p)
	d.held -= n
	return nil
}

// fakeQueue records the fences it was made to wait for.
type fakeQueue struct {
	marks, waits int
}

type fakeFence struct{ closed bool }

func (f *fakeFence) Synchronize() error { return nil }
func (f *fakeFence) Close() error {
	if f.closed {
		return errors.New("fence closed twice")
	}
	f.closed = true
	return nil
}

func (q *fakeQueue) Mark() (Fence, error) { q.marks++; return &fakeFence{}, nil }
func (q *fakeQueue) After(f Fence) error {
	if f.(*fakeFence).closed {
		return errors.New("wait on a closed fence")
	}
	q.waits++
	return nil
}

func TestSizeClass(t *testing.T) {
	for n, want := range map[uint64]uint64{1: 512, 512: 512, 513: 1024, 3 << 20: 4 << 20, 64 << 20: 64 << 20, 64<<20 + 1: 128 << 20, 200 << 20: 256 << 20} {
		if got := sizeClass(n); got != want {
			t.Errorf("sizeClass(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestPoolReuseAndLimit(t *testing.T) {
	dev := newFakeDevice(1 << 30)
	q := &fakeQueue{}
	p := NewPoolLimit(dev, 8<<20)
	a, err := p.Alloc(1000, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Free(a, q); err != nil {
		t.Fatal(err)
	}
	b, err := p.Alloc(1024, q)
	if err != nil {
		t.Fatal(err)
	}
	if b.Ptr != a.Ptr || dev.allocs != 1 {
		t.Errorf("same size class not reused: %#x then %#x, %d device allocations", a.Ptr, b.Ptr, dev.allocs)
	}
	if q.waits != 1 {
		t.Errorf("reuse waited for %d fences, want 1 (the free's)", q.waits)
	}
	if err := p.Free(b, q); err != nil {
		t.Fatal(err)
	}
	if err := p.Free(b, q); err == nil || !strings.Contains(err.Error(), "already freed") {
		t.Errorf("double free: %v", err)
	}
	_, err = p.Alloc(p.Limit()+1, q)
	if !errors.Is(err, ErrOutOfMemory) {
		t.Errorf("allocation beyond the limit: %v, want ErrOutOfMemory", err)
	}
	// A large request trims the cache first instead of failing.
	c, err := p.Alloc(8<<20, q)
	if err != nil {
		t.Fatalf("allocation of the whole limit with a cached block: %v", err)
	}
	if err := p.Free(c, q); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if len(dev.live) != 0 {
		t.Errorf("%d blocks still allocated after Close", len(dev.live))
	}
}

func TestPoolDeviceOutOfMemory(t *testing.T) {
	// The device has less than the pool's limit (another process took
	// memory after the pool was sized): the driver's failure comes back
	// as ErrOutOfMemory too.
	p := NewPoolLimit(newFakeDevice(1<<20), 8<<20)
	if _, err := p.Alloc(2<<20, &fakeQueue{}); !errors.Is(err, ErrOutOfMemory) {
		t.Errorf("Alloc = %v, want ErrOutOfMemory", err)
	}
}

func TestPoolCloseInUse(t *testing.T) {
	p := NewPoolLimit(newFakeDevice(1<<30), 1<<20)
	if _, err := p.Alloc(10, &fakeQueue{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err == nil {
		t.Error("Close with a buffer in use succeeded")
	}
}

// TestPoolBatchFollowsFreeMemory: the batch a pool allows shrinks as its
// memory is taken and grows back when it is freed.
func TestPoolBatchFollowsFreeMemory(t *testing.T) {
	const mib = 1 << 20
	q := &fakeQueue{}
	p := NewPoolLimit(newFakeDevice(1<<40), PoolLimit(1000*mib)) // 900 MiB usable
	batch := func() int {
		n, err := p.Batch(100*mib, 10*mib, MeshMaxBatch)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := batch(); got != 64 {
		t.Errorf("empty pool: batch %d, want 64 (the cap; 80 would fit)", got)
	}
	held, err := p.Alloc(512*mib, q) // a 512 MiB block: 388 MiB left
	if err != nil {
		t.Fatal(err)
	}
	if got, want := batch(), int((PoolLimit(1000*mib)-512*mib-100*mib)/(10*mib)); got != want {
		t.Errorf("with 512 MiB held: batch %d, want %d", got, want)
	}
	if err := p.Free(held, q); err != nil {
		t.Fatal(err)
	}
	if got := batch(); got != 64 {
		t.Errorf("after the free: batch %d, want 64", got)
	}
	if _, err := p.Batch(1000*mib, mib, 64); err == nil {
		t.Error("a fixed cost beyond the pool was accepted")
	}
}

func TestPoolLimitMargin(t *testing.T) {
	if got := PoolLimit(1000); got != 900 {
		t.Errorf("PoolLimit(1000) = %d, want 900 (10%% margin)", got)
	}
}
