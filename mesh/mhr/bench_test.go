package mhr

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// lod1Sizes returns MHR LOD1's sizes (reference notes, mesh-fov.md B).
func lod1Sizes() randomSizes {
	return randomSizes{
		verts: 18439, joints: 127, faces: 36874, skin: 51337,
		hidden: 3000, corrNNZ: 53136, keypoints: 70,
	}
}

type randomSizes struct {
	verts, joints, faces, skin, hidden, corrNNZ, keypoints int
}

// randomAssets builds a random MHR-like character of the given sizes:
// parents before children, a rigid root, one parameter per rotation
// channel and per joint scale, random sparse couplings, random skinning,
// blendshapes and (if hidden > 0) correctives.
func randomAssets(rng *rand.Rand, z randomSizes) *Assets {
	V, J, P := z.verts, z.joints, 204
	a := &Assets{
		NumVertices: V, NumJoints: J, NumModelParams: P,
		NumIdentity: 45, NumExpression: 72, NumKeypoints: z.keypoints,
	}
	normal := func(n int, sd float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * sd)
		}
		return v
	}
	a.Parents = make([]int32, J)
	a.Parents[0] = -1
	for j := 1; j < J; j++ {
		a.Parents[j] = int32(max(0, j-1-rng.IntN(4)))
	}
	a.TranslationOffsets = make([]float64, 3*J)
	a.PreRotations = make([]float64, 4*J)
	a.InverseBindPose = make([]float64, 8*J)
	for j := range J {
		var q Quat
		var n float64
		for k := range 4 {
			q[k] = rng.NormFloat64()
			n += q[k] * q[k]
		}
		for k := range 4 {
			q[k] /= math.Sqrt(n)
			a.PreRotations[4*j+k] = q[k]
			a.InverseBindPose[8*j+3+k] = q[k]
		}
		for k := range 3 {
			a.TranslationOffsets[3*j+k] = rng.NormFloat64() * 10
			a.InverseBindPose[8*j+k] = rng.NormFloat64() * 10
		}
		a.InverseBindPose[8*j+7] = 1
	}
	a.ParameterTransform = make([]float32, 7*J*P)
	for c := range 6 {
		a.ParameterTransform[c*P+c] = 1
	}
	p := 6
	for j := 1; j < J && p < 136; j++ {
		for c := 3; c < 6 && p < 136; c++ {
			a.ParameterTransform[(7*j+c)*P+p] = 1
			p++
		}
	}
	for j := 1; j < J; j++ {
		a.ParameterTransform[(7*j+6)*P+136+(j-1)%68] = 1
	}
	for range 300 {
		r, c := 7+rng.IntN(7*J-7), rng.IntN(P)
		a.ParameterTransform[r*P+c] += float32(rng.NormFloat64() * 0.3)
	}
	a.BaseShape = normal(3*V, 20)
	a.IdentityBasis = normal(45*3*V, 0.5)
	a.ExpressionBasis = normal(72*3*V, 0.3)
	a.Faces = make([]int32, 3*z.faces)
	for i := range a.Faces {
		a.Faces[i] = int32(rng.IntN(V))
	}
	// Every vertex gets at least one influence; the rest are spread.
	for i := range z.skin {
		v := i
		if i >= V {
			v = rng.IntN(V)
		}
		a.SkinVertex = append(a.SkinVertex, int32(v))
		a.SkinJoint = append(a.SkinJoint, int32(rng.IntN(J)))
		a.SkinWeight = append(a.SkinWeight, rng.Float32()/3)
	}
	for r := range z.keypoints {
		for range 3 {
			a.KeypointRow = append(a.KeypointRow, int32(r))
			a.KeypointCol = append(a.KeypointCol, int32(rng.IntN(V+J)))
			a.KeypointWeight = append(a.KeypointWeight, 1.0/3)
		}
	}
	if z.hidden > 0 {
		nfeat := 6 * (J - 2)
		a.CorrectiveHidden = z.hidden
		a.CorrectiveIndices = make([]int64, 2*z.corrNNZ)
		for k := range z.corrNNZ {
			a.CorrectiveIndices[k] = int64(k % z.hidden)
			a.CorrectiveIndices[z.corrNNZ+k] = int64(rng.IntN(nfeat))
		}
		a.CorrectiveWeights = normal(z.corrNNZ, 1)
		a.CorrectiveBlendshapes = normal(z.hidden*3*V, 0.5)
	}
	return a
}

// randomBatch draws moderate parameters, as tools/export/mhr/bench.py does.
func randomBatch(rng *rand.Rand, n int) []Input {
	batch := make([]Input, n)
	for b := range batch {
		in := Input{Identity: make([]float32, 45), Model: make([]float32, 204), Expr: make([]float32, 72)}
		for i := range in.Identity {
			in.Identity[i] = float32(rng.NormFloat64())
		}
		for i := range in.Model {
			sd := 0.3
			if i >= 136 {
				sd = 0.1
			}
			in.Model[i] = float32(rng.NormFloat64() * sd)
		}
		for i := range in.Expr {
			in.Expr[i] = float32(rng.NormFloat64() * 0.5)
		}
		batch[b] = in
	}
	return batch
}

// BenchmarkForward64 poses a batch of 64 on a random character of LOD1's
// sizes, with and without pose correctives. The dense corrective layer
// alone is 3000 × 55,317 float32 (664 MB); set MHR_BENCH_NO_CORRECTIVES=1
// to build the character without it where memory is short.
func BenchmarkForward64(b *testing.B) {
	z := lod1Sizes()
	if os.Getenv("MHR_BENCH_NO_CORRECTIVES") != "" {
		z.hidden, z.corrNNZ = 0, 0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := New(randomAssets(rng, z))
	if err != nil {
		b.Fatal(err)
	}
	batch := randomBatch(rng, 64)
	modes := []struct {
		name string
		f    func([]Input) ([]Output, error)
	}{{"correctives=off", m.ForwardNoCorrectives}}
	if m.HasCorrectives() {
		modes = append(modes, struct {
			name string
			f    func([]Input) ([]Output, error)
		}{"correctives=on", m.Forward})
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := mode.f(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkForwardAssets is the Go side of tools/export/mhr/bench.sh: it
// loads the character and batch that bench.py wrote to $MHR_BENCH_DIR,
// checks the vertices against the reference's, and times Forward.
func BenchmarkForwardAssets(b *testing.B) {
	dir := os.Getenv("MHR_BENCH_DIR")
	if dir == "" {
		b.Skip("MHR_BENCH_DIR not set; run tools/export/mhr/bench.sh")
	}
	m, err := Load(filepath.Join(dir, "assets"))
	if err != nil {
		b.Fatal(err)
	}
	var ident, model, expr, verts, vertsNC []float32
	for name, dst := range map[string]*[]float32{
		"identity": &ident, "model": &model, "expr": &expr, "verts": &verts, "verts_nc": &vertsNC,
	} {
		f, err := os.Open(filepath.Join(dir, "bench_"+name+".npy"))
		if err != nil {
			b.Fatal(err)
		}
		err = readNpyInto(f, dst)
		f.Close()
		if err != nil {
			b.Fatalf("bench_%s.npy: %v", name, err)
		}
	}
	n := len(model) / 204
	batch := make([]Input, n)
	for i := range batch {
		batch[i] = Input{Identity: ident[45*i : 45*i+45], Model: model[204*i : 204*i+204], Expr: expr[72*i : 72*i+72]}
	}
	V3 := 3 * m.NumVertices()
	for _, mode := range []struct {
		name string
		f    func([]Input) ([]Output, error)
		want []float32
	}{
		{"correctives=off", m.ForwardNoCorrectives, vertsNC},
		{"correctives=on", m.Forward, verts},
	} {
		b.Run(mode.name, func(b *testing.B) {
			out, err := mode.f(batch)
			if err != nil {
				b.Fatal(err)
			}
			var worst float64
			for i := range out {
				worst = max(worst, relErr(out[i].Verts, mode.want[i*V3:(i+1)*V3]))
			}
			if worst > 1e-4 {
				b.Fatalf("verts relative error %.3g against the reference, want ≤ 1e-4", worst)
			}
			for b.Loop() {
				if _, err := mode.f(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(worst, "rel-err")
		})
	}
}
