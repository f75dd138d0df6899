//go:build !amd64 || purego

package mhr

func haveFMA() bool { return false }

// axpyRows32FMA is never selected without AVX2/FMA; it is the portable
// kernel so that the code path stays valid.
func axpyRows32FMA(idx []int32, val []float32, w []float32, ldw int, c []float32) {
	axpyRows32Go(idx, val, w, ldw, c)
}
