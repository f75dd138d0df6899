package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// AnyDim marks a contract dimension that may have any size, fixed or
// dynamic.
const AnyDim = -2

// A Contract is what a stage requires of one engine: the names, element
// types and shapes of the inputs it feeds and the outputs it reads.
//
// A contract dimension is one of:
//   - a size >= 0: the stage feeds exactly that size; a model reporting a
//     fixed size must match it, one reporting Dynamic accepts it;
//   - Dynamic: the stage feeds varying sizes, so the model must be dynamic
//     there;
//   - AnyDim: not checked.
type Contract struct {
	Stage, Engine   string
	Inputs, Outputs []TensorInfo
	// Optional marks an engine that only some modes of the stage use
	// (mesh's full mode): a model directory may leave it out, and is
	// checked against the contract when it has it.
	Optional bool
}

// A Mismatch is one way an engine or a tensor differs from its contract.
type Mismatch struct {
	Stage, Engine string
	IO            string // "input" or "output"
	Tensor        string // the tensor's name
	What          string // "missing", "unexpected", "dtype", "rank", "shape" or "values"
	Got, Want     string
}

func (m *Mismatch) Error() string {
	prefix := fmt.Sprintf("%s/%s: %s %q: ", m.Stage, m.Engine, m.IO, m.Tensor)
	switch {
	case m.Got == "":
		return prefix + m.What + ", want " + m.Want
	case m.Want == "":
		return prefix + m.What + ", got " + m.Got
	}
	return prefix + m.What + " got " + m.Got + ", want " + m.Want
}

func (c Contract) mismatch(io, tensor, what, got, want string) *Mismatch {
	return &Mismatch{Stage: c.Stage, Engine: c.Engine, IO: io, Tensor: tensor, What: what, Got: got, Want: want}
}

// Check compares an engine's reported I/O with the contract and returns one
// *Mismatch per problem, in contract order: a missing input or output, an
// input the stage would not feed, a different element type, rank or
// dimension. Outputs the stage does not read are allowed.
func (c Contract) Check(info Info) []error {
	var errs []error
	errs = c.checkInfos("input", c.Inputs, info.Inputs, errs)
	want := make(map[string]bool, len(c.Inputs))
	for _, w := range c.Inputs {
		want[w.Name] = true
	}
	for _, g := range info.Inputs {
		if !want[g.Name] {
			errs = append(errs, c.mismatch("input", g.Name, "unexpected", describe(g.DType, g.Shape)+" (the stage does not feed it)", ""))
		}
	}
	return c.checkInfos("output", c.Outputs, info.Outputs, errs)
}

func (c Contract) checkInfos(io string, want, got []TensorInfo, errs []error) []error {
	byName := make(map[string]TensorInfo, len(got))
	for _, g := range got {
		byName[g.Name] = g
	}
	for _, w := range want {
		g, ok := byName[w.Name]
		if !ok {
			errs = append(errs, c.mismatch(io, w.Name, "missing", "", describe(w.DType, w.Shape)))
			continue
		}
		if g.DType != w.DType {
			errs = append(errs, c.mismatch(io, w.Name, "dtype", g.DType.String(), w.DType.String()))
		}
		if len(g.Shape) != len(w.Shape) {
			errs = append(errs, c.mismatch(io, w.Name, "rank", rank(g.Shape), rank(w.Shape)))
			continue
		}
		for i, wd := range w.Shape {
			if !modelDimOK(g.Shape[i], wd) {
				errs = append(errs, c.mismatch(io, w.Name, "shape", g.Shape.String(), w.Shape.String()))
				break
			}
		}
	}
	return errs
}

// modelDimOK reports whether a model dimension satisfies a contract one.
func modelDimOK(got, want int64) bool {
	switch {
	case want == AnyDim:
		return true
	case want == Dynamic:
		return got == Dynamic
	}
	return got == want || got == Dynamic
}

// CheckInputs checks tensors about to be fed to the engine: every contract
// input present, with its element type and a shape that fits the contract.
// Tensors the contract does not name are errors too. The error joins one
// *Mismatch per problem.
func (c Contract) CheckInputs(inputs map[string]*Tensor) error {
	errs := c.checkTensors("input", c.Inputs, inputs, false)
	want := make(map[string]bool, len(c.Inputs))
	for _, w := range c.Inputs {
		want[w.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		if !want[name] {
			errs = append(errs, c.mismatch("input", name, "unexpected", describeTensor(inputs[name]), ""))
		}
	}
	return errors.Join(errs...)
}

// CheckOutputs checks tensors an engine returned: every contract output
// present, with its element type and shape, and float outputs free of NaN
// and infinities. Outputs the contract does not name are ignored.
func (c Contract) CheckOutputs(outputs map[string]*Tensor) error {
	return errors.Join(c.checkTensors("output", c.Outputs, outputs, true)...)
}

func (c Contract) checkTensors(io string, want []TensorInfo, got map[string]*Tensor, finite bool) []error {
	var errs []error
	for _, w := range want {
		t, ok := got[w.Name]
		if !ok || t == nil {
			errs = append(errs, c.mismatch(io, w.Name, "missing", "", describe(w.DType, w.Shape)))
			continue
		}
		if t.DType() != w.DType {
			errs = append(errs, c.mismatch(io, w.Name, "dtype", t.DType().String(), w.DType.String()))
			continue
		}
		if len(t.shape) != len(w.Shape) {
			errs = append(errs, c.mismatch(io, w.Name, "rank", rank(t.shape), rank(w.Shape)))
			continue
		}
		shapeOK := true
		for i, wd := range w.Shape {
			if wd >= 0 && t.shape[i] != wd {
				shapeOK = false
				break
			}
		}
		if !shapeOK {
			errs = append(errs, c.mismatch(io, w.Name, "shape", t.shape.String(), w.Shape.String()))
			continue
		}
		if finite {
			if err := t.CheckFinite(); err != nil {
				errs = append(errs, c.mismatch(io, w.Name, "values", err.Error(), "finite"))
			}
		}
	}
	return errs
}

func describe(dt DType, s Shape) string { return dt.String() + " " + s.String() }

func describeTensor(t *Tensor) string {
	if t == nil {
		return "nil tensor"
	}
	return describe(t.dtype, t.shape)
}

func rank(s Shape) string { return fmt.Sprintf("%d (%v)", len(s), s) }
