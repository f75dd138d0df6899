package segment

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/body4d/body4d/detect"
	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/scene"
)

// engineDetector is SAM-3's image-level concept detector (Sam3Image's
// forward_grounding: backbone, text-conditioned encoder, the DETR-style
// decoder with its presence token, box head and segmentation head), one
// engine from the frame to the raw outputs that detect.Postprocess reads.
const engineDetector = "detector"

// DefaultConcept is the text prompt whose embedding a model directory
// ships (file segment/concept_person).
const DefaultConcept = "person"

// detectorContract: Q queries (200 in SAM-3; the model's own number),
// T text tokens. text is the
// text encoder's output for the concept (only its valid tokens: the
// padding is cut at export), computed once at export.
func detectorContract(c Config) engine.Contract {
	f32 := func(name string, shape ...int64) engine.TensorInfo {
		return engine.TensorInfo{Name: name, DType: engine.Float32, Shape: shape}
	}
	s, l, q := int64(c.ImageSize), int64(c.lowResSize()), int64(engine.AnyDim)
	return engine.Contract{
		Stage: "segment", Engine: engineDetector, Optional: true,
		Inputs: []engine.TensorInfo{f32("img", 1, 3, s, s), f32("text", 1, dyn, hiddenDim)},
		Outputs: []engine.TensorInfo{
			f32("logits", 1, q), f32("presence", 1, 1), f32("boxes", 1, q, 4), f32("masks", 1, q, l, l),
		},
	}
}

// Detector runs the concept detector on single frames. It implements
// detect.Detector.
type Detector struct {
	eng      engine.Engine
	cfg      Config
	contract engine.Contract
	text     []float32
	tokens   int
	rs       *frameResizer
}

// OpenDetector loads the detector engine and the embedding of concept
// from a model directory. Only the shipped concept exists: other text
// needs the text encoder, which body4d does not run.
func OpenDetector(dir *models.Dir, load func(path string) (engine.Engine, error), concept string) (*Detector, error) {
	if concept != DefaultConcept {
		return nil, fmt.Errorf("segment: concept %q: the model directory ships only the %q embedding (no text encoder engine)", concept, DefaultConcept)
	}
	p, err := dir.EnginePath("segment", engineDetector)
	if err != nil {
		return nil, fmt.Errorf("auto mode needs the concept detector: %w", err)
	}
	tp, err := dir.FilePath("segment", "concept_"+concept)
	if err != nil {
		return nil, fmt.Errorf("auto mode needs the %q embedding: %w", concept, err)
	}
	text, tokens, err := readEmbedding(tp)
	if err != nil {
		return nil, err
	}
	eng, err := load(p)
	if err != nil {
		return nil, fmt.Errorf("segment/%s: %w", engineDetector, err)
	}
	c := detectorContract(SAM3())
	if errs := c.Check(eng.Info()); len(errs) > 0 {
		eng.Close()
		return nil, fmt.Errorf("segment/%s: %w", engineDetector, errs[0])
	}
	return &Detector{eng: eng, cfg: SAM3(), contract: c, text: text, tokens: tokens}, nil
}

// readEmbedding reads a [T,256] float32 .npy file.
func readEmbedding(path string) ([]float32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("segment: %w", err)
	}
	defer f.Close()
	v, shape, err := readNpyFloat32(f)
	if err != nil {
		return nil, 0, fmt.Errorf("segment: %s: %w", path, err)
	}
	if len(shape) != 2 || shape[1] != hiddenDim || shape[0] < 1 {
		return nil, 0, fmt.Errorf("segment: %s: text embedding of shape %v, want [T,%d]", path, shape, hiddenDim)
	}
	return v, shape[0], nil
}

// Close closes the engine.
func (d *Detector) Close() error { return d.eng.Close() }

// Detect runs the detector on frame i and returns its kept detections
// (detect.Postprocess) in frame pixels.
func (d *Detector) Detect(ctx context.Context, frames scene.FrameSource, i int) ([]detect.Detection, error) {
	info := frames.Info()
	img, err := frames.Frame(i)
	if err != nil {
		return nil, fmt.Errorf("segment: frame %d: %w", i, err)
	}
	if img.Rect.Dx() != info.Width || img.Rect.Dy() != info.Height {
		return nil, fmt.Errorf("segment: frame %d is %d×%d, video is %d×%d", i, img.Rect.Dx(), img.Rect.Dy(), info.Width, info.Height)
	}
	s := d.cfg.ImageSize
	if d.rs == nil || d.rs.sw != info.Width || d.rs.sh != info.Height {
		d.rs = newFrameResizer(info.Width, info.Height, s, d.cfg.Mean, d.cfg.Std)
	}
	x := make([]float32, 3*s*s)
	d.rs.input(img, x)
	out, err := d.eng.Run(ctx, map[string]*engine.Tensor{
		"img":  engine.Must(engine.FromFloat32(engine.Shape{1, 3, int64(s), int64(s)}, x)),
		"text": engine.Must(engine.FromFloat32(engine.Shape{1, int64(d.tokens), hiddenDim}, d.text)),
	})
	if err == nil {
		err = d.contract.CheckOutputs(out)
	}
	if err != nil {
		return nil, fmt.Errorf("segment: frame %d: %s: %w", i, engineDetector, err)
	}
	ms := out["masks"].Shape()
	dets, err := detect.Postprocess(detect.Raw{
		Logits: out["logits"].Float32(), Presence: out["presence"].Float32()[0], Boxes: out["boxes"].Float32(),
		Masks: out["masks"].Float32(), MH: int(ms[2]), MW: int(ms[3]),
	}, info.Width, info.Height)
	if err != nil {
		return nil, fmt.Errorf("segment: frame %d: %w", i, err)
	}
	return dets, nil
}

// readNpyFloat32 reads a little-endian float32, C-order .npy array.
func readNpyFloat32(r io.Reader) ([]float32, []int, error) {
	rd, err := npy.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, nil, err
	}
	d := rd.Header.Descr
	if got := strings.Trim(d.Type, `'"`); got != "<f4" {
		return nil, nil, fmt.Errorf("dtype %s, want <f4", got)
	}
	if d.Fortran {
		return nil, nil, fmt.Errorf("array is in Fortran order")
	}
	var v []float32
	if err := rd.Read(&v); err != nil {
		return nil, nil, err
	}
	return v, d.Shape, nil
}
