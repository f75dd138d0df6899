package mhr

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// slab is the column width of one dense-layer kernel call: 32 float32
// outputs, four 8-wide vector accumulators (two sets, for alternate k).
const slab = 32

// sparseRows lists, per batch row, the non-zero entries of a B×K matrix:
// after ReLU about half the corrective activations are zero, and skipping
// them halves the work of the 3000 × V·3 dense layer.
type sparseRows struct {
	idx [][]int32
	val [][]float32
}

func nonZeroRows(h []float32, B, K int) sparseRows {
	s := sparseRows{idx: make([][]int32, B), val: make([][]float32, B)}
	for b := range B {
		for k, v := range h[b*K : (b+1)*K] {
			if v != 0 {
				s.idx[b] = append(s.idx[b], int32(k))
				s.val[b] = append(s.val[b], v)
			}
		}
	}
	return s
}

// packedDense is a K×N row-major matrix re-laid out for denseAccumulate:
// for each slab of 32 columns, its K rows of 32 values are contiguous, and
// the columns past the last full slab form a K×(N mod 32) block. Reading a
// slab of the row-major matrix would touch K pages N·4 bytes apart.
type packedDense struct {
	K, N  int
	slabs []float32 // (N/32) × K × 32
	tail  []float32 // K × (N mod 32)
}

func packDense(w []float32, K, N int) packedDense {
	nslab, nt := N/slab, N%slab
	p := packedDense{K: K, N: N, slabs: make([]float32, nslab*K*slab), tail: make([]float32, K*nt)}
	for k := range K {
		row := w[k*N : (k+1)*N]
		for s := range nslab {
			copy(p.slabs[(s*K+k)*slab:(s*K+k+1)*slab], row[s*slab:])
		}
		copy(p.tail[k*nt:(k+1)*nt], row[nslab*slab:])
	}
	return p
}

// denseAccumulate adds h·W to c: c is B×N, W is K×N, h is given as its
// non-zero entries per row. The work runs in parallel over column slabs,
// so each slab of W (K×32 values, contiguous) stays in cache while every
// batch row uses it. fma selects the AVX2/FMA kernel.
func denseAccumulate(c []float32, h sparseRows, w packedDense, fma bool) {
	B, K, N := len(h.idx), w.K, w.N
	nslab := N / slab
	kernel := axpyRows32Go
	if fma {
		kernel = axpyRows32FMA
	}
	// Work items are runs of slabs; index nslab stands for the columns
	// past the last full slab.
	const chunk = 4
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), nslab/chunk+1)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s0 := int(next.Add(chunk)) - chunk
				if s0 > nslab {
					return
				}
				for s := s0; s < min(s0+chunk, nslab+1); s++ {
					j := s * slab
					for b := range B {
						switch {
						case len(h.idx[b]) == 0:
						case s == nslab:
							tailAxpy(c[b*N+j:(b+1)*N], h.idx[b], h.val[b], w.tail)
						default:
							kernel(h.idx[b], h.val[b], w.slabs[s*K*slab:(s+1)*K*slab], slab, c[b*N+j:b*N+j+slab])
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// axpyRows32Go is the portable kernel: c[0:32] += Σ val[i]·w[idx[i]·ldw:][0:32].
func axpyRows32Go(idx []int32, val []float32, w []float32, ldw int, c []float32) {
	var acc [slab]float32
	for i, k := range idx {
		v := val[i]
		row := w[int(k)*ldw : int(k)*ldw+slab]
		for j := range acc {
			acc[j] += v * row[j]
		}
	}
	for j := range acc {
		c[j] += acc[j]
	}
}

// tailAxpy adds the last N mod 32 columns of one output row; w is the
// K×len(c) tail block.
func tailAxpy(c []float32, idx []int32, val []float32, w []float32) {
	n := len(c)
	for i, k := range idx {
		v := val[i]
		row := w[int(k)*n : int(k+1)*n]
		for j := range c {
			c[j] += v * row[j]
		}
	}
}
