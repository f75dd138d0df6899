//go:build amd64 && !purego

package mhr

// cpuid and xgetbv are in dense_amd64.s.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// haveFMA reports whether the CPU and OS support AVX2 and FMA.
func haveFMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state saved by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}

//go:noescape
func axpyRows32Asm(n int, idx *int32, val *float32, w *float32, ldw int, c *float32)

// axpyRows32FMA is axpyRows32Go with AVX2/FMA. Callers guarantee
// len(val) == len(idx), every idx[i]·ldw+32 ≤ len(w), and len(c) ≥ 32.
func axpyRows32FMA(idx []int32, val []float32, w []float32, ldw int, c []float32) {
	if len(idx) == 0 {
		return
	}
	_ = c[slab-1]
	axpyRows32Asm(len(idx), &idx[0], &val[0], &w[0], ldw, &c[0])
}
