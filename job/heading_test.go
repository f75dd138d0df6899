package job

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/body4d/body4d/internal/rigtest"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/scene"
)

// meshRotation recovers the rotation R with b ≈ R·a + t between two
// vertex sets of one rigid body (the polar factor of their
// cross-covariance, by Higham's iteration), and the worst residual.
func meshRotation(a, b []float32) ([3][3]float64, float64) {
	n := len(a) / 3
	var ca, cb [3]float64
	for i := range n {
		for k := range 3 {
			ca[k] += float64(a[3*i+k]) / float64(n)
			cb[k] += float64(b[3*i+k]) / float64(n)
		}
	}
	var h [3][3]float64 // Σ (b−cb)(a−ca)ᵀ
	for i := range n {
		for r := range 3 {
			for c := range 3 {
				h[r][c] += (float64(b[3*i+r]) - cb[r]) * (float64(a[3*i+c]) - ca[c])
			}
		}
	}
	r := h
	for range 100 {
		// R ← (R + R⁻ᵀ)/2; R⁻ᵀ is the cofactor matrix over the determinant.
		var cof [3][3]float64
		for i := range 3 {
			for j := range 3 {
				i1, i2, j1, j2 := (i+1)%3, (i+2)%3, (j+1)%3, (j+2)%3
				cof[i][j] = r[i1][j1]*r[i2][j2] - r[i1][j2]*r[i2][j1]
			}
		}
		det := r[0][0]*cof[0][0] + r[0][1]*cof[0][1] + r[0][2]*cof[0][2]
		for i := range 3 {
			for j := range 3 {
				r[i][j] = (r[i][j] + cof[i][j]/det) / 2
			}
		}
	}
	worst := 0.0
	for i := range n {
		for k := range 3 {
			p := cb[k]
			for c := range 3 {
				p += r[k][c] * (float64(a[3*i+c]) - ca[c])
			}
			worst = math.Max(worst, math.Abs(p-float64(b[3*i+k])))
		}
	}
	return r, worst
}

// TestHeading checks each frame's heading against the rotation recovered
// from the posed meshes themselves: the body turned by its root rotation
// relative to the rest body, whose forward is MHR's +Z (camera −z).
func TestHeading(t *testing.T) {
	body := &mesh.Body{Model: rigtest.Model(t)}
	fwd, err := newRootForward(body.Model)
	if err != nil {
		t.Fatal(err)
	}
	// A known camera-to-world transform: Y up (camera y down), then a
	// yaw of 0.6 rad about world Y and a shift.
	beta := 0.6
	c, s := math.Cos(beta), math.Sin(beta)
	toWorld := [3][4]float64{{c, 0, -s, 0.3}, {0, -1, 0, 1.5}, {-s, 0, -c, -2}}
	var rest scene.Params
	rest.CamT = [3]float64{0.1, 0.2, 4}
	m0, err := body.Mesh(rest)
	if err != nil {
		t.Fatal(err)
	}
	if h := heading(toWorld, mustForward(t, fwd, rest)); math.Abs(h-beta) > 1e-9 {
		t.Errorf("rest body heading %.6f, want %.6f (facing the camera)", h, beta)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 20 {
		p := rest
		for k := 3; k < 6; k++ {
			p.Model[k] = float32(rng.NormFloat64() * 1.2)
		}
		m, err := body.Mesh(p)
		if err != nil {
			t.Fatal(err)
		}
		r, res := meshRotation(m0.Vertices, m.Vertices)
		if res > 1e-4 {
			t.Fatalf("case %d: the root rotation is not rigid on the mesh (residual %.2g m)", i, res)
		}
		// Rest forward in the camera is (0, 0, −1); the mesh turns it by r.
		want := heading(toWorld, [3]float64{-r[0][2], -r[1][2], -r[2][2]})
		got := heading(toWorld, mustForward(t, fwd, p))
		d := math.Remainder(got-want, 2*math.Pi)
		if math.Abs(d) > 1e-4 {
			t.Errorf("case %d: heading %.5f rad, the mesh turned to %.5f", i, got, want)
		}
	}
}

func mustForward(t *testing.T, f *rootForward, p scene.Params) [3]float64 {
	t.Helper()
	d, err := f.forward(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
