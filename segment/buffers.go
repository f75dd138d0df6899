package segment

import (
	"sync"
)

// floatPool recycles the large float32 buffers the tracker builds as
// engine inputs each frame (the mask for the memory encoder, the
// memory-attention prompt, batched features), so that tracking a video
// does not allocate and clear tens of MiB per frame. Engines read their
// inputs only during Run, so a buffer goes back once the run returned.
// It is safe for concurrent use; a nil pool allocates.
type floatPool struct {
	mu    sync.Mutex
	sizes map[int]*sync.Pool
}

// get returns a buffer of n elements with arbitrary contents.
func (p *floatPool) get(n int) []float32 {
	if p == nil {
		return make([]float32, n)
	}
	p.mu.Lock()
	sp := p.sizes[n]
	p.mu.Unlock()
	if sp != nil {
		if b, ok := sp.Get().(*[]float32); ok {
			return *b
		}
	}
	return make([]float32, n)
}

// getZero returns a zeroed buffer of n elements.
func (p *floatPool) getZero(n int) []float32 {
	b := p.get(n)
	clear(b)
	return b
}

// put hands a buffer from get back; the caller no longer uses it.
func (p *floatPool) put(b []float32) {
	if p == nil || cap(b) == 0 {
		return
	}
	b = b[:cap(b)]
	p.mu.Lock()
	if p.sizes == nil {
		p.sizes = map[int]*sync.Pool{}
	}
	sp := p.sizes[len(b)]
	if sp == nil {
		sp = &sync.Pool{}
		p.sizes[len(b)] = sp
	}
	p.mu.Unlock()
	sp.Put(&b)
}

// transposeBlock is the number of positions a blocked transpose handles
// at a time: its reads and writes then stay in the caches.
const transposeBlock = 64

// channelsLast writes the [C,hw] map src as [hw,B,C] into dst, the same
// values for each of the B objects (the memory attention's sequence-first
// layout).
func channelsLast(dst, src []float32, C, hw, B int) {
	blocks := (hw + transposeBlock - 1) / transposeBlock
	parallelRows(blocks, func(lo, hi int) {
		for i0 := lo * transposeBlock; i0 < min(hi*transposeBlock, hw); i0 += transposeBlock {
			i1 := min(i0+transposeBlock, hw)
			for c := range C {
				row := src[c*hw+i0 : c*hw+i1]
				for k, v := range row {
					o := (i0 + k) * B * C
					for b := range B {
						dst[o+b*C+c] = v
					}
				}
			}
		}
	})
}
