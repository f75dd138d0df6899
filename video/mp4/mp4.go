// Package mp4 writes H.264 video into an MP4 file (ISO/IEC 14496-12 and
// -15) that browsers play: one avc1 track, the exact rational frame rate
// in the sample table (media timescale = rate numerator, every sample
// lasting the denominator, so 30000/1001 stays exact), and the movie
// header (moov) before the media data (mdat), the "faststart" layout that
// lets playback begin before the file is fully downloaded.
//
// The samples are spooled to a file while encoding, because the moov that
// must come first indexes every sample; Finish writes ftyp, moov and mdat.
//
// Samples are decoded in the order written and shown in that order: the
// writer has no composition offsets, so the encoder must not emit
// B-frames.
package mp4

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/body4d/body4d/scene"
)

// Config describes the track.
type Config struct {
	Width, Height int
	FPS           scene.Rational
	SPS, PPS      []byte // parameter set NAL units, without start code or length prefix
}

// Writer collects samples and writes the MP4 on Finish.
type Writer struct {
	spool io.ReadWriteSeeker
	cfg   Config
	sizes []uint32
	keys  []uint32 // 1-based numbers of sync samples
	total int64
	err   error
}

// NewWriter returns a Writer that spools samples in spool (an empty file
// that the caller removes afterwards) until Finish.
func NewWriter(spool io.ReadWriteSeeker, cfg Config) (*Writer, error) {
	switch {
	case cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > 0xffff || cfg.Height > 0xffff:
		return nil, fmt.Errorf("mp4: frame size %dx%d out of range", cfg.Width, cfg.Height)
	case cfg.FPS.Num <= 0 || cfg.FPS.Den <= 0 || int64(cfg.FPS.Num) > math.MaxUint32 || int64(cfg.FPS.Den) > math.MaxUint32:
		return nil, fmt.Errorf("mp4: frame rate %v out of range", cfg.FPS)
	case len(cfg.SPS) < 4 || len(cfg.PPS) < 1 || len(cfg.SPS) > 0xffff || len(cfg.PPS) > 0xffff:
		return nil, fmt.Errorf("mp4: SPS (%d bytes) or PPS (%d bytes) missing or too long", len(cfg.SPS), len(cfg.PPS))
	}
	return &Writer{spool: spool, cfg: cfg}, nil
}

// WriteSample appends one access unit in AVCC form (each NAL unit prefixed
// by its 4-byte big-endian length); key marks an IDR picture.
func (w *Writer) WriteSample(data []byte, key bool) error {
	if w.err != nil {
		return w.err
	}
	if len(data) == 0 || len(data) > math.MaxUint32 {
		w.err = fmt.Errorf("mp4: sample %d has %d bytes", len(w.sizes), len(data))
		return w.err
	}
	if len(w.sizes) == 0 && !key {
		w.err = errors.New("mp4: the first sample must be a key frame")
		return w.err
	}
	if _, err := w.spool.Write(data); err != nil {
		w.err = fmt.Errorf("mp4: spooling sample %d: %w", len(w.sizes), err)
		return w.err
	}
	w.sizes = append(w.sizes, uint32(len(data)))
	if key {
		w.keys = append(w.keys, uint32(len(w.sizes)))
	}
	w.total += int64(len(data))
	return nil
}

// Samples returns the number of samples written.
func (w *Writer) Samples() int { return len(w.sizes) }

// Finish writes the whole MP4 (ftyp, moov, mdat) to out.
func (w *Writer) Finish(out io.Writer) error {
	if w.err != nil {
		return w.err
	}
	if len(w.sizes) == 0 {
		return errors.New("mp4: no samples written")
	}
	if uint64(len(w.sizes))*uint64(w.cfg.FPS.Den) > math.MaxUint32 {
		// The 32-bit (version 0) headers cannot hold the duration.
		return fmt.Errorf("mp4: %d samples at %v fps are too long for this writer", len(w.sizes), w.cfg.FPS)
	}
	ftyp := box("ftyp", []byte("isom"), u32(0x200), []byte("isomiso2avc1mp41"))
	// The chunk offset depends on the moov size, which depends on whether
	// 64-bit offsets are needed: build with 32-bit, switch if too far.
	large := w.total+16 > math.MaxUint32-(1<<24)
	moov := w.moov(0, large)
	mdatHeader := 8
	if large {
		mdatHeader = 16
	}
	offset := int64(len(ftyp) + len(moov) + mdatHeader)
	moov = w.moov(offset, large)

	bw := bufio.NewWriterSize(out, 1<<20)
	bw.Write(ftyp)
	bw.Write(moov)
	if large {
		bw.Write(u32(1))
		bw.Write([]byte("mdat"))
		bw.Write(u64(uint64(w.total + 16)))
	} else {
		bw.Write(u32(uint32(w.total + 8)))
		bw.Write([]byte("mdat"))
	}
	if _, err := w.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	if n, err := io.Copy(bw, w.spool); err != nil || n != w.total {
		return fmt.Errorf("mp4: copying %d bytes of samples (copied %d): %v", w.total, n, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	return nil
}

// moov builds the movie box; all samples form one chunk at offset.
func (w *Writer) moov(offset int64, large bool) []byte {
	c := w.cfg
	n := uint32(len(w.sizes))
	mediaDur := uint64(n) * uint64(c.FPS.Den) // in 1/Num s
	const movieScale = 1000
	movieDur := (mediaDur*movieScale + uint64(c.FPS.Num)/2) / uint64(c.FPS.Num)

	matrix := cat(u32(0x10000), u32(0), u32(0), u32(0), u32(0x10000), u32(0), u32(0), u32(0), u32(0x40000000))
	mvhd := fullBox("mvhd", 0, 0, u32(0), u32(0), u32(movieScale), u32(uint32(movieDur)),
		u32(0x10000), u16(0x100), make([]byte, 10), matrix, make([]byte, 24), u32(2))
	tkhd := fullBox("tkhd", 0, 3, u32(0), u32(0), u32(1), u32(0), u32(uint32(movieDur)),
		make([]byte, 8), u16(0), u16(0), u16(0), u16(0), matrix,
		u32(uint32(c.Width)<<16), u32(uint32(c.Height)<<16))
	mdhd := fullBox("mdhd", 0, 0, u32(0), u32(0), u32(uint32(c.FPS.Num)), u32(uint32(mediaDur)),
		u16(0x55c4), u16(0)) // language "und"
	hdlr := fullBox("hdlr", 0, 0, u32(0), []byte("vide"), make([]byte, 12), []byte("VideoHandler\x00"))

	sps := c.SPS
	avcC := cat([]byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}, u16(uint16(len(sps))), sps,
		[]byte{1}, u16(uint16(len(c.PPS))), c.PPS)
	if p := sps[1]; p == 100 || p == 110 || p == 122 || p == 144 {
		// High profiles carry chroma format and bit depths (ISO/IEC
		// 14496-15 §5.3.3.1.2); body4d writes 4:2:0, 8 bit.
		avcC = append(avcC, 0xfc|1, 0xf8, 0xf8, 0)
	}
	compressor := make([]byte, 32)
	avc1 := box("avc1", make([]byte, 6), u16(1), make([]byte, 16),
		u16(uint16(c.Width)), u16(uint16(c.Height)), u32(0x480000), u32(0x480000), u32(0), u16(1),
		compressor, u16(0x18), u16(0xffff), box("avcC", avcC))
	stsd := fullBox("stsd", 0, 0, u32(1), avc1)
	stts := fullBox("stts", 0, 0, u32(1), u32(n), u32(uint32(c.FPS.Den)))
	stss := fullBox("stss", 0, 0, u32(uint32(len(w.keys))), u32s(w.keys))
	stsc := fullBox("stsc", 0, 0, u32(1), u32(1), u32(n), u32(1))
	stsz := fullBox("stsz", 0, 0, u32(0), u32(n), u32s(w.sizes))
	var stco []byte
	if large {
		stco = fullBox("co64", 0, 0, u32(1), u64(uint64(offset)))
	} else {
		stco = fullBox("stco", 0, 0, u32(1), u32(uint32(offset)))
	}
	stbl := box("stbl", stsd, stts, stss, stsc, stsz, stco)
	dinf := box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)))
	minf := box("minf", fullBox("vmhd", 0, 1, make([]byte, 8)), dinf, stbl)
	trak := box("trak", tkhd, box("mdia", mdhd, hdlr, minf))
	return box("moov", mvhd, trak)
}

func box(typ string, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(u32(uint32(8+len(body))), []byte(typ), body)
}

func fullBox(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	vf := u32(uint32(version)<<24 | flags&0xffffff)
	return box(typ, append([][]byte{vf}, parts...)...)
}

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func u32s(vs []uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}
