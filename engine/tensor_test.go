package engine

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, dt := range []DType{Float32, Float16, Int64, Int32, Uint8, Bool} {
		x, err := New(dt, Shape{2, 3})
		if err != nil {
			t.Fatalf("New(%v): %v", dt, err)
		}
		if x.DType() != dt || x.Len() != 6 || !slices.Equal(x.Shape(), Shape{2, 3}) {
			t.Errorf("New(%v) = %v %v len %d", dt, x.DType(), x.Shape(), x.Len())
		}
		// Exactly one accessor returns the storage.
		n := 0
		for _, ok := range []bool{x.Float32() != nil, x.Float16() != nil, x.Int64() != nil, x.Int32() != nil, x.Uint8() != nil, x.Bool() != nil} {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("New(%v): %d accessors return data, want 1", dt, n)
		}
		f, err := x.AsFloat32()
		if err != nil || len(f) != 6 {
			t.Errorf("New(%v).AsFloat32() = %v, %v", dt, f, err)
		}
		for _, v := range f {
			if v != 0 {
				t.Errorf("New(%v) not zeroed: %v", dt, f)
				break
			}
		}
	}
	scalar, err := New(Float32, Shape{})
	if err != nil || scalar.Len() != 1 {
		t.Errorf("New scalar: len %d, %v", scalar.Len(), err)
	}
	empty, err := New(Int64, Shape{0, 4})
	if err != nil || empty.Len() != 0 {
		t.Errorf("New empty: len %d, %v", empty.Len(), err)
	}
}

func TestNewBad(t *testing.T) {
	tests := []struct {
		name  string
		dt    DType
		shape Shape
		want  string
	}{
		{"dynamic dim", Float32, Shape{1, Dynamic, 3}, "dimension 1 is -1"},
		{"negative dim", Int32, Shape{-5}, "dimension 0 is -5"},
		{"any dim", Uint8, Shape{AnyDim}, "dimension 0 is -2"},
		{"unknown dtype", DType(99), Shape{1}, "unknown element type DType(99)"},
		{"zero dtype", DType(0), Shape{1}, "unknown element type"},
		{"overflow", Float32, Shape{1 << 40, 1 << 40}, "too many elements"},
	}
	for _, tt := range tests {
		_, err := New(tt.dt, tt.shape)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New(%v, %v) error = %v, want it to contain %q", tt.name, tt.dt, tt.shape, err, tt.want)
		}
	}
}

func TestFromSharesStorage(t *testing.T) {
	f := []float32{1, 2, 3, 4}
	x, err := FromFloat32(Shape{2, 2}, f)
	if err != nil {
		t.Fatal(err)
	}
	f[0] = 9
	if x.Float32()[0] != 9 {
		t.Error("FromFloat32 copied its data; it should use it")
	}
	// Shape is a copy both ways.
	s := Shape{4}
	y, _ := FromInt64(s, []int64{1, 2, 3, 4})
	s[0] = 7
	got := y.Shape()
	got[0] = 8
	if y.Shape()[0] != 4 {
		t.Errorf("tensor shape changed through an alias: %v", y.Shape())
	}
}

func TestFromLengthMismatch(t *testing.T) {
	tests := []struct {
		name string
		make func() (*Tensor, error)
		want string
	}{
		{"float32 short", func() (*Tensor, error) { return FromFloat32(Shape{2, 3}, make([]float32, 5)) }, "shape [2,3] holds 6 elements, but 5 float32 values"},
		{"float16 long", func() (*Tensor, error) { return FromFloat16(Shape{2}, make([]uint16, 3)) }, "shape [2] holds 2 elements, but 3 float16 values"},
		{"int64 nil", func() (*Tensor, error) { return FromInt64(Shape{1}, nil) }, "holds 1 elements, but 0 int64"},
		{"int32", func() (*Tensor, error) { return FromInt32(Shape{4, 4}, make([]int32, 4)) }, "holds 16 elements, but 4 int32"},
		{"uint8", func() (*Tensor, error) { return FromUint8(Shape{}, make([]uint8, 2)) }, "shape [] holds 1 elements, but 2 uint8"},
		{"bool", func() (*Tensor, error) { return FromBool(Shape{0}, make([]bool, 1)) }, "holds 0 elements, but 1 bool"},
		{"dynamic shape", func() (*Tensor, error) { return FromFloat32(Shape{Dynamic}, make([]float32, 1)) }, "dimension 0 is -1"},
	}
	for _, tt := range tests {
		x, err := tt.make()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got (%v, %v), want error containing %q", tt.name, x, err, tt.want)
		}
	}
}

func TestMust(t *testing.T) {
	data := []float32{1, 2, 3, 4, 5, 6}
	if x := Must(FromFloat32(Shape{2, 3}, data)); &x.Float32()[0] != &data[0] {
		t.Error("Must does not return the tensor it is given")
	}
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !strings.Contains(err.Error(), "holds 6 elements, but 5 float32 values") {
			t.Errorf("Must on a length mismatch: recovered %v, want the From error", r)
		}
	}()
	Must(FromFloat32(Shape{2, 3}, data[:5]))
	t.Error("Must did not panic")
}

func TestAccessorsNilForOtherTypes(t *testing.T) {
	x, _ := FromInt32(Shape{1}, []int32{5})
	if x.Float32() != nil || x.Float16() != nil || x.Int64() != nil || x.Uint8() != nil || x.Bool() != nil {
		t.Error("an accessor for another type returned data")
	}
	if got := x.Int32(); len(got) != 1 || got[0] != 5 {
		t.Errorf("Int32() = %v", got)
	}
}

func TestAsFloat32(t *testing.T) {
	mk := func(x *Tensor, err error) *Tensor {
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name string
		x    *Tensor
		want []float32
	}{
		{"float32", mk(FromFloat32(Shape{2}, []float32{1.5, -2})), []float32{1.5, -2}},
		{"float16", mk(FromFloat16(Shape{3}, []uint16{0x3c00, 0xc000, 0x3555})), []float32{1, -2, 0.333251953125}},
		{"int64", mk(FromInt64(Shape{2}, []int64{-1 << 24, 1 << 24})), []float32{-16777216, 16777216}},
		{"int32", mk(FromInt32(Shape{2}, []int32{-7, 12})), []float32{-7, 12}},
		{"uint8", mk(FromUint8(Shape{2}, []uint8{0, 255})), []float32{0, 255}},
		{"bool", mk(FromBool(Shape{2}, []bool{true, false})), []float32{1, 0}},
	}
	for _, tt := range tests {
		got, err := tt.x.AsFloat32()
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: AsFloat32() = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}

	bad := []struct {
		name string
		x    *Tensor
		want string
	}{
		{"int64 beyond 2^24", mk(FromInt64(Shape{2, 2}, []int64{0, 0, 0, 1<<24 + 1})), "int64 element 3 [1,1] is 16777217"},
		{"int32 below -2^24", mk(FromInt32(Shape{1}, []int32{-(1<<24 + 1)})), "int32 element 0 is -16777217"},
		{"zero tensor", &Tensor{}, "no data"},
	}
	for _, tt := range bad {
		_, err := tt.x.AsFloat32()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestCheckFinite(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	mk := func(x *Tensor, err error) *Tensor {
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name string
		x    *Tensor
		want string // "" means finite
	}{
		{"finite float32", mk(FromFloat32(Shape{3}, []float32{0, -1, math.MaxFloat32})), ""},
		{"nan first reported", mk(FromFloat32(Shape{2, 3}, []float32{0, 1, 2, nan, inf, 5})), "element 3 [1,0] is NaN"},
		{"inf", mk(FromFloat32(Shape{4}, []float32{0, 0, -inf, 0})), "element 2 is -Inf"},
		{"float16 finite max", mk(FromFloat16(Shape{1}, []uint16{0x7bff})), ""},
		{"float16 inf", mk(FromFloat16(Shape{1, 1, 2}, []uint16{0, 0x7c00})), "element 1 [0,0,1] is +Inf"},
		{"float16 nan", mk(FromFloat16(Shape{1}, []uint16{0xfe00})), "element 0 is NaN"},
		{"ints are finite", mk(FromInt64(Shape{1}, []int64{math.MaxInt64})), ""},
	}
	for _, tt := range tests {
		err := tt.x.CheckFinite()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func BenchmarkCheckFinite(b *testing.B) {
	x := make([]float32, 1<<22)
	for i := range x {
		x[i] = float32(i) * 1e-3
	}
	t, err := FromFloat32(Shape{int64(len(x))}, x)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		if err := t.CheckFinite(); err != nil {
			b.Fatal(err)
		}
	}
}
