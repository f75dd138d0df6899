//go:build cuda

package gpu

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"gorgonia.org/cu"
)

// Built with the tag "cuda", a program links libcuda and initialises the
// driver at start-up (gorgonia.org/cu's package init), and exits there on
// a machine without an NVIDIA GPU. Ship such builds only to GPU machines.

// Context is the primary context of one CUDA device. The primary context
// is the one the CUDA runtime uses, so memory and streams made here can be
// handed to TensorRT (package trt) and to kernels alike.
//
// The driver binds a context to an OS thread, so every driver call goes
// through Do, which pins the goroutine to its thread and makes the context
// current there.
type Context struct {
	Ordinal int    // CUDA device ordinal
	UUID    string // "GPU-…", as NVML spells it
	Name    string
	dev     cu.Device
	ctx     cu.CUContext
}

// OpenContext retains the primary context of CUDA device ordinal.
func OpenContext(ordinal int) (*Context, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: device count: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d does not exist (%d devices)", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	c := &Context{Ordinal: ordinal, dev: dev}
	if c.Name, err = dev.Name(); err != nil {
		return nil, fmt.Errorf("cuda: device %d name: %w", ordinal, err)
	}
	id, err := dev.UUID()
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d UUID: %w", ordinal, err)
	}
	c.UUID = "GPU-" + id.String()
	if c.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("cuda: device %d: retain primary context: %w", ordinal, err)
	}
	return c, nil
}

// OpenBest opens the device with the most free memory, as NVML reports
// it, provided at least need bytes are free there. NVML's device order can
// differ from CUDA's (CUDA_VISIBLE_DEVICES, PCI order), so devices are
// matched by UUID.
func OpenBest(need uint64) (*Context, error) {
	devs, err := Devices()
	if err != nil {
		return nil, err
	}
	best := -1
	for i, d := range devs {
		if d.FreeBytes >= need && (best < 0 || d.FreeBytes > devs[best].FreeBytes) {
			best = i
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("cuda: no GPU has %s free", FormatBytes(need))
	}
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: device count: %w", err)
	}
	for i := 0; i < n; i++ {
		dev, err := cu.GetDevice(i)
		if err != nil {
			return nil, fmt.Errorf("cuda: device %d: %w", i, err)
		}
		id, err := dev.UUID()
		if err != nil {
			return nil, fmt.Errorf("cuda: device %d UUID: %w", i, err)
		}
		if "GPU-"+id.String() == devs[best].UUID {
			return OpenContext(i)
		}
	}
	return nil, fmt.Errorf("cuda: NVML device %d (%s) is not visible to CUDA", devs[best].Index, devs[best].UUID)
}

// Do runs f on a locked OS thread with the context current.
func (c *Context) Do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(c.ctx); err != nil {
		return fmt.Errorf("cuda: device %d: make context current: %w", c.Ordinal, err)
	}
	return f()
}

// Memory returns the device's entry from NVML (Devices), found by UUID.
func (c *Context) Memory() (Device, error) {
	devs, err := Devices()
	if err != nil {
		return Device{}, err
	}
	for _, d := range devs {
		if d.UUID == c.UUID {
			return d, nil
		}
	}
	return Device{}, fmt.Errorf("nvml: CUDA device %d (%s) not found", c.Ordinal, c.UUID)
}

// Close releases the primary context. Streams, events and memory made on
// it must be freed first.
func (c *Context) Close() error {
	if err := c.dev.ReleasePrimaryCtx(); err != nil {
		return fmt.Errorf("cuda: device %d: release primary context: %w", c.Ordinal, err)
	}
	return nil
}

// Stream is a CUDA stream that does not synchronize with the legacy
// default stream.
type Stream struct {
	c *Context
	s cu.Stream
}

// NewStream creates a stream on the context.
func (c *Context) NewStream() (*Stream, error) {
	st := &Stream{c: c}
	err := c.Do(func() (err error) {
		st.s, err = cu.MakeStream(cu.NonBlocking)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: create stream: %w", err)
	}
	return st, nil
}

// Handle returns the stream as a CUstream (equally a cudaStream_t), the
// form trt.Engine.Enqueue takes.
func (s *Stream) Handle() uintptr { return uintptr(unsafe.Pointer(s.s.C())) }

// CU returns the stream for gorgonia.org/cu calls.
func (s *Stream) CU() cu.Stream { return s.s }

// Synchronize waits until all work queued on the stream is done.
func (s *Stream) Synchronize() error {
	return s.c.Do(func() error { return s.s.Synchronize() })
}

// Wait makes future work on s wait until e has completed.
func (s *Stream) Wait(e *Event) error {
	return s.c.Do(func() error { return s.s.Wait(e.e, 0) })
}

// Close destroys the stream once its queued work is done.
func (s *Stream) Close() error {
	return s.c.Do(func() error { return s.s.Destroy() })
}

// Event marks a point in a stream.
type Event struct {
	c *Context
	e cu.Event
}

// NewEvent creates an event; timing events can measure elapsed time but
// cost more to record.
func (c *Context) NewEvent(timing bool) (*Event, error) {
	flags := cu.DisableTiming
	if timing {
		flags = cu.DefaultEvent
	}
	ev := &Event{c: c}
	err := c.Do(func() (err error) {
		ev.e, err = cu.MakeEvent(flags)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: create event: %w", err)
	}
	return ev, nil
}

// Record marks the current end of stream s.
func (e *Event) Record(s *Stream) error {
	return e.c.Do(func() error { return e.e.Record(s.s) })
}

// Done reports whether the work before the recorded point has finished.
func (e *Event) Done() (bool, error) {
	var done bool
	err := e.c.Do(func() error {
		err := e.e.Query()
		if errors.Is(err, cu.NotReady) {
			return nil
		}
		done = err == nil
		return err
	})
	return done, err
}

// Synchronize waits for the recorded point.
func (e *Event) Synchronize() error {
	return e.c.Do(func() error { return e.e.Synchronize() })
}

// Elapsed returns the time between e and a later timing event end.
func (e *Event) Elapsed(end *Event) (time.Duration, error) {
	var ms float64
	err := e.c.Do(func() (err error) {
		ms, err = e.e.Elapsed(end.e)
		return err
	})
	return time.Duration(ms * float64(time.Millisecond)), err
}

// Close destroys the event.
func (e *Event) Close() error {
	return e.c.Do(func() error { return cu.DestroyEvent(&e.e) })
}
