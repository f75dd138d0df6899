package mhr

import (
	"archive/zip"
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLoadFS loads the tiny character from a zip archive of its directory
// and checks it poses exactly as the one loaded from the directory.
func TestLoadFS(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	entries, err := os.ReadDir(testdataDir + "/tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(testdataDir, "tiny", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(e.Name())
		w.Write(b)
	}
	zw.Close()
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	fromZip, err := LoadFS(zr, "tiny.zip")
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	in := []Input{{Identity: make([]float32, 45), Model: make([]float32, 204)}}
	in[0].Model[4], in[0].Identity[0] = 0.5, 1
	a, err := fromZip.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fromDir.Forward(in)
	if !reflect.DeepEqual(a, b) {
		t.Error("the model loaded from a zip poses differently from the one loaded from its directory")
	}
	// A missing array is named with the archive.
	var short bytes.Buffer
	zw = zip.NewWriter(&short)
	hw, _ := zw.Create("header.json")
	hb, _ := os.ReadFile(filepath.Join(testdataDir, "tiny", "header.json"))
	hw.Write(hb)
	zw.Close()
	zr, _ = zip.NewReader(bytes.NewReader(short.Bytes()), int64(short.Len()))
	if _, err := LoadFS(zr, "short.zip"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("short.zip/parents.npy")) {
		t.Errorf("LoadFS of an archive without arrays: %v", err)
	}
}

// TestKeypoints: the keypoint-only evaluation gives Forward's keypoints.
func TestKeypoints(t *testing.T) {
	m, err := Load(filepath.Join(testdataDir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if m.kp == nil || m.kp.nv >= m.nv {
		t.Fatalf("no keypoint character, or not smaller (%v)", m.kp)
	}
	batch := make([]Input, 3)
	for b := range batch {
		batch[b] = Input{Identity: make([]float32, 45), Model: make([]float32, 204), Expr: make([]float32, 72)}
		for i := range batch[b].Model {
			batch[b].Model[i] = float32((i*7+b*3)%11-5) * 0.05
		}
		for i := range batch[b].Identity {
			batch[b].Identity[i] = float32((i+b)%5-2) * 0.3
		}
		batch[b].Expr[b] = 0.5
	}
	full, err := m.Forward(batch)
	if err != nil {
		t.Fatal(err)
	}
	kps, err := m.Keypoints(batch)
	if err != nil {
		t.Fatal(err)
	}
	for b := range batch {
		for i, want := range full[b].Keypoints {
			if d := math.Abs(float64(kps[b][i] - want)); d > 1e-5*max(math.Abs(float64(want)), 1) {
				t.Fatalf("body %d keypoint value %d: %v, Forward gives %v", b, i, kps[b][i], want)
			}
		}
	}
	t.Logf("keypoint character: %d of %d vertices", m.kp.nv, m.nv)
}

// BenchmarkKeypoints64 is Keypoints on a batch of 64 at LOD1 sizes, the
// MHR cost of one decoder layer's keypoint refresh; compare with
// BenchmarkForward64.
func BenchmarkKeypoints64(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := New(randomAssets(rng, lod1Sizes()))
	if err != nil {
		b.Fatal(err)
	}
	batch := randomBatch(rng, 64)
	b.ResetTimer()
	for range b.N {
		if _, err := m.Keypoints(batch); err != nil {
			b.Fatal(err)
		}
	}
}
