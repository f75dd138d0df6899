package mhr

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDenseAccumulate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []struct{ B, K, N int }{
		{1, 1, 1}, {3, 7, 31}, {5, 40, 32}, {8, 33, 100}, {64, 150, 1000},
	} {
		h := make([]float32, size.B*size.K)
		for i := range h {
			if rng.IntN(2) == 0 { // ReLU-like zeros; row 0 stays all zero
				h[i] = rng.Float32()
			}
		}
		clear(h[:size.K])
		w := make([]float32, size.K*size.N)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		c0 := make([]float32, size.B*size.N)
		for i := range c0 {
			c0[i] = float32(rng.NormFloat64())
		}
		want := make([]float64, len(c0))
		for b := range size.B {
			for j := range size.N {
				s := float64(c0[b*size.N+j])
				for k := range size.K {
					s += float64(h[b*size.K+k]) * float64(w[k*size.N+j])
				}
				want[b*size.N+j] = s
			}
		}
		modes := []bool{false}
		if haveFMA() {
			modes = append(modes, true)
		}
		for _, fma := range modes {
			c := append([]float32(nil), c0...)
			denseAccumulate(c, nonZeroRows(h, size.B, size.K), packDense(w, size.K, size.N), fma)
			var worst float64
			for i := range c {
				worst = max(worst, math.Abs(float64(c[i])-want[i])/(1+math.Abs(want[i])))
			}
			if worst > 1e-5 {
				t.Errorf("B=%d K=%d N=%d fma=%v: max error %.3g", size.B, size.K, size.N, fma, worst)
			}
		}
	}
}
