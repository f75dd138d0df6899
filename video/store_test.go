package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video/internal/videotest"
)

// TestStoreBoundedCache imports a few hundred small frames, reads them
// back from many goroutines (run with -race) and checks every frame is
// exact and the cache never held more than its byte bound.
func TestStoreBoundedCache(t *testing.T) {
	const w, h, n = 32, 24, 300
	frameBytes := int64(3 * w * h)
	bound := 10*frameBytes + frameBytes/2 // room for 10 frames, not 11
	src := newSliceReader(w, h, n)
	var progress []int
	st, err := Import(context.Background(), src, t.TempDir(), StoreOptions{
		CacheBytes: bound,
		Progress: func(done, total int) {
			if total != n {
				t.Errorf("progress total %d, want %d", total, n)
			}
			progress = append(progress, done)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if len(progress) != n || progress[n-1] != n {
		t.Errorf("progress called %d times, last %v; want %d calls ending at %d", len(progress), progress[len(progress)-1:], n, n)
	}
	if info := st.Info(); info != src.info {
		t.Errorf("store info %+v, want %+v", info, src.info)
	}

	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 400; k++ {
				i := (k*37 + g*11) % n
				if k%3 == 0 {
					i = (g + k/50) % 5 // a hot set that should hit the cache
				}
				img, err := st.Frame(i)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(img.Pix, src.frames[i].Pix) {
					t.Errorf("frame %d differs from the imported frame", i)
					return
				}
				if b, _, _ := st.CacheStats(); b > bound {
					t.Errorf("cache holds %d bytes > bound %d", b, bound)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	_, peak, gotBound := st.CacheStats()
	if gotBound != bound || peak > bound || peak < 10*frameBytes {
		t.Errorf("cache peak %d bytes, bound %d (want bound %d; peak ≤ bound and ≥ 10 frames = %d)",
			peak, gotBound, bound, 10*frameBytes)
	}
	for _, i := range []int{-1, n} {
		if _, err := st.Frame(i); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Frame(%d) error = %v", i, err)
		}
	}
}

// TestStoreResume checks that a completed store reopens with the same
// frames and that an interrupted or damaged one is refused.
func TestStoreResume(t *testing.T) {
	const w, h, n = 16, 8, 20
	dir := t.TempDir()
	src := newSliceReader(w, h, n)
	st, err := Import(context.Background(), src, dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	re, err := OpenStore(dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if re.Info() != src.info {
		t.Errorf("reopened info %+v, want %+v", re.Info(), src.info)
	}
	img, err := re.Frame(n - 1)
	if err != nil || !bytes.Equal(img.Pix, src.frames[n-1].Pix) {
		t.Errorf("reopened last frame: err %v, equal %v", err, err == nil && bytes.Equal(img.Pix, src.frames[n-1].Pix))
	}
	re.Close()

	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string) // run on a completed store
		want   string
	}{
		{"interrupted import", func(t *testing.T, dir string) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := newSliceReader(w, h, n)
			r.cancelAt, r.cancel = 7, cancel
			if _, err := Import(ctx, r, dir, StoreOptions{}); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled import error = %v", err)
			}
		}, "incomplete"},
		{"truncated frames", func(t *testing.T, dir string) {
			fi, err := os.Stat(filepath.Join(dir, storeFrames))
			must(t, err)
			must(t, os.Truncate(filepath.Join(dir, storeFrames), fi.Size()-1))
		}, "incomplete"},
		{"bad manifest", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, storeManifest), []byte(`{"version":1}`), 0o644))
		}, fmt.Sprintf("not a version %d manifest", storeVersion)},
		{"empty video", func(t *testing.T, dir string) {
			if _, err := Import(context.Background(), newSliceReader(w, h, 0), dir, StoreOptions{}); err == nil ||
				!strings.Contains(err.Error(), "zero frames") {
				t.Fatalf("empty import error = %v", err)
			}
		}, "incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := Import(context.Background(), newSliceReader(w, h, n), dir, StoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			tc.damage(t, dir)
			_, err = OpenStore(dir, StoreOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("OpenStore error = %v, want one naming %s and saying %q", err, dir, tc.want)
			}
		})
	}
}

// TestStoreFromVideo imports the shipped clip through the ffmpeg decoder.
func TestStoreFromVideo(t *testing.T) {
	tools := requireFFmpeg(t)
	r := mustOpen(t, sampleClip, tools)
	defer r.Close()
	st, err := Import(context.Background(), r, t.TempDir(), StoreOptions{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if info := st.Info(); info.Frames != 90 || info.FPS.Num != 30000 || info.FPS.Den != 1001 {
		t.Errorf("store info %+v", info)
	}
	direct := videotest.ReadAll(t, mustOpen(t, sampleClip, tools).Next)
	for _, i := range []int{0, 45, 89} {
		img, err := st.Frame(i)
		if err != nil || !bytes.Equal(img.Pix, direct[i].Pix) {
			t.Errorf("frame %d: err %v or pixels differ from a direct decode", i, err)
		}
	}
	if b, peak, _ := st.CacheStats(); b != 0 || peak != 0 {
		t.Errorf("disabled cache holds %d bytes (peak %d)", b, peak)
	}
}

func TestImportFile(t *testing.T) {
	requireFFmpeg(t)
	s, err := ImportFile(context.Background(), sampleClip, Options{}, t.TempDir(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if info := s.Info(); info.Frames != 90 || info.Width != 640 {
		t.Errorf("info %+v, want 90 frames of 640x360", info)
	}
	if _, err := ImportFile(context.Background(), "missing.mp4", Options{}, t.TempDir(), StoreOptions{}); err == nil ||
		!strings.Contains(err.Error(), "missing.mp4") {
		t.Errorf("missing file: err %v", err)
	}
}

// TestFrameCodec: the store's lossless codec gives back every byte of
// frames of odd sizes, with padded strides, flat and noisy content, both
// intra and as deltas from the frame before, and corrupt data is an
// error, not a wrong frame.
func TestFrameCodec(t *testing.T) {
	enc := newFrameEncoder()
	seed := uint32(1)
	for _, sz := range [][2]int{{1, 1}, {3, 2}, {17, 9}, {640, 360}, {33, 1}, {1, 40}} {
		w, h := sz[0], sz[1]
		var prevIn, prevOut *scene.RGB
		// noise intra, then each kind as a delta from the one before.
		for step, kind := range []string{"noise", "gradient", "flat", "noise"} {
			img := &scene.RGB{Pix: make([]uint8, (3*w+5)*h), Stride: 3*w + 5, Rect: image.Rect(0, 0, w, h)}
			for i := range img.Pix {
				switch kind {
				case "noise":
					seed = seed*1664525 + 1013904223
					img.Pix[i] = uint8(seed >> 24)
				case "gradient":
					img.Pix[i] = uint8(i%img.Stride + i/img.Stride*3)
				case "flat":
					img.Pix[i] = 200
				}
			}
			data, err := enc.encode(img, prevIn)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.Clone(data)
			if want := byte(min(step, frameDelta)); data[0] != want {
				t.Fatalf("%dx%d %s: kind %d, want %d", w, h, kind, data[0], want)
			}
			got := scene.NewRGB(image.Rect(0, 0, w, h))
			if err := decodeFrame(data, prevOut, got); err != nil {
				t.Fatalf("%dx%d %s: %v", w, h, kind, err)
			}
			for y := range h {
				if !bytes.Equal(got.Pix[y*got.Stride:y*got.Stride+3*w], img.Pix[y*img.Stride:y*img.Stride+3*w]) {
					t.Fatalf("%dx%d %s (step %d): row %d differs", w, h, kind, step, y)
				}
			}
			bad := scene.NewRGB(image.Rect(0, 0, w, h))
			if err := decodeFrame(data[:len(data)/2], prevOut, bad); err == nil {
				t.Errorf("%dx%d %s: truncated data decoded", w, h, kind)
			}
			if h > 1 {
				if err := decodeFrame(data, prevOut, scene.NewRGB(image.Rect(0, 0, w, h-1))); err == nil {
					t.Errorf("%dx%d %s: decoded into a smaller frame", w, h, kind)
				}
			}
			if step > 0 {
				if err := decodeFrame(data, nil, bad); err == nil {
					t.Errorf("%dx%d %s: a delta decoded without its predecessor", w, h, kind)
				}
			}
			if err := decodeFrame(append([]byte{7}, data[1:]...), prevOut, bad); err == nil {
				t.Errorf("%dx%d %s: an unknown kind decoded", w, h, kind)
			}
			prevIn, prevOut = img, got
		}
	}
}

// TestStoreAnyOrder: frames read in any order, with the cache off, one
// frame's worth, or the default, from several goroutines, are exact:
// delta frames decode from their key frame or the cached frame before.
func TestStoreAnyOrder(t *testing.T) {
	const w, h, n = 24, 10, 3*keyInterval + 3
	src := newSliceReader(w, h, n)
	dir := t.TempDir()
	st, err := Import(context.Background(), src, dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, bound := range []int64{-1, 3 * w * h, 0} {
		s, err := OpenStore(dir, StoreOptions{CacheBytes: bound})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				order := rand.New(rand.NewPCG(uint64(g), uint64(bound))).Perm(n)
				if g == 0 {
					for i := range order {
						order[i] = n - 1 - i // backwards: every delta from its key frame
					}
				}
				for _, i := range order {
					img, err := s.Frame(i)
					if err != nil || !bytes.Equal(img.Pix, src.frames[i].Pix) {
						t.Errorf("cache %d, frame %d: err %v or pixels differ", bound, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		s.Close()
	}
}
