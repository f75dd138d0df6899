// Command custom shows body4d with masks made elsewhere: it reads a video
// and a folder of label images (one PNG per frame, pixel value = person
// id), recovers each person's body on each frame with the mesh stage,
// smooths the tracks, and writes one OBJ mesh per person per frame.
//
//	go run ./examples/custom                       # the built-in clip, its true masks, tiny models
//	go run ./examples/custom -video V -masks DIR -models MODELS -out out/custom
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/engine/ort"
	"github.com/body4d/body4d/job"
	"github.com/body4d/body4d/masks"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/sample"
	"github.com/body4d/body4d/smooth"
	"github.com/body4d/body4d/video"
)

func main() {
	sampleDir, err := job.SampleDir()
	if err != nil {
		log.Fatal(err)
	}
	clip := flag.String("video", filepath.Join(sampleDir, "clip", sample.Clip), "video file")
	maskDir := flag.String("masks", filepath.Join(sampleDir, "clip", sample.Masks), "folder of label images")
	modelDir := flag.String("models", filepath.Join(sampleDir, "models", "tiny"), "model directory (default: tiny random-weight models)")
	out := flag.String("out", filepath.Join("out", "custom"), "output folder")
	flag.Parse()
	if err := run(context.Background(), *clip, *maskDir, *modelDir, *out); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, clip, maskDir, modelDir, out string) error {
	// Decode into an on-disk frame store, so memory stays bounded.
	store := filepath.Join(out, "frames")
	if err := os.RemoveAll(store); err != nil {
		return err
	}
	frames, err := video.ImportFile(ctx, clip, video.Options{}, store, video.StoreOptions{})
	if err != nil {
		return err
	}
	defer frames.Close()
	people, err := masks.OpenFolder(maskDir, frames.Info())
	if err != nil {
		return err
	}

	// The mesh stage's engines, on ONNX Runtime.
	dir, err := models.Open(modelDir)
	if err != nil {
		return err
	}
	rt, err := ort.Open(ort.Options{}) // the library ort.FindLibrary finds
	if err != nil {
		return err
	}
	defer rt.Close()
	rec, err := mesh.Open(dir, rt.Load, mesh.Options{MaxBatch: 8})
	if err != nil {
		return err
	}
	defer rec.Close()

	// Given masks, no tracker; no camera stage, so the default camera.
	p := &body4d.Pipeline{Masks: people, Mesh: rec, Smoother: smooth.Options{Mode: smooth.Kalman, CamT: true}}
	res, err := p.Run(ctx, frames, body4d.Prompts{})
	if err != nil {
		return err
	}
	body := rec.Body()
	for _, tr := range res.Tracks {
		n := 0
		for i, params := range tr.Params {
			if !tr.Present[i] {
				continue
			}
			m, err := body.Mesh(params)
			if err != nil {
				return err
			}
			name := filepath.Join(out, fmt.Sprintf("person%d_frame%04d.obj", tr.ID, tr.Start+i))
			if err := writeOBJ(name, m); err != nil {
				return err
			}
			n++
		}
		fmt.Printf("person %d: %d meshes\n", tr.ID, n)
	}
	return nil
}

// writeOBJ writes a mesh as Wavefront OBJ (1-based face indices).
func writeOBJ(path string, m *body4d.Mesh) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < len(m.Vertices); i += 3 {
		fmt.Fprintf(w, "v %g %g %g\n", m.Vertices[i], m.Vertices[i+1], m.Vertices[i+2])
	}
	for i := 0; i < len(m.Faces); i += 3 {
		fmt.Fprintf(w, "f %d %d %d\n", m.Faces[i]+1, m.Faces[i+1]+1, m.Faces[i+2]+1)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
