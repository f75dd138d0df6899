package job

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/body4d/body4d"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/masks"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/render"
	"github.com/body4d/body4d/scene"
	"github.com/body4d/body4d/video"
)

// frameParams is one person's parameters on one frame as written to
// people/<id>/params.json.
type frameParams struct {
	Frame   int          `json:"frame"`
	Present bool         `json:"present"`
	Visible bool         `json:"visible"`
	Model   [204]float32 `json:"model"` // 3 translation, 3 rotation (ZYX Euler), 130 pose, 68 scales
	Shape   [45]float32  `json:"shape"`
	Expr    *[72]float32 `json:"expr,omitempty"` // face expression; absent when neutral (always, from the mesh stage)
	CamT    [3]float64   `json:"cam_t"`
	Focal   float64      `json:"focal"`
	Mesh    string       `json:"mesh,omitempty"` // PLY file name in the same folder
}

// writePeople writes each person's parameters under dir/<id>/, filed
// by person id (never by position in a list, so gaps in ids cannot mix
// people up): params.json and params.npz with every frame's smoothed
// parameters. The meshes and keypoints named there are written by
// writeVideo, which poses each body once for both.
func writePeople(ctx context.Context, dir string, res *body4d.Result, body *mesh.Body) ([]PersonOutput, error) {
	var out []PersonOutput
	for _, tr := range res.Tracks {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		pdir := filepath.Join(dir, strconv.Itoa(int(tr.ID)))
		po := PersonOutput{ID: tr.ID, Dir: pdir}
		var err error
		if po.Frames, err = writeParams(pdir, tr, body != nil); err != nil {
			return out, err
		}
		out = append(out, po)
	}
	return out, nil
}

// writeParams writes a track's params.json and params.npz into pdir;
// withMesh names each present frame's PLY in params.json. It returns the
// frames with a mesh.
func writeParams(pdir string, tr body4d.Track, withMesh bool) (meshes int, err error) {
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return 0, err
	}
	rows := make([]frameParams, len(tr.Params))
	for i, p := range tr.Params {
		f := tr.Start + i
		rows[i] = frameParams{Frame: f, Present: tr.Present[i], Visible: tr.Visible[i],
			Model: p.Model, Shape: p.Shape, CamT: p.CamT, Focal: p.Focal}
		if p.Expr != ([72]float32{}) {
			rows[i].Expr = &p.Expr
		}
		if withMesh && tr.Present[i] {
			rows[i].Mesh = meshName(f)
			meshes++
		}
	}
	if err := writeJSON(filepath.Join(pdir, "params.json"), rows); err != nil {
		return meshes, err
	}
	return meshes, writeParamsNPZ(filepath.Join(pdir, "params.npz"), tr)
}

func meshName(frame int) string { return fmt.Sprintf("mesh_%06d.ply", frame) }

// writeParamsNPZ writes a track as NumPy arrays, one row per frame:
// frame, present, visible, model [T,204], shape [T,45], expr [T,72],
// cam_t [T,3], focal [T] — what numpy.load gives a script directly.
func writeParamsNPZ(path string, tr body4d.Track) error {
	n := len(tr.Params)
	frame := make([]int64, n)
	model := make([][204]float32, n)
	shape := make([][45]float32, n)
	expr := make([][72]float32, n)
	camT := make([][3]float64, n)
	focal := make([]float64, n)
	for i, p := range tr.Params {
		frame[i] = int64(tr.Start + i)
		model[i], shape[i], expr[i], camT[i], focal[i] = p.Model, p.Shape, p.Expr, p.CamT, p.Focal
	}
	tmp := path + ".tmp"
	err := npz.Write(tmp, map[string]any{
		"frame.npy": frame, "present.npy": tr.Present, "visible.npy": tr.Visible,
		"model.npy": model, "shape.npy": shape, "expr.npy": expr, "cam_t.npy": camT, "focal.npy": focal,
	})
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// frameKeypoints is one person's keypoints on one frame as written to
// people/<id>/keypoints.json.
type frameKeypoints struct {
	Frame int           `json:"frame"`
	KP3D  [][3]float32  `json:"keypoints_3d"` // camera frame, metres
	KP2D  []*[2]float64 `json:"keypoints_2d"` // pixels; null for a point at or behind the camera
}

func keypoints(frame int, kp []float32, K scene.Intrinsics) frameKeypoints {
	out := frameKeypoints{Frame: frame}
	for i := 0; i+2 < len(kp); i += 3 {
		x, y, z := kp[i], kp[i+1], kp[i+2]
		out.KP3D = append(out.KP3D, [3]float32{x, y, z})
		var p *[2]float64
		if z > 0 {
			p = &[2]float64{K.Fx*float64(x)/float64(z) + K.Cx, K.Fy*float64(y)/float64(z) + K.Cy}
		}
		out.KP2D = append(out.KP2D, p)
	}
	return out
}

// writePLY writes a binary little-endian PLY, which every mesh tool
// (Blender, MeshLab, trimesh, Open3D) reads.
func writePLY(path string, m *scene.Mesh) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "ply\nformat binary_little_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\n"+
		"element face %d\nproperty list uchar uint vertex_indices\nend_header\n", m.NumVertices(), m.NumFaces())
	var b [13]byte
	for i := 0; i < len(m.Vertices); i += 3 {
		for k := range 3 {
			binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(m.Vertices[i+k]))
		}
		w.Write(b[:12])
	}
	b[0] = 3
	for i := 0; i < len(m.Faces); i += 3 {
		for k := range 3 {
			binary.LittleEndian.PutUint32(b[1+4*k:], m.Faces[i+k])
		}
		w.Write(b[:13])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeVideo encodes the result video: each frame with the people's
// meshes drawn over it when there is a body model, else their masks
// painted in their colours, and the clicks marked. With a body model it
// also writes each present person's mesh (PLY) into their folder of
// people, and at the end their keypoints.json: the 70 keypoints of each
// present frame in 3D (camera frame, metres) and 2D (pixels, through that
// frame's camera).
func writeVideo(ctx context.Context, frames scene.FrameSource, res *body4d.Result, body *mesh.Body,
	people []PersonOutput, spec Spec, k kernels.Kernels, path string, progress func(body4d.Event)) error {
	info := frames.Info()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	dirs := map[scene.PersonID]string{}
	for _, p := range people {
		dirs[p.ID] = p.Dir
	}
	var rend *render.Renderer
	kps := map[scene.PersonID][]frameKeypoints{}
	if body != nil {
		var err error
		if rend, err = render.New(render.Options{Opacity: 0.85, Kernels: k}); err != nil {
			return err
		}
	}
	// Cancelling the encoder's context makes Close discard the partial
	// file, so a failed run never leaves a half-written MP4.
	encCtx, abort := context.WithCancel(ctx)
	defer abort()
	enc, err := video.Create(encCtx, path, video.EncodeOptions{FPS: info.FPS, CRF: spec.CRF})
	if err != nil {
		return err
	}
	fail := func(err error) error {
		abort()
		enc.Close()
		return err
	}
	var items []render.Item
	var img scene.RGB // one buffer for every frame: no garbage per frame
	for i := 0; i < info.Frames; i++ {
		src, err := frames.Frame(i)
		if err != nil {
			return fail(err)
		}
		img = scene.RGB{Pix: append(img.Pix[:0], src.Pix...), Stride: src.Stride, Rect: src.Rect}
		switch {
		case rend != nil:
			items = items[:0]
			for _, tr := range res.Tracks {
				k := i - tr.Start
				if k < 0 || k >= len(tr.Params) || !tr.Present[k] {
					continue
				}
				m, kp, err := body.Pose(tr.Params[k])
				if err != nil {
					return fail(fmt.Errorf("person %d, frame %d: %w", tr.ID, i, err))
				}
				if err := writePLY(filepath.Join(dirs[tr.ID], meshName(i)), m); err != nil {
					return fail(err)
				}
				kps[tr.ID] = append(kps[tr.ID], keypoints(i, kp, res.Cameras[i]))
				items = append(items, render.Item{Person: tr.ID, Mesh: m})
			}
			if err := rend.Render(&img, items, res.Cameras[i]); err != nil {
				return fail(fmt.Errorf("rendering frame %d: %w", i, err))
			}
		case res.Masks != nil:
			if err := paintMasks(&img, res.Masks, i); err != nil {
				return fail(err)
			}
		}
		drawClicks(&img, spec.Prompts.Clicks, i)
		if err := enc.Write(&img); err != nil {
			return fail(fmt.Errorf("encoding frame %d: %w", i, err))
		}
		progress(body4d.Event{Stage: "render", Done: i + 1, Total: info.Frames})
	}
	if rend != nil {
		for _, p := range people {
			rows := kps[p.ID]
			if rows == nil {
				rows = []frameKeypoints{} // "[]", not "null", for a person never present
			}
			if err := writeJSON(filepath.Join(p.Dir, "keypoints.json"), rows); err != nil {
				return fail(err)
			}
		}
	}
	return enc.Close()
}

// writeMasks writes the people's masks as label images in their colours.
func writeMasks(dir string, src scene.MaskSource, frames int) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return masks.Write(dir, src, frames, func(id scene.PersonID) color.Color {
		c, err := render.PersonColor(id)
		if err != nil {
			return color.Black
		}
		return c
	})
}

// paintMasks blends each present person's mask into img in the person's
// colour at half opacity, as the reference's mask preview does.
func paintMasks(img *scene.RGB, masks scene.MaskSource, frame int) error {
	b := img.Bounds()
	for _, id := range masks.People() {
		m, err := masks.Mask(frame, id)
		if err != nil {
			return fmt.Errorf("mask of person %d on frame %d: %w", id, frame, err)
		}
		if m == nil {
			continue
		}
		if m.W != b.Dx() || m.H != b.Dy() {
			return fmt.Errorf("mask of person %d on frame %d is %dx%d, frame is %dx%d", id, frame, m.W, m.H, b.Dx(), b.Dy())
		}
		c, err := render.PersonColor(id)
		if err != nil {
			return err
		}
		for y := 0; y < m.H; y++ {
			row := img.Pix[y*img.Stride : y*img.Stride+3*m.W]
			for x, v := range m.Pix[y*m.W : (y+1)*m.W] {
				if v == 0 {
					continue
				}
				p := row[3*x : 3*x+3]
				p[0] = uint8((uint16(p[0]) + uint16(c.R) + 1) / 2)
				p[1] = uint8((uint16(p[1]) + uint16(c.G) + 1) / 2)
				p[2] = uint8((uint16(p[2]) + uint16(c.B) + 1) / 2)
			}
		}
	}
	return nil
}
