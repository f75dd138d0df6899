package engine

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A Tensor is a dense, row-major array of one element type. It owns a typed
// Go slice ([]float32, []uint16 holding float16 bits, []int64, []int32,
// []uint8 or []bool); the accessors return that slice itself, so backends
// can hand it to a runtime without copying.
type Tensor struct {
	dtype DType
	shape Shape
	data  any
}

// New returns a zeroed tensor of the given type and shape. Every dimension
// must be concrete (>= 0).
func New(dt DType, shape Shape) (*Tensor, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	var data any
	switch dt {
	case Float32:
		data = make([]float32, n)
	case Float16:
		data = make([]uint16, n)
	case Int64:
		data = make([]int64, n)
	case Int32:
		data = make([]int32, n)
	case Uint8:
		data = make([]uint8, n)
	case Bool:
		data = make([]bool, n)
	default:
		return nil, fmt.Errorf("engine: cannot make a tensor of unknown element type %v", dt)
	}
	return &Tensor{dtype: dt, shape: cloneShape(shape), data: data}, nil
}

// FromFloat32 returns a float32 tensor that uses data as its storage
// (no copy). len(data) must equal the number of elements of shape.
func FromFloat32(shape Shape, data []float32) (*Tensor, error) {
	return wrap(Float32, shape, data, len(data))
}

// FromFloat16 returns a float16 tensor whose elements are the IEEE 754
// half-precision bit patterns in data (no copy).
func FromFloat16(shape Shape, data []uint16) (*Tensor, error) {
	return wrap(Float16, shape, data, len(data))
}

// FromInt64 returns an int64 tensor that uses data as its storage (no copy).
func FromInt64(shape Shape, data []int64) (*Tensor, error) {
	return wrap(Int64, shape, data, len(data))
}

// FromInt32 returns an int32 tensor that uses data as its storage (no copy).
func FromInt32(shape Shape, data []int32) (*Tensor, error) {
	return wrap(Int32, shape, data, len(data))
}

// FromUint8 returns a uint8 tensor that uses data as its storage (no copy).
func FromUint8(shape Shape, data []uint8) (*Tensor, error) {
	return wrap(Uint8, shape, data, len(data))
}

// FromBool returns a bool tensor that uses data as its storage (no copy).
func FromBool(shape Shape, data []bool) (*Tensor, error) {
	return wrap(Bool, shape, data, len(data))
}

// Must returns t and panics if err is not nil, as template.Must does. It
// wraps the From functions where the caller sized data from the shape
// itself, so that a mismatch is a bug in the caller, not bad input.
func Must(t *Tensor, err error) *Tensor {
	if err != nil {
		panic(err)
	}
	return t
}

func wrap(dt DType, shape Shape, data any, n int) (*Tensor, error) {
	want, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	if n != want {
		return nil, fmt.Errorf("engine: shape %v holds %d elements, but %d %v values were given", shape, want, n, dt)
	}
	return &Tensor{dtype: dt, shape: cloneShape(shape), data: data}, nil
}

// numElements returns the product of the dimensions of a concrete shape.
func numElements(shape Shape) (int, error) {
	n := 1
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("engine: shape %v: dimension %d is %d; a tensor needs concrete sizes", shape, i, d)
		}
		if d > 0 && n > math.MaxInt/int(d) {
			return 0, fmt.Errorf("engine: shape %v has too many elements", shape)
		}
		n *= int(d)
	}
	return n, nil
}

func cloneShape(s Shape) Shape {
	return append(Shape{}, s...)
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() Shape { return cloneShape(t.shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	switch d := t.data.(type) {
	case []float32:
		return len(d)
	case []uint16:
		return len(d)
	case []int64:
		return len(d)
	case []int32:
		return len(d)
	case []uint8:
		return len(d)
	case []bool:
		return len(d)
	}
	return 0
}

// Float32 returns the storage of a float32 tensor, or nil for other types.
func (t *Tensor) Float32() []float32 { d, _ := t.data.([]float32); return d }

// Float16 returns the half-precision bit patterns of a float16 tensor, or
// nil for other types.
func (t *Tensor) Float16() []uint16 { d, _ := t.data.([]uint16); return d }

// Int64 returns the storage of an int64 tensor, or nil for other types.
func (t *Tensor) Int64() []int64 { d, _ := t.data.([]int64); return d }

// Int32 returns the storage of an int32 tensor, or nil for other types.
func (t *Tensor) Int32() []int32 { d, _ := t.data.([]int32); return d }

// Uint8 returns the storage of a uint8 tensor, or nil for other types.
func (t *Tensor) Uint8() []uint8 { d, _ := t.data.([]uint8); return d }

// Bool returns the storage of a bool tensor, or nil for other types.
func (t *Tensor) Bool() []bool { d, _ := t.data.([]bool); return d }

// maxExactInt is the largest magnitude up to which every integer is a
// float32 (2^24).
const maxExactInt = 1 << 24

// AsFloat32 returns the elements as float32. A float32 tensor returns its
// own storage; other types return a new slice (bool as 0 or 1). Integers
// whose magnitude exceeds 2^24 are not all representable in float32, so
// such a value is an error rather than a silent rounding.
func (t *Tensor) AsFloat32() ([]float32, error) {
	switch d := t.data.(type) {
	case []float32:
		return d, nil
	case []uint16:
		out := make([]float32, len(d))
		for i, h := range d {
			out[i] = Float16ToFloat32(h)
		}
		return out, nil
	case []int64:
		out := make([]float32, len(d))
		for i, v := range d {
			if v > maxExactInt || v < -maxExactInt {
				return nil, fmt.Errorf("engine: int64 element %s is %d, not exact in float32", t.position(i), v)
			}
			out[i] = float32(v)
		}
		return out, nil
	case []int32:
		out := make([]float32, len(d))
		for i, v := range d {
			if v > maxExactInt || v < -maxExactInt {
				return nil, fmt.Errorf("engine: int32 element %s is %d, not exact in float32", t.position(i), v)
			}
			out[i] = float32(v)
		}
		return out, nil
	case []uint8:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	case []bool:
		out := make([]float32, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	}
	return nil, errors.New("engine: AsFloat32 of a tensor with no data (not made by New or From*)")
}

// CheckFinite reports the first NaN or infinite element of a float tensor.
// Tensors of other types are always finite.
func (t *Tensor) CheckFinite() error {
	switch d := t.data.(type) {
	case []float32:
		// An all-ones exponent is NaN or ±Inf. Testing the bits is about
		// twice as fast as math.IsNaN/IsInf on the float64, and every
		// output of every engine call goes through here.
		for i, v := range d {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
				return fmt.Errorf("element %s is %v", t.position(i), v)
			}
		}
	case []uint16:
		for i, h := range d {
			if h&0x7c00 == 0x7c00 {
				return fmt.Errorf("element %s is %v", t.position(i), Float16ToFloat32(h))
			}
		}
	}
	return nil
}

// position formats flat index i with its multi-dimensional index,
// e.g. "5 [0,1,2]".
func (t *Tensor) position(i int) string {
	if len(t.shape) < 2 {
		return strconv.Itoa(i)
	}
	idx := make([]string, len(t.shape))
	rem := i
	for k := len(t.shape) - 1; k >= 0; k-- {
		d := int(t.shape[k])
		idx[k] = strconv.Itoa(rem % d)
		rem /= d
	}
	return strconv.Itoa(i) + " [" + strings.Join(idx, ",") + "]"
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32. The
// conversion is exact, including subnormals, infinities and NaN payloads.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload in the top mantissa bits.
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127.
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: mant * 2^-24, a normal float32. Shift the leading one
	// into the implicit bit position.
	e := uint32(113) // exponent of 2^-14, the smallest normal half
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToFloat16 converts a float32 to the nearest IEEE 754
// half-precision value, rounding ties to even. Values beyond the half range
// become infinities, tiny values become subnormals or zero, and NaN stays
// NaN (keeping the top payload bits, made quiet if they would vanish).
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127 + 15 // rebiased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): the result is round(value / 2^-24).
		// With the implicit bit, value = full * 2^(exp-150), so shift full
		// right by 126-exp.
		if e < -10 {
			// Below half of the smallest subnormal (2^-25): rounds to zero.
			// (e == -10 is 2^-25..2^-24 and is handled by the shift below.)
			return sign
		}
		full := mant | 0x800000
		shift := uint32(126 - exp)
		return sign | uint16(roundShift(full, shift))
	}
	// Normal: keep 10 mantissa bits, round on the 13 dropped ones. A carry
	// out of the mantissa correctly bumps the exponent (and may reach Inf).
	r := roundShift(uint32(e)<<23|mant, 13)
	return sign | uint16(r)
}

// roundShift returns v >> s rounded to nearest, ties to even.
func roundShift(v, s uint32) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}
