package video

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/body4d/body4d/scene"
)

// Store file names. Frames live in one file of losslessly compressed
// rgb24 frames, one after another; the manifest lists where each starts.
// A frame is intra (its rows through the PNG Paeth predictor) on every
// keyInterval-th frame and a delta from the frame before otherwise,
// deflated (BestSpeed; framecodec.go): a read is a pread and an inflate
// per frame since the last key frame or cached frame, safe from many
// goroutines, and gives back exactly the decoded pixels, so every stage
// sees what a raw store would give it at a fraction of the disk (raw
// rgb24 is 6 MiB per 1080p frame). The manifest is written last, after
// the frames are synced: its presence is what marks an import complete.
const (
	storeFrames   = "frames.bin"
	storeManifest = "complete.json"
	storeVersion  = 3
)

// DefaultCacheBytes bounds a Store's in-memory cache when the options give
// no bound: about 10 frames of 1080p. Stages read frames in order or in
// small windows, so a larger cache buys little and makes a long video's
// peak memory several times a short one's.
const DefaultCacheBytes = 64 << 20

// StoreOptions configure Import and OpenStore.
type StoreOptions struct {
	// CacheBytes bounds the memory held by decoded frames kept for reuse;
	// zero means DefaultCacheBytes, negative disables the cache.
	CacheBytes int64
	// Progress, when set, is called by Import after each frame with the
	// number of frames stored and the number announced by the reader
	// (0 when unknown).
	Progress func(done, total int)
}

type manifest struct {
	Version int            `json:"version"`
	Width   int            `json:"width"`
	Height  int            `json:"height"`
	FPS     scene.Rational `json:"fps"`
	Frames  int            `json:"frames"`
	// Offsets[i] is where frame i starts in the frames file; the last
	// entry is the file's size.
	Offsets []int64 `json:"offsets"`
}

// Store is a bounded on-disk frame store: a video decoded once into a
// directory and read back by frame index. It implements scene.FrameSource;
// Frame is safe for concurrent use.
type Store struct {
	dir     string
	info    scene.VideoInfo
	offsets []int64
	f       *os.File
	cache   *frameCache
}

// ErrIncompleteStore is returned (wrapped) by OpenStore for a directory
// whose import did not finish; such a store must be imported again.
var ErrIncompleteStore = errors.New("frame store is incomplete (import did not finish)")

// ImportFile opens the video file or image folder at path (with Open)
// and imports it into a new store in dir.
func ImportFile(ctx context.Context, path string, opt Options, dir string, sopt StoreOptions) (*Store, error) {
	r, err := Open(ctx, path, opt)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return Import(ctx, r, dir, sopt)
}

// Import decodes every frame of r into a new store in dir (created if
// needed; a previous store there is replaced). The store is marked complete
// only after the last frame is on disk, so a crash or cancellation leaves
// a directory that OpenStore refuses. Import does not close r.
func Import(ctx context.Context, r Reader, dir string, opt StoreOptions) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	// Unmark first: from here on the directory is not a complete store.
	if err := os.Remove(filepath.Join(dir, storeManifest)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	f, err := os.Create(filepath.Join(dir, storeFrames))
	if err != nil {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	info := r.Info()
	n := 0
	offsets := []int64{0}
	enc := newFrameEncoder()
	// The frame before, for deltas: a copy, as readers may reuse their image.
	var prev *scene.RGB
	for {
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, fmt.Errorf("frame store %s: import stopped at frame %d: %w", dir, n, err)
		}
		img, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("frame store %s: frame %d: %w", dir, n, err)
		}
		if w, h := img.Rect.Dx(), img.Rect.Dy(); w != info.Width || h != info.Height {
			f.Close()
			return nil, fmt.Errorf("frame store %s: frame %d is %dx%d, video is %dx%d", dir, n, w, h, info.Width, info.Height)
		}
		var ref *scene.RGB
		if n%keyInterval != 0 {
			ref = prev
		}
		data, err := enc.encode(img, ref)
		if err == nil {
			_, err = f.Write(data)
		}
		if prev == nil {
			prev = scene.NewRGB(image.Rect(0, 0, info.Width, info.Height))
		}
		for y := range info.Height {
			copy(prev.Pix[y*prev.Stride:y*prev.Stride+3*info.Width], img.Pix[y*img.Stride:])
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("frame store %s: frame %d: %w", dir, n, err)
		}
		offsets = append(offsets, offsets[len(offsets)-1]+int64(len(data)))
		n++
		if opt.Progress != nil {
			opt.Progress(n, info.Frames)
		}
	}
	if n == 0 {
		f.Close()
		return nil, fmt.Errorf("frame store %s: the video has zero frames", dir)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	info.Frames = n
	m := manifest{Version: storeVersion, Width: info.Width, Height: info.Height, FPS: info.FPS, Frames: n, Offsets: offsets}
	if err := writeManifest(dir, m); err != nil {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	return OpenStore(dir, opt)
}

// writeManifest writes the completion marker atomically (temp + rename).
func writeManifest(dir string, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, storeManifest+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, storeManifest))
}

// OpenStore reopens a store that Import completed, for resuming a run. A
// directory without the completion marker, or whose frame file does not
// hold exactly the frames the marker lists, is an error wrapping
// ErrIncompleteStore.
func OpenStore(dir string, opt StoreOptions) (*Store, error) {
	b, err := os.ReadFile(filepath.Join(dir, storeManifest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("frame store %s: %w", dir, ErrIncompleteStore)
	}
	if err != nil {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("frame store %s: bad %s: %w", dir, storeManifest, err)
	}
	if m.Version != storeVersion || m.Width <= 0 || m.Height <= 0 || m.Frames <= 0 || m.FPS.Num <= 0 || m.FPS.Den <= 0 {
		return nil, fmt.Errorf("frame store %s: %s is not a version %d manifest of a non-empty video: %+v", dir, storeManifest, storeVersion, m)
	}
	f, err := os.Open(filepath.Join(dir, storeFrames))
	if err != nil {
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("frame store %s: %w", dir, err)
	}
	if len(m.Offsets) != m.Frames+1 || m.Offsets[0] != 0 || !slices.IsSorted(m.Offsets) {
		f.Close()
		return nil, fmt.Errorf("frame store %s: %s lists %d frame offsets, want %d in ascending order from 0", dir, storeManifest, len(m.Offsets), m.Frames+1)
	}
	if want := m.Offsets[m.Frames]; st.Size() != want {
		f.Close()
		return nil, fmt.Errorf("frame store %s: %s has %d bytes, want %d for %d frames: %w",
			dir, storeFrames, st.Size(), want, m.Frames, ErrIncompleteStore)
	}
	bound := opt.CacheBytes
	if bound == 0 {
		bound = DefaultCacheBytes
	}
	return &Store{
		dir:     dir,
		info:    scene.VideoInfo{Width: m.Width, Height: m.Height, FPS: m.FPS, Frames: m.Frames},
		offsets: m.Offsets,
		f:       f,
		cache:   newFrameCache(max(bound, 0)),
	}, nil
}

// Info implements scene.FrameSource.
func (s *Store) Info() scene.VideoInfo { return s.info }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Frame implements scene.FrameSource. Frames come from the cache when
// present; the caller must not modify them. A delta frame decodes from
// the nearest frame before it that is cached or a key frame; the frames
// decoded on the way are cached too (stages read mostly in order).
func (s *Store) Frame(i int) (*scene.RGB, error) {
	if i < 0 || i >= s.info.Frames {
		return nil, fmt.Errorf("frame store %s: frame %d does not exist (video has %d frames)", s.dir, i, s.info.Frames)
	}
	if img := s.cache.get(i); img != nil {
		return img, nil
	}
	start := i - i%keyInterval
	var prev *scene.RGB
	for j := i - 1; j >= start; j-- {
		if img := s.cache.get(j); img != nil {
			prev, start = img, j+1
			break
		}
	}
	for j := start; j <= i; j++ {
		data := make([]byte, s.offsets[j+1]-s.offsets[j])
		if _, err := s.f.ReadAt(data, s.offsets[j]); err != nil {
			return nil, fmt.Errorf("frame store %s: reading frame %d: %w", s.dir, j, err)
		}
		img := scene.NewRGB(image.Rect(0, 0, s.info.Width, s.info.Height))
		if err := decodeFrame(data, prev, img); err != nil {
			return nil, fmt.Errorf("frame store %s: frame %d: %w", s.dir, j, err)
		}
		s.cache.put(j, img)
		prev = img
	}
	return prev, nil
}

// CacheStats reports the bytes the cache holds now and the most it has
// ever held, and its bound.
func (s *Store) CacheStats() (bytes, peak, bound int64) { return s.cache.stats() }

// Close releases the store's file; the directory stays for reuse.
func (s *Store) Close() error { return s.f.Close() }

// frameCache is an LRU of frames bounded by their total pixel bytes.
type frameCache struct {
	mu    sync.Mutex
	bound int64
	bytes int64
	peak  int64
	order *list.List // front = most recently used; values are *cacheEntry
	items map[int]*list.Element
}

type cacheEntry struct {
	i   int
	img *scene.RGB
}

func newFrameCache(bound int64) *frameCache {
	return &frameCache{bound: bound, order: list.New(), items: map[int]*list.Element{}}
}

func (c *frameCache) get(i int) *scene.RGB {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[i]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).img
	}
	return nil
}

// put adds a frame, evicting least recently used frames first so that the
// total never exceeds the bound, even momentarily.
func (c *frameCache) put(i int, img *scene.RGB) {
	size := int64(len(img.Pix))
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.bound {
		return
	}
	if _, ok := c.items[i]; ok {
		return // another goroutine read it meanwhile
	}
	for c.bytes+size > c.bound {
		e := c.order.Back()
		c.order.Remove(e)
		old := e.Value.(*cacheEntry)
		delete(c.items, old.i)
		c.bytes -= int64(len(old.img.Pix))
	}
	c.items[i] = c.order.PushFront(&cacheEntry{i: i, img: img})
	c.bytes += size
	c.peak = max(c.peak, c.bytes)
}

func (c *frameCache) stats() (bytes, peak, bound int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, c.peak, c.bound
}
