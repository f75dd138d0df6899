// Package engine is the narrow interface between body4d's stages and the
// neural-network runtimes that execute their models. A stage declares the
// engines it needs as Contracts, asks a Backend to Load model files, and
// runs them with named Tensors. Stages never import a backend.
package engine

import (
	"context"
	"fmt"
	"strings"
)

// DType is the element type of a tensor.
type DType int

// The element types engines exchange.
const (
	Float32 DType = iota + 1
	Float16
	Int64
	Int32
	Uint8
	Bool
)

var dtypeNames = [...]string{Float32: "float32", Float16: "float16", Int64: "int64", Int32: "int32", Uint8: "uint8", Bool: "bool"}

func (d DType) String() string {
	if d > 0 && int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Float16:
		return 2
	case Int64:
		return 8
	case Uint8, Bool:
		return 1
	}
	return 0
}

// Dynamic marks a dimension whose size is chosen at run time.
const Dynamic = -1

// Shape lists a tensor's dimensions; Dynamic (-1) marks a dynamic one. In
// a Contract, AnyDim (-2) marks a dimension that is not checked.
type Shape []int64

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d == AnyDim {
			parts[i] = "*"
		} else if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TensorInfo describes one named input or output of an engine.
type TensorInfo struct {
	Name  string
	DType DType
	Shape Shape
}

// Info lists an engine's inputs and outputs in the model's order.
type Info struct {
	Inputs, Outputs []TensorInfo
}

// Engine is a loaded network. Run is safe for concurrent use unless the
// backend says otherwise.
type Engine interface {
	Info() Info
	// Run executes the network. Every input named in Info must be given;
	// the result holds every output.
	Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error)
	Close() error
}

// Backend loads model files into engines.
type Backend interface {
	Name() string // "onnx", "trt"
	Load(path string) (Engine, error)
}
