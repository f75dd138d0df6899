package video

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/body4d/body4d/scene"
)

// Probe describes a video file's first real video stream.
type Probe struct {
	scene.VideoInfo        // display size (after rotation), exact rate, frame count
	Stream          int    // index of the stream in the container
	Codec           string // e.g. "h264"
	PixFmt          string // source pixel format, e.g. "yuv420p"
	Rotation        int    // degrees the player rotates the coded frame: 0, 90, 180 or 270
	CodedWidth      int    // width before rotation
	CodedHeight     int    // height before rotation
}

type probeJSON struct {
	Streams []struct {
		Index        int    `json:"index"`
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		PixFmt       string `json:"pix_fmt"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
		NbFrames     string `json:"nb_frames"`
		NbReadPkts   string `json:"nb_read_packets"`
		Disposition  struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		Tags struct {
			Rotate string `json:"rotate"`
		} `json:"tags"`
		SideData []sideData `json:"side_data_list"`
	} `json:"streams"`
}

// sideData is an entry of a stream's side data; only the display matrix's
// rotation is read.
type sideData struct {
	Rotation *float64 `json:"rotation"`
}

// ProbeFile reads the facts of path's first video stream with ffprobe.
//
// The rule for what can be decoded: the file must hold a video stream that
// is not an attached picture (cover art), with a known pixel format and a
// non-zero size. Every such stream is accepted whatever its pixel format:
// ffmpeg converts it to 8-bit rgb24 (high bit depth is reduced to 8 bits,
// alpha is dropped). The frame count comes from the container (nb_frames);
// when the container does not store it, the stream's packets are counted,
// which reads the file but decodes nothing.
func ProbeFile(ctx context.Context, path string, tools Tools) (*Probe, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	return probeSource(ctx, trusted(path), tools)
}

func probeSource(ctx context.Context, src source, tools Tools) (*Probe, error) {
	path := src.name
	tools, err := tools.resolve()
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	pj, err := runProbe(ctx, tools, src, "-show_entries",
		"stream=index,codec_type,codec_name,width,height,pix_fmt,avg_frame_rate,r_frame_rate,nb_frames:stream_disposition=attached_pic:stream_tags=rotate:stream_side_data=rotation")
	if err != nil {
		return nil, err
	}
	for _, s := range pj.Streams {
		if s.CodecType != "video" || s.Disposition.AttachedPic != 0 {
			continue
		}
		p := &Probe{Stream: s.Index, Codec: s.CodecName, PixFmt: s.PixFmt,
			CodedWidth: s.Width, CodedHeight: s.Height}
		if s.Width <= 0 || s.Height <= 0 {
			return nil, fmt.Errorf("video %s: stream %d (%s) has no frame size", path, s.Index, s.CodecName)
		}
		if s.PixFmt == "" || s.PixFmt == "none" {
			return nil, fmt.Errorf("video %s: stream %d (%s): unsupported pixel format (ffmpeg reports none)", path, s.Index, s.CodecName)
		}
		p.FPS, err = parseRate(s.AvgFrameRate)
		if err != nil {
			p.FPS, err = parseRate(s.RFrameRate)
		}
		if err != nil {
			return nil, fmt.Errorf("video %s: stream %d has no frame rate (avg_frame_rate %q, r_frame_rate %q)",
				path, s.Index, s.AvgFrameRate, s.RFrameRate)
		}
		p.Rotation = rotation(s.Tags.Rotate, s.SideData)
		p.Width, p.Height = s.Width, s.Height
		if p.Rotation == 90 || p.Rotation == 270 {
			// ffmpeg applies the display rotation when decoding.
			p.Width, p.Height = s.Height, s.Width
		}
		if n, err := strconv.Atoi(s.NbFrames); err == nil && n > 0 {
			p.Frames = n
		} else {
			cj, err := runProbe(ctx, tools, src, "-select_streams", strconv.Itoa(s.Index),
				"-count_packets", "-show_entries", "stream=nb_read_packets")
			if err != nil {
				return nil, err
			}
			if len(cj.Streams) == 1 {
				p.Frames, _ = strconv.Atoi(cj.Streams[0].NbReadPkts)
			}
		}
		if p.Frames == 0 {
			return nil, fmt.Errorf("video %s: stream %d has zero frames", path, s.Index)
		}
		return p, nil
	}
	return nil, fmt.Errorf("video %s: no video stream (zero frames)", path)
}

func runProbe(ctx context.Context, tools Tools, src source, args ...string) (*probeJSON, error) {
	path := src.name
	args = append([]string{"-v", "error", "-of", "json"}, args...)
	args = append(args, src.inputArgs()...)
	cmd := exec.CommandContext(ctx, tools.FFprobe, args...)
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("video %s: %w", path, ctx.Err())
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("video %s: not a readable video: ffprobe: %s", path, src.clean(stderr.summary()))
		}
		return nil, fmt.Errorf("video %s: running ffprobe: %w", path, err)
	}
	var pj probeJSON
	if err := json.Unmarshal(out, &pj); err != nil {
		return nil, fmt.Errorf("video %s: parsing ffprobe output: %w", path, err)
	}
	return &pj, nil
}

// parseRate parses ffprobe's "num/den" into a reduced Rational; "0/0" and
// malformed rates are errors.
func parseRate(s string) (scene.Rational, error) {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		den = "1"
	}
	n, err1 := strconv.Atoi(num)
	d, err2 := strconv.Atoi(den)
	if err1 != nil || err2 != nil || n <= 0 || d <= 0 {
		return scene.Rational{}, fmt.Errorf("bad frame rate %q", s)
	}
	g := gcd(n, d)
	return scene.Rational{Num: n / g, Den: d / g}, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// rotation returns the clockwise display rotation in degrees, rounded to
// the nearest multiple of 90 and normalised to 0, 90, 180 or 270 (frames
// are only ever turned by quarter turns). ffprobe reports the display
// matrix's angle, which is counter-clockwise and may carry rounding
// (-89.99), in side data; old files carry a "rotate" tag (clockwise).
func rotation(tag string, side []sideData) int {
	deg := 0.0
	for _, sd := range side {
		if sd.Rotation != nil {
			deg = -*sd.Rotation
		}
	}
	if deg == 0 && tag != "" {
		if v, err := strconv.ParseFloat(tag, 64); err == nil {
			deg = v
		}
	}
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return 0
	}
	q := int(math.Mod(math.Round(deg/90), 4))
	if q < 0 {
		q += 4
	}
	return q * 90
}
