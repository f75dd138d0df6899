package ort

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/body4d/body4d/engine"
)

// readInfo reads a model's inputs and outputs from the graph in its ONNX
// file. onnxruntime_go reads them only through a session, which loads the
// weights: Load made one just for this before its own, so every model was
// loaded twice (a 6 GB UNet twice over). This reads the protobuf instead,
// skipping the initializers' data, and lists what a session would: the
// graph's inputs that are not initializers, then its outputs, in order.
//
// One difference: an output dimension the file leaves without value or
// name stays dynamic here, where a session's listing may show the size its
// shape inference found (the tiny detector's query count). A contract
// accepts a dynamic dimension wherever it accepts a fixed one
// (engine.Contract), so no model that passed its contract fails it now.
func readInfo(path string) (engine.Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return engine.Info{}, fmt.Errorf("ort: model %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return engine.Info{}, fmt.Errorf("ort: model %s: %w", path, err)
	}
	ins, outs, err := graphIO(&pbReader{f: f, r: bufio.NewReaderSize(f, 64<<10)}, fi.Size())
	if err != nil {
		return engine.Info{}, fmt.Errorf("ort: %s is not an ONNX model: %w", path, err)
	}
	return infoOf(path, ins, outs)
}

// infoOf is the engine.Info of a model's inputs and outputs as ONNX
// Runtime describes them.
func infoOf(path string, ins, outs []onnx.InputOutputInfo) (engine.Info, error) {
	var info engine.Info
	var err error
	if info.Inputs, err = tensorInfos(path, "input", ins); err != nil {
		return engine.Info{}, err
	}
	if info.Outputs, err = tensorInfos(path, "output", outs); err != nil {
		return engine.Info{}, err
	}
	return info, nil
}

// Field numbers of onnx.proto (ONNX 1.x; stable across versions).
const (
	modelGraph             = 7  // ModelProto.graph
	graphInitializer       = 5  // GraphProto.initializer (TensorProto)
	graphSparseInitializer = 15 // GraphProto.sparse_initializer (SparseTensorProto)
	graphInput             = 11 // GraphProto.input (ValueInfoProto)
	graphOutput            = 12 // GraphProto.output
	tensorName             = 8  // TensorProto.name
	sparseValues           = 1  // SparseTensorProto.values (TensorProto)
	valueName              = 1  // ValueInfoProto.name
	valueType              = 2  // ValueInfoProto.type (TypeProto)
	typeTensor             = 1  // TypeProto.tensor_type
	typeSequence           = 4
	typeMap                = 5
	typeSparseTensor       = 8
	typeOptional           = 9
	tensorElemType         = 1 // TypeProto.Tensor.elem_type (same numbering as ORT's element types)
	tensorShape            = 2 // TypeProto.Tensor.shape
	shapeDim               = 1 // TensorShapeProto.dim
	dimValue               = 1 // Dimension.dim_value; dim_param or neither is a dynamic dimension
)

// graphIO reads the model's graph inputs (less initializers) and outputs.
func graphIO(p *pbReader, size int64) (ins, outs []onnx.InputOutputInfo, err error) {
	var inputs []onnx.InputOutputInfo
	inits := map[string]bool{}
	graphs := 0
	err = p.message(size, func(num, wire int) error {
		if num != modelGraph {
			return p.skipValue(wire)
		}
		graphs++
		return p.nested(wire, func(num, wire int) error {
			switch num {
			case graphInitializer:
				return p.tensorName(wire, inits)
			case graphSparseInitializer:
				return p.nested(wire, func(num, wire int) error {
					if num == sparseValues {
						return p.tensorName(wire, inits)
					}
					return p.skipValue(wire)
				})
			case graphInput, graphOutput:
				v, err := p.valueInfo(wire)
				if err != nil {
					return err
				}
				if num == graphInput {
					inputs = append(inputs, v)
				} else {
					outs = append(outs, v)
				}
				return nil
			}
			return p.skipValue(wire)
		})
	})
	if err != nil {
		return nil, nil, err
	}
	if graphs != 1 {
		return nil, nil, fmt.Errorf("%d graphs, want 1", graphs)
	}
	for _, in := range inputs {
		if !inits[in.Name] {
			ins = append(ins, in)
		}
	}
	return ins, outs, nil
}

// tensorName adds a TensorProto's name to names.
func (p *pbReader) tensorName(wire int, names map[string]bool) error {
	return p.nested(wire, func(num, wire int) error {
		if num != tensorName {
			return p.skipValue(wire)
		}
		s, err := p.str(wire)
		names[s] = true
		return err
	})
}

// valueInfo reads a ValueInfoProto as ORT describes a session's input or
// output: its name, kind, element type and dimensions (-1 when dynamic).
func (p *pbReader) valueInfo(wire int) (onnx.InputOutputInfo, error) {
	v := onnx.InputOutputInfo{OrtValueType: onnx.ONNXTypeUnknown}
	err := p.nested(wire, func(num, wire int) error {
		switch num {
		case valueName:
			s, err := p.str(wire)
			v.Name = s
			return err
		case valueType:
			return p.nested(wire, func(num, wire int) error {
				switch num {
				case typeTensor:
					v.OrtValueType = onnx.ONNXTypeTensor
					return p.tensorType(wire, &v)
				case typeSequence:
					v.OrtValueType = onnx.ONNXTypeSequence
				case typeMap:
					v.OrtValueType = onnx.ONNXTypeMap
				case typeSparseTensor:
					v.OrtValueType = onnx.ONNXTypeSparseTensor
				case typeOptional:
					v.OrtValueType = onnx.ONNXTypeOptional
				}
				return p.skipValue(wire)
			})
		}
		return p.skipValue(wire)
	})
	return v, err
}

func (p *pbReader) tensorType(wire int, v *onnx.InputOutputInfo) error {
	return p.nested(wire, func(num, wire int) error {
		switch num {
		case tensorElemType:
			t, err := p.varintField(wire)
			v.DataType = onnx.TensorElementDataType(t)
			return err
		case tensorShape:
			v.Dimensions = onnx.Shape{}
			return p.nested(wire, func(num, wire int) error {
				if num != shapeDim {
					return p.skipValue(wire)
				}
				d := int64(-1)
				err := p.nested(wire, func(num, wire int) error {
					if num != dimValue {
						return p.skipValue(wire)
					}
					x, err := p.varintField(wire)
					d = int64(x)
					return err
				})
				v.Dimensions = append(v.Dimensions, d)
				return err
			})
		}
		return p.skipValue(wire)
	})
}

// pbReader reads protobuf wire format from a file front to back; skipped
// fields (the weights) are seeked over, not read.
type pbReader struct {
	f   *os.File
	r   *bufio.Reader
	off int64 // file offset of the next byte
}

// Wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireBytes  = 2
	wireI32    = 5
)

// maxName bounds a name read into memory.
const maxName = 1 << 16

var errTruncated = errors.New("truncated")

// message calls field for each field up to end; field consumes the value.
func (p *pbReader) message(end int64, field func(num, wire int) error) error {
	for p.off < end {
		tag, err := p.varint()
		if err != nil {
			return err
		}
		num, wire := tag>>3, int(tag&7)
		if num == 0 || num > 1<<29-1 {
			return fmt.Errorf("field number %d at offset %d", num, p.off)
		}
		if err := field(int(num), wire); err != nil {
			return err
		}
	}
	if p.off != end {
		return fmt.Errorf("a field runs past the end of its message at offset %d", end)
	}
	return nil
}

// nested reads a message-typed field's fields.
func (p *pbReader) nested(wire int, field func(num, wire int) error) error {
	end, err := p.sub(wire)
	if err != nil {
		return err
	}
	return p.message(end, field)
}

// sub is the end offset of a length-delimited field whose length is next.
func (p *pbReader) sub(wire int) (int64, error) {
	if wire != wireBytes {
		return 0, fmt.Errorf("wire type %d at offset %d, want a message", wire, p.off)
	}
	n, err := p.varint()
	if err != nil {
		return 0, err
	}
	if n > 1<<62 {
		return 0, errTruncated
	}
	return p.off + int64(n), nil
}

func (p *pbReader) str(wire int) (string, error) {
	end, err := p.sub(wire)
	if err != nil {
		return "", err
	}
	n := end - p.off
	if n > maxName {
		return "", fmt.Errorf("a name of %d bytes at offset %d", n, p.off)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.r, b); err != nil {
		return "", errTruncated
	}
	p.off = end
	return string(b), nil
}

func (p *pbReader) varintField(wire int) (uint64, error) {
	if wire != wireVarint {
		return 0, fmt.Errorf("wire type %d at offset %d, want a varint", wire, p.off)
	}
	return p.varint()
}

func (p *pbReader) varint() (uint64, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		b, err := p.r.ReadByte()
		if err != nil {
			return 0, errTruncated
		}
		p.off++
		x |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return x, nil
		}
	}
	return 0, fmt.Errorf("a varint longer than 10 bytes at offset %d", p.off)
}

func (p *pbReader) skipValue(wire int) error {
	switch wire {
	case wireVarint:
		_, err := p.varint()
		return err
	case wireI64:
		return p.skip(8)
	case wireI32:
		return p.skip(4)
	case wireBytes:
		end, err := p.sub(wire)
		if err != nil {
			return err
		}
		return p.skip(end - p.off)
	}
	return fmt.Errorf("wire type %d at offset %d", wire, p.off)
}

// skip moves n bytes on: within the buffer by discarding, past it by
// seeking the file (a seek past its end shows as truncation at the next read
// or at the end of the message).
func (p *pbReader) skip(n int64) error {
	if n <= int64(p.r.Buffered()) {
		_, err := p.r.Discard(int(n))
		p.off += n
		return err
	}
	if _, err := p.f.Seek(p.off+n, io.SeekStart); err != nil {
		return err
	}
	p.r.Reset(p.f)
	p.off += n
	return nil
}
