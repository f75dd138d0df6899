// Package npytest reads the NumPy golden files of body4d's tests.
package npytest

import (
	"bufio"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"codeberg.org/sbinet/npyio/npy"
)

// Read returns the flat contents of the .npy file at path, failing the
// test with the file named when it cannot.
func Read[T any](tb testing.TB, path string) []T {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var v []T
	if err := npyio.Read(f, &v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return v
}

// Plain are the element types ReadShape reads.
type Plain interface {
	uint8 | int32 | int64 | float32 | float64
}

// ReadShape returns the flat contents and the shape of a C-order,
// little-endian .npy file whose dtype is exactly T's. It reads the data
// in one binary.Read: Read goes element by element through reflection,
// which takes minutes on the frames and noise of a whole clip.
func ReadShape[T Plain](tb testing.TB, path string) ([]T, []int) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	r, err := npy.NewReader(br)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	d := r.Header.Descr
	var zero T
	want := map[any]string{uint8(0): "|u1", int32(0): "<i4", int64(0): "<i8", float32(0): "<f4", float64(0): "<f8"}[any(zero)]
	if typ := strings.Trim(d.Type, `'"`); typ != want || d.Fortran {
		tb.Fatalf("%s: dtype %s (Fortran order %v), want %s in C order", path, typ, d.Fortran, want)
	}
	n := 1
	for _, s := range d.Shape {
		n *= s
	}
	v := make([]T, n)
	if err := binary.Read(br, binary.LittleEndian, v); err != nil {
		tb.Fatalf("%s: reading %d values: %v", path, n, err)
	}
	return v, d.Shape
}
