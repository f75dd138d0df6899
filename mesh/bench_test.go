package mesh

import (
	"context"
	"testing"

	"github.com/body4d/body4d/scene"
)

// BenchmarkPreprocess is the host work per batch of 16 crops before the
// backbone: warp, normalise, mask warp, CLIFF condition, ray map.
func BenchmarkPreprocess(b *testing.B) {
	const n = 16
	img, _ := synthVideo{1280, 720, 1}.Frame(0)
	m := scene.NewMask(1280, 720)
	for y := 100; y < 600; y++ {
		for x := 500; x < 760; x++ {
			m.Pix[y*1280+x] = 1
		}
	}
	K := scene.DefaultIntrinsics(1280, 720)
	box, _ := boxFromMask(m)
	c, _ := newBodyCrop(box)
	const px = CropSize * CropSize
	image := make([]float32, n*3*px)
	mask := make([]uint8, n*px)
	rays := make([]float32, n*2*Grid*Grid)
	b.ResetTimer()
	for range b.N {
		parallel(n, func(i int) {
			buf := make([]uint8, 3*px)
			c.WarpRGB(buf, img)
			normalizeCrop(image[i*3*px:(i+1)*3*px], buf)
			c.WarpMask(mask[i*px:(i+1)*px], m)
			_ = c.Condition(K)
			c.Rays(rays[i*2*Grid*Grid:(i+1)*2*Grid*Grid], K)
		})
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/crop")
}

// BenchmarkDecode is the 519 → 204 decoding and camera solve for a batch
// of 64 crops (MHR not included; see mesh/mhr's benchmarks).
func BenchmarkDecode(b *testing.B) {
	h := testHead()
	pose := zeroPose()
	for i := range pose {
		pose[i] += float32(i%7) * 0.01
	}
	c, _ := newBodyCrop([4]float64{100, 50, 200, 350})
	K := scene.DefaultIntrinsics(640, 480)
	b.ResetTimer()
	for range b.N {
		for range 64 {
			if _, err := h.Decode(pose); err != nil {
				b.Fatal(err)
			}
			_ = cameraTranslation([3]float32{-1, 0.1, 0.2}, c, K)
		}
	}
}

// BenchmarkTinyStageFrame is the whole stage per frame (two people) on
// the tiny engines: it measures the Go host work, since the tiny engines
// themselves cost little.
func BenchmarkTinyStageFrame(b *testing.B) {
	r := openTiny(b, Options{})
	in := stageInput()
	b.ResetTimer()
	for range b.N {
		if err := r.Recover(context.Background(), in, func(int, []scene.Person) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(2*b.N), "ms/frame")
}
