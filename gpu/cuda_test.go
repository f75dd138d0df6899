//go:build cuda

package gpu

import "testing"

// These tests need a GPU: importing gorgonia.org/cu exits the process on a
// machine without one. Off-GPU they are only compiled.

func TestSizeClass(t *testing.T) {
	for n, want := range map[uint64]uint64{1: 512, 512: 512, 513: 1024, 3 << 20: 4 << 20, 64 << 20: 64 << 20, 64<<20 + 1: 128 << 20, 200 << 20: 256 << 20} {
		if got := sizeClass(n); got != want {
			t.Errorf("sizeClass(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestPoolReuse(t *testing.T) {
	c, err := OpenBest(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := NewPool(c, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Alloc(1000, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Free(a, s); err != nil {
		t.Fatal(err)
	}
	b, err := p.Alloc(1024, s)
	if err != nil {
		t.Fatal(err)
	}
	if b.Ptr != a.Ptr {
		t.Errorf("same size class not reused: %v then %v", a.Ptr, b.Ptr)
	}
	if err := p.Free(b, s); err != nil {
		t.Fatal(err)
	}
	if err := p.Free(b, s); err == nil {
		t.Error("double free not reported")
	}
	if _, err := p.Alloc(p.Limit()+1, s); err == nil {
		t.Error("allocation beyond the limit not refused")
	}
	n, err := p.MeshBatch(1<<20, 1<<20)
	if err != nil || n < 1 || n > MeshMaxBatch {
		t.Errorf("MeshBatch = %d, %v", n, err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}
