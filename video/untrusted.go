package video

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Containers an untrusted file may be in, as the ffmpeg demuxer that reads
// it. Each is a single self-contained file: playlists (HLS, DASH),
// concat lists, image sequences and every other format that can make
// ffmpeg open a second file or a URL are missing on purpose. The demuxer is
// chosen from the file's own leading bytes and forced with -f, so
// ffmpeg's format detection never runs on untrusted bytes.
var untrustedDemuxers = []struct {
	demuxer string
	match   func(head []byte) bool
}{
	// ISO base media (MP4, MOV, 3GP): the first box is one of these.
	{"mov", func(h []byte) bool {
		if len(h) < 8 {
			return false
		}
		switch string(h[4:8]) {
		case "ftyp", "moov", "mdat", "free", "wide", "skip", "pnot":
			return true
		}
		return false
	}},
	// Matroska and WebM: the EBML magic.
	{"matroska", func(h []byte) bool { return bytes.HasPrefix(h, []byte{0x1a, 0x45, 0xdf, 0xa3}) }},
	// AVI: a RIFF file of form "AVI ".
	{"avi", func(h []byte) bool { return len(h) >= 12 && string(h[0:4]) == "RIFF" && string(h[8:12]) == "AVI " }},
}

// UntrustedContainers names the containers an untrusted file may be in.
const UntrustedContainers = "MP4/MOV, Matroska/WebM or AVI"

// SniffUntrusted returns the demuxer that reads a file starting with head
// (its first 12 bytes suffice), or an error when the file is in none of
// the allowed containers.
func SniffUntrusted(head []byte) (string, error) {
	for _, d := range untrustedDemuxers {
		if d.match(head) {
			return d.demuxer, nil
		}
	}
	return "", fmt.Errorf("not a supported container: accepted are %s", UntrustedContainers)
}

// source is a file to probe or decode, with how ffmpeg is to treat it.
type source struct {
	path    string
	name    string // how errors name the file
	demuxer string // forced demuxer; empty lets ffmpeg detect (trusted files)
}

// trusted is a file named by the user on the command line.
func trusted(path string) source { return source{path: path, name: path} }

// untrusted checks path's leading bytes against the allow-list. name is
// how every error names the file: the server's path never appears.
func untrusted(path, name string) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return source{}, fmt.Errorf("video %s: cannot be opened", name)
	}
	defer f.Close()
	head := make([]byte, 12)
	n, _ := io.ReadFull(f, head)
	demuxer, err := SniffUntrusted(head[:n])
	if err != nil {
		return source{}, fmt.Errorf("video %s: %w", name, err)
	}
	return source{path: path, name: name, demuxer: demuxer}, nil
}

// inputArgs are ffmpeg's/ffprobe's options for reading the file. An
// untrusted file is read through the file protocol only (no network, no
// second file through another protocol), with its demuxer forced and
// MOV's external data references off.
func (s source) inputArgs() []string {
	if s.demuxer == "" {
		return []string{"-i", s.path}
	}
	args := []string{"-protocol_whitelist", "file", "-f", s.demuxer}
	if s.demuxer == "mov" {
		args = append(args, "-enable_drefs", "0")
	}
	// "file:" keeps a path that looks like a URL or an option a path.
	return append(args, "-i", "file:"+s.path)
}

// heapAddr matches the "@ 0x55d0c0a1b2c0" that ffmpeg prints after a
// component's name in its log lines.
var heapAddr = regexp.MustCompile(` ?@ 0x[0-9a-fA-F]+`)

// clean turns ffmpeg's error output into text for an error message: no
// heap addresses, and the file named as s.name, not by its path.
func (s source) clean(msg string) string {
	msg = heapAddr.ReplaceAllString(msg, "")
	if s.name != s.path {
		msg = strings.ReplaceAll(msg, "file:"+s.path, s.name)
		msg = strings.ReplaceAll(msg, s.path, s.name)
	}
	return msg
}

// ProbeUntrusted is ProbeFile for a file from an untrusted source (an
// upload): only the containers in UntrustedContainers are read, ffmpeg
// may open no other file or URL, and errors name the file as name.
func ProbeUntrusted(ctx context.Context, path, name string, tools Tools) (*Probe, error) {
	src, err := untrusted(path, name)
	if err != nil {
		return nil, err
	}
	return probeSource(ctx, src, tools)
}

// OpenUntrusted is OpenFile for a file from an untrusted source, with
// ProbeUntrusted's restrictions.
func OpenUntrusted(ctx context.Context, path, name string, tools Tools) (*Decoder, error) {
	src, err := untrusted(path, name)
	if err != nil {
		return nil, err
	}
	return openSource(ctx, src, tools)
}
