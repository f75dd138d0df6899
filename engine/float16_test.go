package engine

import (
	"math"
	"testing"
)

// TestFloat16RoundTrip converts every one of the 65536 half values to
// float32 and back; the bits must come back unchanged (NaN payloads too).
func TestFloat16RoundTrip(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := Float16ToFloat32(h)
		if got := Float32ToFloat16(f); got != h {
			t.Fatalf("half %#04x -> %v (%#08x) -> %#04x", h, f, math.Float32bits(f), got)
		}
	}
}

// half returns the value of half bits h computed independently of
// Float16ToFloat32, from the IEEE 754 definition.
func half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	case 0:
		return sign * mant * math.Ldexp(1, -24)
	}
	return sign * (1 + mant/1024) * math.Ldexp(1, exp-15)
}

// TestFloat16ToFloat32Exhaustive checks every half value against the IEEE
// 754 definition.
func TestFloat16ToFloat32Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := float64(Float16ToFloat32(h))
		want := half(h)
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("half %#04x: got %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("half %#04x: got %v, want %v", h, got, want)
		}
	}
}

// TestFloat32ToFloat16Rounding checks, for every pair of adjacent finite
// halves of both signs, that their exact midpoint rounds to the one with
// an even mantissa and that the float32 values just either side of the
// midpoint round to the nearer half.
func TestFloat32ToFloat16Rounding(t *testing.T) {
	for _, sign := range []uint16{0, 0x8000} {
		for h := uint16(0); h < 0x7bff; h++ {
			lo, hi := sign|h, sign|(h+1)
			// The midpoint of two halves has 12 significant bits, so it
			// is exact in float32.
			mid := float32((half(lo) + half(hi)) / 2)
			even := lo
			if lo&1 == 1 {
				even = hi
			}
			if got := Float32ToFloat16(mid); got != even {
				t.Fatalf("midpoint %v of %#04x and %#04x: got %#04x, want %#04x", mid, lo, hi, got, even)
			}
			toLo := math.Nextafter32(mid, float32(half(lo)))
			if got := Float32ToFloat16(toLo); got != lo {
				t.Fatalf("%v (just toward %#04x): got %#04x", toLo, lo, got)
			}
			toHi := math.Nextafter32(mid, float32(half(hi)))
			if got := Float32ToFloat16(toHi); got != hi {
				t.Fatalf("%v (just toward %#04x): got %#04x", toHi, hi, got)
			}
		}
	}
}

func TestFloat32ToFloat16Special(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"one", 1, 0x3c00},
		{"max half", 65504, 0x7bff},
		{"below overflow midpoint", math.Nextafter32(65520, 0), 0x7bff},
		{"overflow midpoint rounds to inf", 65520, 0x7c00},
		{"large", 1e10, 0x7c00},
		{"negative large", -1e10, 0xfc00},
		{"max float32", math.MaxFloat32, 0x7c00},
		{"+inf", float32(math.Inf(1)), 0x7c00},
		{"-inf", float32(math.Inf(-1)), 0xfc00},
		{"smallest subnormal", float32(math.Ldexp(1, -24)), 0x0001},
		{"half of smallest subnormal ties to zero", float32(math.Ldexp(1, -25)), 0x0000},
		{"just above half of smallest subnormal", math.Nextafter32(float32(math.Ldexp(1, -25)), 1), 0x0001},
		{"negative tiny", -float32(math.Ldexp(1, -30)), 0x8000},
		{"float32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
		{"largest subnormal to smallest normal", float32(math.Ldexp(1023.5, -24)), 0x0400},
		{"NaN low payload stays NaN", math.Float32frombits(0x7f800001), 0x7e00},
		{"quiet NaN", math.Float32frombits(0x7fc00000), 0x7e00},
		{"negative NaN", math.Float32frombits(0xffc00000), 0xfe00},
	}
	for _, tt := range tests {
		if got := Float32ToFloat16(tt.in); got != tt.want {
			t.Errorf("%s: Float32ToFloat16(%v) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
}
