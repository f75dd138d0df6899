package segment

import (
	"context"
	"testing"
	"time"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/scene"
)

// timedEngine adds up the time spent in an engine.
type timedEngine struct {
	engine.Engine
	total *time.Duration
}

func (e timedEngine) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	t0 := time.Now()
	out, err := e.Engine.Run(ctx, in)
	*e.total += time.Since(t0)
	return out, err
}

// memFrames is a FrameSource of decoded frames, so that benchmarks do
// not time PNG decoding.
type memFrames struct {
	info scene.VideoInfo
	imgs []*scene.RGB
}

func (m *memFrames) Info() scene.VideoInfo           { return m.info }
func (m *memFrames) Frame(i int) (*scene.RGB, error) { return m.imgs[i], nil }

// BenchmarkTrackFrame times one tracked frame (one person, clicked on
// frame 0, memory of the clicked frame and the frame before), split into
// engine time and Go host time, on the tiny engines and on the shrunk
// reference engines of the parity test. Both are far cheaper than the
// real engines, so host_share is an upper bound of the host's share with
// real ones.
func BenchmarkTrackFrame(b *testing.B) {
	b.Run("tiny", func(b *testing.B) { benchTrackFrame(b, tinyDir) })
	b.Run("parity", func(b *testing.B) { benchTrackFrame(b, parityDir) })
}

func benchTrackFrame(b *testing.B, dir string) {
	tr := openTiny(b, dir, Options{})
	var engTime time.Duration
	e := tr.eng
	e.Image = timedEngine{e.Image, &engTime}
	e.MemoryAttention = timedEngine{e.MemoryAttention, &engTime}
	e.MaskDecoder = timedEngine{e.MaskDecoder, &engTime}
	e.MemoryEncoder = timedEngine{e.MemoryEncoder, &engTime}
	timed, err := New(e, tr.consts, Options{})
	if err != nil {
		b.Fatal(err)
	}
	files := loadFrames(b, clipFrames, 3)
	frames := &memFrames{info: files.info}
	for i := range 3 {
		img, err := files.Frame(i)
		if err != nil {
			b.Fatal(err)
		}
		frames.imgs = append(frames.imgs, img)
	}
	ctx := context.Background()
	s, err := timed.NewSession(frames)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Add(ctx, scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 90, Y: 175, Person: 1}}}); err != nil {
		b.Fatal(err)
	}
	if err := s.preflight(ctx); err != nil {
		b.Fatal(err)
	}
	if err := s.step(ctx, 1, false, 0); err != nil {
		b.Fatal(err)
	}
	engTime = 0
	b.ResetTimer()
	for range b.N {
		// Frame 2 reads frames 0 and 1; stepping it again replaces its
		// own memory, so every iteration does the same work.
		if err := s.step(ctx, 2, false, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	total := b.Elapsed()
	b.ReportMetric(float64(engTime.Nanoseconds())/float64(b.N), "engine-ns/op")
	b.ReportMetric(float64((total-engTime).Nanoseconds())/float64(b.N), "host-ns/op")
	b.ReportMetric(float64(total-engTime)/float64(total), "host_share")
}

// BenchmarkParityClip times the whole tracker, Segment, on the 6 frames
// of the parity test with two people clicked on frame 0, on the shrunk
// reference engines: the Go half of tools/golden/segment/bench.sh, which
// times the reference sam3 tracker on the same networks and frames.
func BenchmarkParityClip(b *testing.B) {
	tr := openTiny(b, parityDir, Options{})
	files := loadFrames(b, clipFrames, 6)
	frames := &memFrames{info: files.info}
	for i := range 6 {
		img, err := files.Frame(i)
		if err != nil {
			b.Fatal(err)
		}
		frames.imgs = append(frames.imgs, img)
	}
	prompts := scene.Prompts{Clicks: []scene.Click{{Frame: 0, X: 90, Y: 175, Person: 1}, {Frame: 0, X: 520, Y: 172, Person: 2}}}
	ctx := context.Background()
	for b.Loop() {
		m, err := tr.Segment(ctx, frames, prompts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Mask(5, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/clip")
}
