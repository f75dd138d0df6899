package npytest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"codeberg.org/sbinet/npyio"
)

func write(t *testing.T, name string, v any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npyio.Write(f, v); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadShape: the fast reader gives what the reflection reader gives.
func TestReadShape(t *testing.T) {
	u8 := write(t, "u8.npy", []uint8{0, 1, 2, 255})
	got, shape := ReadShape[uint8](t, u8)
	if !slices.Equal(got, Read[uint8](t, u8)) || !slices.Equal(shape, []int{4}) {
		t.Errorf("uint8: %v %v", got, shape)
	}
	f4 := write(t, "f4.npy", []float32{-1.5, 0, 3.25e-7})
	if got, _ := ReadShape[float32](t, f4); !slices.Equal(got, Read[float32](t, f4)) {
		t.Errorf("float32: %v", got)
	}
	i8 := write(t, "i8.npy", []int64{-3, 1 << 40})
	if got, _ := ReadShape[int64](t, i8); !slices.Equal(got, []int64{-3, 1 << 40}) {
		t.Errorf("int64: %v", got)
	}
}
