//go:build cuda || tensorrt

package gpu

import (
	"errors"
	"os"
	"testing"
	"unsafe"
)

// openOrSkip opens the best GPU. Without one the test skips, unless
// BODY4D_REQUIRE_GPU=1 (the device check sets it), where it fails.
func openOrSkip(t *testing.T) *Context {
	t.Helper()
	c, err := OpenBest(64 << 20)
	if errors.Is(err, ErrNoGPU) && os.Getenv("BODY4D_REQUIRE_GPU") != "1" {
		t.Skipf("no GPU: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// TestNoDriverIsErrNoGPU runs where there is no NVIDIA driver (CI): the
// driver library is opened at run time, so the process starts and every
// entry point says why it cannot work.
func TestNoDriverIsErrNoGPU(t *testing.T) {
	if _, err := DriverVersion(); err == nil {
		t.Skip("a CUDA driver is present")
	} else if !errors.Is(err, ErrNoGPU) {
		t.Fatalf("DriverVersion = %v, want an error wrapping ErrNoGPU", err)
	}
	if _, err := OpenContext(0); !errors.Is(err, ErrNoGPU) {
		t.Errorf("OpenContext = %v, want ErrNoGPU", err)
	}
}

func TestGPUCopyAndPool(t *testing.T) {
	c := openOrSkip(t)
	t.Logf("%s (%s), compute %d.%d", c.Name, c.UUID, c.Major, c.Minor)
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := NewPool(c)
	if err != nil {
		t.Fatal(err)
	}
	src := make([]uint32, 1000)
	for i := range src {
		src[i] = uint32(i * 7)
	}
	buf, err := p.Alloc(4*uint64(len(src)), s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Upload(buf.Ptr, unsafe.Pointer(&src[0]), 4*len(src)); err != nil {
		t.Fatal(err)
	}
	if err := s.Fill32(buf.Ptr+DevicePtr(4*500), 0xdeadbeef, 10); err != nil {
		t.Fatal(err)
	}
	got := make([]uint32, len(src))
	if err := s.Download(unsafe.Pointer(&got[0]), buf.Ptr, 4*len(got)); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		want := src[i]
		if i >= 500 && i < 510 {
			want = 0xdeadbeef
		}
		if v != want {
			t.Fatalf("word %d: %#x, want %#x", i, v, want)
		}
	}
	if err := p.Free(buf, s); err != nil {
		t.Fatal(err)
	}
	again, err := p.Alloc(4000, s)
	if err != nil || again.Ptr != buf.Ptr {
		t.Errorf("pool reuse: %#x, %v; want %#x", again.Ptr, err, buf.Ptr)
	}
	if err := p.Free(again, s); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	free, total, err := c.MemInfo()
	if err != nil || free == 0 || free > total {
		t.Errorf("MemInfo = %d, %d, %v", free, total, err)
	}
}
