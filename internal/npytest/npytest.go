// Package npytest reads the NumPy golden files of body4d's tests.
package npytest

import (
	"os"
	"testing"

	"codeberg.org/sbinet/npyio"
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
