package resample

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// fixture is one resize made by Pillow or OpenCV
// (tools/golden/resample/make_fixtures.py).
type fixture struct {
	Lib, Filter     string
	W, H, C, OW, OH int
	In              []float64
	Out             []float64
}

func (f fixture) String() string {
	return fmt.Sprintf("%s %s %d×%d×%d→%d×%d", f.Lib, f.Filter, f.W, f.H, f.C, f.OW, f.OH)
}

func bytesOf(v []float64) []uint8 {
	b := make([]uint8, len(v))
	for i, x := range v {
		b[i] = uint8(x)
	}
	return b
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	b, err := os.ReadFile("../../testdata/resample/fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Cases []fixture }
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Cases) == 0 {
		t.Fatal("no fixtures")
	}
	return meta.Cases
}

// TestPillow: Resizer and Nearest give Pillow's bytes exactly, for one
// and three channels, shrinking, enlarging, one axis only and the same
// size.
func TestPillow(t *testing.T) {
	n := 0
	for _, f := range loadFixtures(t) {
		if f.Lib != "pil" {
			continue
		}
		n++
		src := bytesOf(f.In)
		var got []uint8
		switch f.Filter {
		case "nearest":
			got = Nearest(src, f.W, f.H, f.OW, f.OH)
		case "bilinear":
			got = NewResizer(f.W, f.H, f.OW, f.OH, f.C, Bilinear).Resize(src, f.W*f.C)
		case "bicubic":
			got = NewResizer(f.W, f.H, f.OW, f.OH, f.C, Bicubic).Resize(src, f.W*f.C)
		default:
			t.Fatalf("%v: unknown filter", f)
		}
		if want := bytesOf(f.Out); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%v:\n got %v\nwant %v", f, got, want)
		}
		src[0]++
		if got[0] == src[0] && len(got) == len(src) && f.OW == f.W && f.OH == f.H {
			t.Errorf("%v: a same-size resize shares its input", f)
		}
	}
	if n < 20 {
		t.Fatalf("%d Pillow fixtures", n)
	}
}

// TestResizerSplit: the horizontal and vertical passes run over row
// ranges in any split, on a sub-image with padded rows, give Resize's
// bytes.
func TestResizerSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		w, h, c := 1+r.IntN(40), 1+r.IntN(40), 1+r.IntN(4)
		ow, oh := 1+r.IntN(50), 1+r.IntN(50)
		stride := w*c + r.IntN(9)
		src := make([]uint8, h*stride)
		for i := range src {
			src[i] = uint8(r.IntN(256))
		}
		packed := make([]uint8, 0, w*h*c)
		for y := range h {
			packed = append(packed, src[y*stride:y*stride+w*c]...)
		}
		for _, f := range []Filter{Bilinear, Bicubic} {
			rs := NewResizer(w, h, ow, oh, c, f)
			want := rs.Resize(packed, w*c)
			tmp := make([]uint8, rs.Rows()*ow*c)
			cut := r.IntN(rs.Rows() + 1)
			rs.Horizontal(src, stride, tmp, cut, rs.Rows())
			rs.Horizontal(src, stride, tmp, 0, cut)
			row := make([]uint8, ow*c)
			for yy := oh - 1; yy >= 0; yy-- {
				got := rs.Vertical(tmp, yy, row)
				if fmt.Sprint(got) != fmt.Sprint(want[yy*ow*c:(yy+1)*ow*c]) {
					t.Fatalf("%d×%d×%d→%d×%d filter %d: row %d differs", w, h, c, ow, oh, f, yy)
				}
			}
		}
	}
}

// TestResizerUniform: a uniform image stays uniform whatever the sizes
// (the fixed-point taps of every output sum to one).
func TestResizerUniform(t *testing.T) {
	src := make([]uint8, 7*5*3)
	for i := range src {
		src[i] = uint8(40 + i%3)
	}
	for _, f := range []Filter{Bilinear, Bicubic} {
		for _, sz := range [][2]int{{11, 13}, {3, 2}, {1, 1}, {1008, 3}} {
			for i, v := range NewResizer(7, 5, sz[0], sz[1], 3, f).Resize(src, 21) {
				if v != uint8(40+i%3) {
					t.Fatalf("filter %d to %v: byte %d is %d", f, sz, i, v)
				}
			}
		}
	}
}

// TestTaps: torch's antialiased bilinear weights on a ramp 0..7 resized
// to 4 (support 2: interior outputs average symmetric taps to c−0.5,
// border ones renormalise the taps that exist), and taps sum to 1.
func TestTaps(t *testing.T) {
	tp := NewTaps(8, 4, Bilinear)
	want := []float64{5.0 / 7, 2.5, 4.5, 44.0 / 7}
	for i, v := range want {
		var s, ws float64
		for k, w := range tp.W[i*tp.Size : i*tp.Size+tp.N[i]] {
			s += w * float64(tp.Start[i]+k)
			ws += w
		}
		if math.Abs(s-v) > 1e-12 || math.Abs(ws-1) > 1e-12 {
			t.Errorf("output %d: %v (weights sum %v), want %v", i, s, ws, v)
		}
	}
	// Enlarging: the filter is not widened, two taps per output.
	up := NewTaps(3, 7, Bilinear)
	if up.Size != 3 || up.Start[0] != 0 || up.N[3] != 2 {
		t.Errorf("3→7 taps %+v", up)
	}
}

func TestInterpolateTap(t *testing.T) {
	// ATen, align_corners=False: src = (dst+0.5)·in/out − 0.5, clamped at 0.
	for _, c := range []struct {
		dst, out, in, i0, i1 int
		w1                   float32
	}{
		{0, 100, 28, 0, 1, 0},
		{50, 100, 28, 13, 14, 0.64},
		{99, 100, 28, 27, 27, 0.36},
		{3, 5, 5, 3, 4, 0},
		{4, 5, 5, 4, 4, 0},
	} {
		l := InterpolateTap(c.dst, c.in, c.out)
		if l.I0 != c.i0 || l.I1 != c.i1 || math.Abs(float64(l.W1-c.w1)) > 1e-5 || math.Abs(float64(l.W0+l.W1-1)) > 1e-6 {
			t.Errorf("InterpolateTap(%d, %d→%d) = %+v, want i0 %d i1 %d w1 %v", c.dst, c.in, c.out, l, c.i0, c.i1, c.w1)
		}
	}
	// 2×2 → 4×4: output pixel centres at source −0.25, 0.25, 0.75, 1.25,
	// clamped at 0.
	dst := make([]float32, 16)
	InterpolateBilinear([]float32{0, 1, 2, 3}, 2, 2, 4, 4, dst)
	want := []float32{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}
	if fmt.Sprint(dst) != fmt.Sprint(want) {
		t.Errorf("bilinear 2×2→4×4: %v, want %v", dst, want)
	}
}

// TestCV: cv2's INTER_CUBIC on float64 to 1e-12, INTER_LINEAR on bytes
// within one level (cv2 rounds its 11-bit fixed point, we the float).
func TestCV(t *testing.T) {
	n := 0
	for _, f := range loadFixtures(t) {
		if f.Lib != "cv2" {
			continue
		}
		n++
		switch f.Filter {
		case "cubic":
			got := CVResizeCubic(f.In, f.W, f.H, f.C, f.OW, f.OH)
			for i, w := range f.Out {
				if math.Abs(got[i]-w) > 1e-12 {
					t.Errorf("%v: [%d] = %.17g, cv2 gives %.17g", f, i, got[i], w)
				}
			}
		case "linear":
			got := CVResizeLinear(bytesOf(f.In), f.W, f.H, f.C, f.OW, f.OH)
			for i, w := range f.Out {
				if d := int(got[i]) - int(w); d < -1 || d > 1 {
					t.Errorf("%v: [%d] = %d, cv2 gives %v", f, i, got[i], w)
				}
			}
		}
	}
	if n != 4 {
		t.Fatalf("%d cv2 fixtures, want 4", n)
	}
}

func TestAligned(t *testing.T) {
	src := []float32{0, 1, 4, 9}
	up := InterpolateBilinearAligned(src, 4, 1, 7, 1)
	if want := "[0 0.5 1 2.5 4 6.5 9]"; fmt.Sprint(up) != want {
		t.Errorf("bilinear align_corners 4→7: %v, want %s", up, want)
	}
	// Bicubic with align_corners keeps the end samples and the samples
	// that land on input pixels.
	bc := InterpolateBicubicAligned(src, 4, 1, 7, 1)
	for i, w := range map[int]float32{0: 0, 2: 1, 4: 4, 6: 9} {
		if bc[i] != w {
			t.Errorf("bicubic align_corners 4→7 [%d] = %g, want %g", i, bc[i], w)
		}
	}
	for i, want := range []int{2, 1, 0, 1, 2, 3, 2, 1, 0} { // -2..6, torch "reflect" padding
		if got := reflect(i-2, 4); got != want {
			t.Errorf("reflect(%d, 4) = %d, want %d", i-2, got, want)
		}
	}
	// The blur keeps a constant plane constant.
	flat := make([]float32, 40*30)
	for i := range flat {
		flat[i] = 0.25
	}
	for i, v := range ResizeWithAntialiasing(flat, 40, 30, 7, 5) {
		if math.Abs(float64(v)-0.25) > 1e-6 {
			t.Fatalf("antialiased resize of a constant: [%d] = %v", i, v)
		}
	}
}
