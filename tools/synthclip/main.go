// Command synthclip generates body4d's shipped test clip: three people-like
// figures (head, torso, two-segment limbs) walking and waving over a
// textured background, one crossing in front of another and one leaving the
// frame. It writes sample.mp4 at the exact rate 30000/1001 through the
// video package's encoder, and clicks.json with suggested point prompts
// (frame, x, y, person) placed on pixels the figure really covers in that
// frame, read back from the program's own person-id buffer.
//
// Everything is a function of the frame index and a fixed seed, so the
// frames are the same on every run; the MP4 bytes depend only on the
// installed ffmpeg/libx264.
//
//	go run ./tools/synthclip -out sample/clip
//
// It also writes masks/, the true masks of every person on every frame
// as label images (package masks); -masks-only writes only those.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/body4d/body4d/masks"
	render4d "github.com/body4d/body4d/render"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

const (
	width, height = 640, 360
	frames        = 90 // 3 s at 29.97 fps
)

var fps = scene.Rational{Num: 30000, Den: 1001}

type rgb struct{ r, g, b float64 }

// figure is one person: where it is at frame t and how its limbs move.
type figure struct {
	id                 scene.PersonID
	shirt, pants, skin rgb
	scale              float64                    // body height in pixels / 200
	pos                func(t int) (x, y float64) // hip centre
	walk               func(t int) float64        // gait phase (radians); limbs swing with sin
	wave               bool                       // right arm raised and waving
	depth              float64                    // larger is nearer the camera, drawn later
}

func main() {
	out := flag.String("out", "sample/clip", "output folder")
	crf := flag.Int("crf", 20, "x264 CRF")
	masksOnly := flag.Bool("masks-only", false, "write only masks/ (the true person masks as label images) and clicks.json, not the video")
	flag.Parse()
	var err error
	if *masksOnly {
		err = writeClicks(*out)
	} else {
		err = run(*out, *crf)
	}
	if err == nil {
		err = writeMasks(filepath.Join(*out, "masks"))
	}
	if err != nil {
		log.Fatal(err)
	}
}

// writeMasks writes every frame's true person masks, read from the
// renderer's own person-id buffer, as label images: masks that body4d's
// later stages can take instead of the tracker's.
func writeMasks(dir string) error {
	src := &truth{bg: background(rand.New(rand.NewPCG(4, 2))), figs: figures(), frame: -1}
	return masks.Write(dir, src, frames, func(id scene.PersonID) color.Color {
		c, err := render4d.PersonColor(id)
		if err != nil {
			return color.Black
		}
		return c
	})
}

// truth is the clip's true masks as a scene.MaskSource.
type truth struct {
	bg    *scene.RGB
	figs  []figure
	frame int
	ids   []scene.PersonID
}

func (t *truth) People() []scene.PersonID {
	var ids []scene.PersonID
	for _, f := range t.figs {
		ids = append(ids, f.id)
	}
	return ids
}

func (t *truth) Mask(frame int, id scene.PersonID) (*scene.Mask, error) {
	if frame != t.frame {
		_, t.ids = render(t.bg, t.figs, frame)
		t.frame = frame
	}
	m := scene.NewMask(width, height)
	n := 0
	for i, v := range t.ids {
		if v == id {
			m.Pix[i] = 1
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	return m, nil
}

func run(out string, crf int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bg := background(rand.New(rand.NewPCG(4, 2)))
	figs := figures()
	enc, err := video.Create(context.Background(), filepath.Join(out, "sample.mp4"),
		video.EncodeOptions{FPS: fps, CRF: crf, Preset: "slow"})
	if err != nil {
		return err
	}
	var clicks []click
	for t := 0; t < frames; t++ {
		img, ids := render(bg, figs, t)
		if err := enc.Write(img); err != nil {
			enc.Close()
			return err
		}
		if t == 0 {
			// One click per person on the first frame: the tracker
			// follows them from there.
			clicks = append(clicks, suggestClicks(figs, ids, t)...)
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return writeMeta(out, clicks)
}

// writeClicks writes clicks.json alone, from the first frame's person ids.
func writeClicks(out string) error {
	figs := figures()
	_, ids := render(background(rand.New(rand.NewPCG(4, 2))), figs, 0)
	return writeMeta(out, suggestClicks(figs, ids, 0))
}

func writeMeta(out string, clicks []click) error {
	meta := clipMeta{Video: "sample.mp4", Width: width, Height: height, FPS: fps.String(), Frames: frames, Clicks: clicks}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "clicks.json"), append(b, '\n'), 0o644)
}

type click struct {
	Frame  int            `json:"frame"`
	X      float64        `json:"x"`
	Y      float64        `json:"y"`
	Person scene.PersonID `json:"person"`
}

type clipMeta struct {
	Video  string  `json:"video"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    string  `json:"fps"`
	Frames int     `json:"frames"`
	Clicks []click `json:"clicks"`
}

func figures() []figure {
	ground := 300.0
	return []figure{
		{ // walks left to right, behind person 2
			id: 1, shirt: rgb{200, 40, 40}, pants: rgb{40, 60, 150}, skin: rgb{230, 180, 150}, scale: 1.0, depth: 1,
			pos:  func(t int) (float64, float64) { return 90 + 4.2*float64(t), ground - 90 },
			walk: func(t int) float64 { return 0.35 * float64(t) },
		},
		{ // walks right to left in front, crossing person 1 around frame 40
			id: 2, shirt: rgb{40, 170, 70}, pants: rgb{50, 50, 50}, skin: rgb{170, 120, 90}, scale: 1.15, depth: 2,
			pos:  func(t int) (float64, float64) { return 520 - 3.6*float64(t), ground + 15 - 103 },
			walk: func(t int) float64 { return 0.3*float64(t) + 1 },
		},
		{ // stands and waves, then walks out of the right edge
			id: 3, shirt: rgb{230, 200, 40}, pants: rgb{120, 50, 140}, skin: rgb{240, 200, 170}, scale: 0.85, depth: 0, wave: true,
			pos: func(t int) (float64, float64) {
				x := 560.0
				if t > 50 {
					x += 4.5 * float64(t-50)
				}
				return x, ground - 30 - 77
			},
			walk: func(t int) float64 {
				if t > 50 {
					return 0.35 * float64(t-50)
				}
				return 0
			},
		},
	}
}

// background is a tiled floor and a wall with value noise, static over
// time (as a tripod shot), which gives texture without costing bits.
func background(rng *rand.Rand) *scene.RGB {
	img := scene.NewRGB(image.Rect(0, 0, width, height))
	const cell = 16
	gw, gh := width/cell+2, height/cell+2
	grid := make([]float64, gw*gh)
	for i := range grid {
		grid[i] = rng.Float64()
	}
	noise := func(x, y float64) float64 { // bilinear value noise
		gx, gy := x/cell, y/cell
		ix, iy := int(gx), int(gy)
		fx, fy := gx-float64(ix), gy-float64(iy)
		a := grid[iy*gw+ix]*(1-fx) + grid[iy*gw+ix+1]*fx
		b := grid[(iy+1)*gw+ix]*(1-fx) + grid[(iy+1)*gw+ix+1]*fx
		return a*(1-fy) + b*fy
	}
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			n := noise(float64(x), float64(y))
			var c rgb
			if y < 230 { // wall with horizontal planks
				v := 150 + 40*n
				if y%40 < 2 {
					v -= 40
				}
				c = rgb{v, v * 0.95, v * 0.85}
			} else { // floor tiles
				v := 110 + 30*n
				if (x/48+(y-230)/24)%2 == 0 {
					v += 25
				}
				c = rgb{v * 0.8, v * 0.85, v}
			}
			img.SetRGB(x, y, clamp8(c.r), clamp8(c.g), clamp8(c.b))
		}
	}
	return img
}

// render draws the figures far to near over bg and returns the frame and
// the id of the figure covering each pixel (0 for background).
func render(bg *scene.RGB, figs []figure, t int) (*scene.RGB, []scene.PersonID) {
	img := scene.NewRGB(bg.Rect)
	copy(img.Pix, bg.Pix)
	ids := make([]scene.PersonID, width*height)
	order := append([]figure(nil), figs...)
	for i := 1; i < len(order); i++ { // few figures: insertion sort by depth
		for j := i; j > 0 && order[j].depth < order[j-1].depth; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, f := range order {
		drawFigure(img, ids, f, t)
	}
	return img, ids
}

type pt struct{ x, y float64 }

func drawFigure(img *scene.RGB, ids []scene.PersonID, f figure, t int) {
	s := f.scale
	hx, hy := f.pos(t)
	ph := f.walk(t)
	bob := 2 * s * math.Abs(math.Sin(ph))
	hip := pt{hx, hy - bob}
	neck := pt{hx, hip.y - 70*s}
	head := pt{hx, neck.y - 22*s}
	limb := func(root pt, a1, a2, l1, l2 float64) (pt, pt) {
		// angles from straight down, positive towards +x
		j := pt{root.x + l1*math.Sin(a1), root.y + l1*math.Cos(a1)}
		e := pt{j.x + l2*math.Sin(a1+a2), j.y + l2*math.Cos(a1+a2)}
		return j, e
	}
	swing := 0.5 * math.Sin(ph)
	// far limbs first, darker, so the body occludes them
	shade := func(c rgb, k float64) rgb { return rgb{c.r * k, c.g * k, c.b * k} }
	legs := []float64{swing, -swing}
	for i, a := range legs {
		k := 1.0
		if i == 0 {
			k = 0.75
		}
		knee, foot := limb(pt{hip.x, hip.y}, a, -0.4*math.Max(0, math.Sin(ph+float64(i)*math.Pi)), 45*s, 45*s)
		capsule(img, ids, f.id, hip, knee, 9*s, shade(f.pants, k))
		capsule(img, ids, f.id, knee, foot, 8*s, shade(f.pants, k))
	}
	shoulder := pt{hx, neck.y + 8*s}
	// left arm swings opposite to the legs
	elbow, hand := limb(shoulder, -swing*0.8, 0.3, 32*s, 30*s)
	capsule(img, ids, f.id, shoulder, elbow, 6.5*s, shade(f.shirt, 0.75))
	capsule(img, ids, f.id, elbow, hand, 5.5*s, shade(f.skin, 0.85))
	ellipse(img, ids, f.id, pt{hx, (hip.y + neck.y) / 2}, 20*s, 40*s, f.shirt)
	if f.wave {
		a := math.Pi*0.85 + 0.35*math.Sin(0.4*float64(t))
		elbow, hand = limb(shoulder, a, 0.5*math.Sin(0.4*float64(t)), 32*s, 30*s)
	} else {
		elbow, hand = limb(shoulder, swing*0.8, 0.3, 32*s, 30*s)
	}
	capsule(img, ids, f.id, shoulder, elbow, 6.5*s, f.shirt)
	capsule(img, ids, f.id, elbow, hand, 5.5*s, f.skin)
	capsule(img, ids, f.id, neck, pt{hx, neck.y - 6*s}, 6*s, f.skin)
	ellipse(img, ids, f.id, head, 15*s, 18*s, f.skin)
}

// capsule fills the points within r of segment ab, anti-aliased over one
// pixel.
func capsule(img *scene.RGB, ids []scene.PersonID, id scene.PersonID, a, b pt, r float64, c rgb) {
	fill(img, ids, id, math.Min(a.x, b.x)-r-1, math.Min(a.y, b.y)-r-1, math.Max(a.x, b.x)+r+1, math.Max(a.y, b.y)+r+1,
		func(x, y float64) float64 {
			dx, dy := b.x-a.x, b.y-a.y
			u := 0.0
			if l := dx*dx + dy*dy; l > 0 {
				u = math.Max(0, math.Min(1, ((x-a.x)*dx+(y-a.y)*dy)/l))
			}
			return r - math.Hypot(x-a.x-u*dx, y-a.y-u*dy)
		}, c)
}

func ellipse(img *scene.RGB, ids []scene.PersonID, id scene.PersonID, o pt, rx, ry float64, c rgb) {
	fill(img, ids, id, o.x-rx-1, o.y-ry-1, o.x+rx+1, o.y+ry+1, func(x, y float64) float64 {
		// signed distance approximated by scaling the normalised radius
		d := math.Hypot((x-o.x)/rx, (y-o.y)/ry)
		return (1 - d) * math.Min(rx, ry)
	}, c)
}

// fill blends colour c over the pixels of the box by coverage
// clamp(sd+0.5, 0, 1), where sd is the signed distance inside the shape.
func fill(img *scene.RGB, ids []scene.PersonID, id scene.PersonID, x0, y0, x1, y1 float64, sd func(x, y float64) float64, c rgb) {
	for y := max(0, int(y0)); y <= min(height-1, int(y1)); y++ {
		for x := max(0, int(x0)); x <= min(width-1, int(x1)); x++ {
			a := math.Max(0, math.Min(1, sd(float64(x)+0.5, float64(y)+0.5)+0.5))
			if a == 0 {
				continue
			}
			i := img.PixOffset(x, y)
			p := img.Pix[i : i+3]
			p[0] = clamp8(float64(p[0])*(1-a) + c.r*a)
			p[1] = clamp8(float64(p[1])*(1-a) + c.g*a)
			p[2] = clamp8(float64(p[2])*(1-a) + c.b*a)
			if a >= 0.5 {
				ids[y*width+x] = id
			}
		}
	}
}

// suggestClicks proposes one click per visible figure at frame t: the
// torso centre when the figure owns that pixel, else the figure's pixel
// nearest its centroid.
func suggestClicks(figs []figure, ids []scene.PersonID, t int) []click {
	var out []click
	for _, f := range figs {
		hx, hy := f.pos(t)
		cx, cy := math.Round(hx), math.Round(hy-35*f.scale)
		if inFrame(cx, cy) && ids[int(cy)*width+int(cx)] == f.id {
			out = append(out, click{Frame: t, X: cx, Y: cy, Person: f.id})
			continue
		}
		var sx, sy, n float64
		for i, id := range ids {
			if id == f.id {
				sx += float64(i % width)
				sy += float64(i / width)
				n++
			}
		}
		if n < 50 { // not visible enough to click
			continue
		}
		mx, my := sx/n, sy/n
		best, bx, by := math.Inf(1), 0, 0
		for i, id := range ids {
			if id == f.id {
				x, y := i%width, i/width
				if d := math.Hypot(float64(x)-mx, float64(y)-my); d < best {
					best, bx, by = d, x, y
				}
			}
		}
		out = append(out, click{Frame: t, X: float64(bx), Y: float64(by), Person: f.id})
	}
	return out
}

func inFrame(x, y float64) bool { return x >= 0 && y >= 0 && x < width && y < height }

func clamp8(v float64) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

func init() { log.SetFlags(0); log.SetPrefix(fmt.Sprintf("%s: ", filepath.Base(os.Args[0]))) }
