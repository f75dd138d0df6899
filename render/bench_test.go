package render

import (
	"image"
	"testing"

	"github.com/body4d/body4d/scene"
)

// benchPeople are n body-sized meshes (18,439 vertices, 36,874 faces
// each, the MHR mesh's counts) standing 0.8 m apart at 4–5 m; the same
// scene as tools/golden/render/bench.py.
func benchPeople(n int) []Item {
	people := make([]Item, n)
	for i := range people {
		x := 0.8 * (float64(i) - float64(n-1)/2)
		people[i] = Item{Person: scene.PersonID(i + 1), Mesh: bodyMesh(x, 4+0.25*float64(i%3))}
	}
	return people
}

func benchRender(b *testing.B, w, h, n int) {
	people := benchPeople(n)
	K := scene.DefaultIntrinsics(w, h)
	frame := scene.NewRGB(image.Rect(0, 0, w, h))
	r, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := r.Render(frame, people, K); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkRender1080p5People(b *testing.B) { benchRender(b, 1920, 1080, 5) }
func BenchmarkRender720p1Person(b *testing.B)  { benchRender(b, 1280, 720, 1) }
