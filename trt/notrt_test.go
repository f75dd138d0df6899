//go:build !tensorrt

package trt

import (
	"errors"
	"testing"

	"github.com/body4d/body4d/engine"
)

var _ engine.Backend = (*Backend)(nil)

func TestNotBuilt(t *testing.T) {
	if _, err := Open(Options{}); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("Open: err = %v, want ErrNotBuilt", err)
	}
	var b Backend
	if b.Name() != "trt" {
		t.Errorf("Name = %q", b.Name())
	}
	if _, err := b.Load("model.plan"); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("Load: err = %v, want ErrNotBuilt", err)
	}
	if want := "body4d was built without TensorRT support (build tag tensorrt)"; ErrNotBuilt.Error() != want {
		t.Errorf("ErrNotBuilt = %q, want %q", ErrNotBuilt, want)
	}
}
