package engine

import (
	"errors"
	"math"
	"strings"
	"testing"
)

var encoder = Contract{
	Stage:  "segment",
	Engine: "image_encoder",
	Inputs: []TensorInfo{
		{Name: "img", DType: Float32, Shape: Shape{1, 3, 1008, 1008}},
		{Name: "points", DType: Float32, Shape: Shape{Dynamic, 2}},
		{Name: "labels", DType: Int64, Shape: Shape{AnyDim}},
	},
	Outputs: []TensorInfo{
		{Name: "masks", DType: Float32, Shape: Shape{Dynamic, 1, 288, 288}},
	},
}

func goodInfo() Info {
	return Info{
		Inputs: []TensorInfo{
			{Name: "img", DType: Float32, Shape: Shape{1, 3, 1008, 1008}},
			{Name: "points", DType: Float32, Shape: Shape{Dynamic, 2}},
			{Name: "labels", DType: Int64, Shape: Shape{5}},
		},
		Outputs: []TensorInfo{
			{Name: "masks", DType: Float32, Shape: Shape{Dynamic, 1, 288, 288}},
			{Name: "debug", DType: Float16, Shape: Shape{7}},
		},
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Info)
		want   []string // the messages, in order
	}{
		{"match (extra output allowed, AnyDim fixed)", func(*Info) {}, nil},
		{"dynamic model dim accepts fixed contract dim", func(i *Info) { i.Inputs[0].Shape = Shape{Dynamic, 3, Dynamic, Dynamic} }, nil},
		{"AnyDim accepts dynamic", func(i *Info) { i.Inputs[2].Shape = Shape{Dynamic} }, nil},
		{"fixed dim differs", func(i *Info) { i.Inputs[0].Shape = Shape{1, 3, 512, 512} },
			[]string{`segment/image_encoder: input "img": shape got [1,3,512,512], want [1,3,1008,1008]`}},
		{"model fixed where the stage needs dynamic", func(i *Info) { i.Inputs[1].Shape = Shape{4, 2} },
			[]string{`segment/image_encoder: input "points": shape got [4,2], want [?,2]`}},
		{"rank differs", func(i *Info) { i.Outputs[0].Shape = Shape{Dynamic, 288, 288} },
			[]string{`segment/image_encoder: output "masks": rank got 3 ([?,288,288]), want 4 ([?,1,288,288])`}},
		{"dtype differs", func(i *Info) { i.Inputs[2].DType = Int32 },
			[]string{`segment/image_encoder: input "labels": dtype got int32, want int64`}},
		{"dtype and shape both reported", func(i *Info) { i.Inputs[0].DType = Float16; i.Inputs[0].Shape[1] = 4 },
			[]string{`input "img": dtype got float16, want float32`, `input "img": shape got [1,4,1008,1008], want [1,3,1008,1008]`}},
		{"missing input", func(i *Info) { i.Inputs = i.Inputs[1:] },
			[]string{`segment/image_encoder: input "img": missing, want float32 [1,3,1008,1008]`}},
		{"unexpected input", func(i *Info) { i.Inputs = append(i.Inputs, TensorInfo{Name: "extra", DType: Bool, Shape: Shape{1}}) },
			[]string{`segment/image_encoder: input "extra": unexpected, got bool [1] (the stage does not feed it)`}},
		{"missing output", func(i *Info) { i.Outputs = i.Outputs[1:] },
			[]string{`segment/image_encoder: output "masks": missing, want float32 [?,1,288,288]`}},
		{"several problems", func(i *Info) {
			i.Inputs[0].Shape = Shape{1, 3, 1, 1}
			i.Inputs[2].DType = Float32
			i.Outputs = nil
		}, []string{`input "img": shape`, `input "labels": dtype`, `output "masks": missing`}},
	}
	for _, tt := range tests {
		info := goodInfo()
		tt.change(&info)
		errs := encoder.Check(info)
		if len(errs) != len(tt.want) {
			t.Errorf("%s: got %d errors %v, want %d", tt.name, len(errs), errs, len(tt.want))
			continue
		}
		for i, err := range errs {
			var m *Mismatch
			if !errors.As(err, &m) {
				t.Errorf("%s: error %v is not a *Mismatch", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.want[i]) {
				t.Errorf("%s: error %d = %q, want it to contain %q", tt.name, i, err, tt.want[i])
			}
		}
	}
}

func TestMismatchFields(t *testing.T) {
	info := goodInfo()
	info.Inputs[0].Shape = Shape{1, 3, 512, 512}
	errs := encoder.Check(info)
	if len(errs) != 1 {
		t.Fatalf("got %v", errs)
	}
	m := errs[0].(*Mismatch)
	want := Mismatch{Stage: "segment", Engine: "image_encoder", IO: "input", Tensor: "img", What: "shape", Got: "[1,3,512,512]", Want: "[1,3,1008,1008]"}
	if *m != want {
		t.Errorf("got %+v, want %+v", *m, want)
	}
}

// must returns a function that unwraps a tensor constructor's results,
// failing t on error.
func must(t *testing.T) func(*Tensor, error) *Tensor {
	return func(x *Tensor, err error) *Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
}

var small = Contract{
	Stage:  "fov",
	Engine: "moge",
	Inputs: []TensorInfo{
		{Name: "image", DType: Float32, Shape: Shape{1, 3, Dynamic, Dynamic}},
		{Name: "tokens", DType: Int64, Shape: Shape{AnyDim}},
	},
	Outputs: []TensorInfo{
		{Name: "points", DType: Float32, Shape: Shape{1, Dynamic, 3}},
		{Name: "mask", DType: Bool, Shape: Shape{1, Dynamic}},
	},
}

func TestCheckInputs(t *testing.T) {
	mk := must(t)
	image := mk(New(Float32, Shape{1, 3, 4, 6}))
	tokens := mk(New(Int64, Shape{9}))
	tests := []struct {
		name   string
		inputs map[string]*Tensor
		want   []string
	}{
		{"ok", map[string]*Tensor{"image": image, "tokens": tokens}, nil},
		{"missing", map[string]*Tensor{"image": image},
			[]string{`fov/moge: input "tokens": missing, want int64 [*]`}},
		{"nil tensor is missing", map[string]*Tensor{"image": image, "tokens": nil},
			[]string{`input "tokens": missing`}},
		{"dtype", map[string]*Tensor{"image": mk(New(Float16, Shape{1, 3, 4, 6})), "tokens": tokens},
			[]string{`fov/moge: input "image": dtype got float16, want float32`}},
		{"fixed dim", map[string]*Tensor{"image": mk(New(Float32, Shape{2, 3, 4, 6})), "tokens": tokens},
			[]string{`fov/moge: input "image": shape got [2,3,4,6], want [1,3,?,?]`}},
		{"rank", map[string]*Tensor{"image": image, "tokens": mk(New(Int64, Shape{1, 9}))},
			[]string{`fov/moge: input "tokens": rank got 2 ([1,9]), want 1 ([*])`}},
		{"unexpected", map[string]*Tensor{"image": image, "tokens": tokens, "zeta": tokens, "alpha": nil},
			[]string{`input "alpha": unexpected, got nil tensor`, `input "zeta": unexpected, got int64 [9]`}},
	}
	for _, tt := range tests {
		checkJoined(t, tt.name, small.CheckInputs(tt.inputs), tt.want)
	}
}

func TestCheckOutputs(t *testing.T) {
	mk := must(t)
	points := mk(New(Float32, Shape{1, 5, 3}))
	mask := mk(New(Bool, Shape{1, 5}))
	nanPoints := mk(FromFloat32(Shape{1, 1, 3}, []float32{0, float32(math.NaN()), 0}))
	tests := []struct {
		name    string
		outputs map[string]*Tensor
		want    []string
	}{
		{"ok, extra ignored", map[string]*Tensor{"points": points, "mask": mask, "extra": nanPoints}, nil},
		{"nan", map[string]*Tensor{"points": nanPoints, "mask": mask},
			[]string{`fov/moge: output "points": values got element 1 [0,0,1] is NaN, want finite`}},
		{"missing and shape", map[string]*Tensor{"mask": mk(New(Bool, Shape{2, 5}))},
			[]string{`output "points": missing`, `output "mask": shape got [2,5], want [1,?]`}},
		{"dtype", map[string]*Tensor{"points": points, "mask": mk(New(Uint8, Shape{1, 5}))},
			[]string{`output "mask": dtype got uint8, want bool`}},
	}
	for _, tt := range tests {
		checkJoined(t, tt.name, small.CheckOutputs(tt.outputs), tt.want)
	}
}

// checkJoined checks that err joins exactly the *Mismatch errors wanted,
// in order.
func checkJoined(t *testing.T, name string, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: no error, want %q", name, want)
		return
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%s: error %v does not join errors", name, err)
	}
	errs := joined.Unwrap()
	if len(errs) != len(want) {
		t.Errorf("%s: got %d errors %v, want %d", name, len(errs), errs, len(want))
		return
	}
	for i, e := range errs {
		if _, ok := e.(*Mismatch); !ok {
			t.Errorf("%s: error %v is not a *Mismatch", name, e)
		}
		if !strings.Contains(e.Error(), want[i]) {
			t.Errorf("%s: error %d = %q, want it to contain %q", name, i, e, want[i])
		}
	}
}
