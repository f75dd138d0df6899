package mesh

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/gpu"
	"github.com/body4d/body4d/kernels"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

// Input is what mesh recovery reads (the pipeline's MeshInput). Where
// occlusion recovery ran, its masks replace the tracker's, and a
// person's crop is cut from the completed image where there is one,
// as the reference does.
type Input = scene.MeshInput

// Options configure a Recoverer. The zero value batches 64 crops and
// keeps no work directory.
//
// Results depend on the batch: ONNX Runtime's floats for a crop differ
// in the last bits with the batch it runs in. So the windows of frames
// run together are a function of MaxBatch and the input only, never of
// free memory, and a rerun recomputes a window cut short at the same
// frames: outputs are byte-identical however a run was interrupted.
// Only when memory is short (FreeMemory says MaxBatch crops do not fit,
// or an engine runs out) does a window run in smaller batches.
type Options struct {
	// Dir, when not empty, is the work directory: one JSON file per
	// frame, reused instead of recomputed by a later run.
	Dir string
	// MaxBatch is the batch: a window holds the frames whose crops
	// reach MaxBatch, run MaxBatch crops per engine call; 0 means 64,
	// the reference's batch.
	MaxBatch int
	// CropBytes is the memory one more crop in a batch costs; 0 means
	// DefaultCropBytes.
	CropBytes uint64
	// FreeMemory, when not nil, reports the memory the engines allocate
	// from (a GPU pool's); a window's crops then run in batches of what
	// it holds at CropBytes each, when that is fewer than MaxBatch. nil
	// means no estimate: MaxBatch crops at a time, halved on
	// out-of-memory. The CPU's MemAvailable is not used: on a shared
	// machine it changes from run to run, and results would with it.
	FreeMemory func() (uint64, error)
	// Meshes attaches each present person's camera-frame mesh to the
	// emitted people.
	Meshes bool
	// Kernels, if not nil, cuts and normalises the crops and skins MHR
	// on a GPU (see package kernels), with the same results as the Go
	// paths.
	Kernels kernels.Kernels
	// Mode is the reference's inference type: ModeBody (the zero value)
	// or ModeFull, which needs the full-mode engines (newFull; Open loads
	// them from the model directory).
	Mode Mode
}

// DefaultCropBytes is the memory one more crop in a batch costs: the
// largest per-crop growth of any mesh engine's peak, which is the
// backbone's. Measured on the real-size random-weight DINOv3-H+ backbone
// at 512² in float32 under ONNX Runtime on the CPU (tools/bench/realsize:
// peak 3,716 MiB at batch 1, 6,632 MiB at batch 8, so 416 MiB a crop; the
// decoder engines grow at most 47 MiB a crop). A GPU engine's
// activations differ with its kernels; pass a value measured there in
// Options.CropBytes. An underestimate is caught by halving on
// out-of-memory.
const DefaultCropBytes = 416 << 20

// defaultMaxBatch is the reference's fixed batch.
const defaultMaxBatch = 64

// A Recoverer recovers body parameters with SAM-3D-Body engines and the
// MHR body model. It holds no mutable state and may run several
// recoveries at once when its engines may.
type Recoverer struct {
	backbone, decoder engine.Engine
	layers            []engine.Engine // decoder layers 1..Layers-1
	body              *mhr.Model
	head              *Head
	hands             *Hands // full mode only
	opts              Options
	closers           []func() error
}

// newBodyRecoverer returns a Recoverer over the given engines (layers holds one engine
// per decoder layer after the first, Layers−1 in all), MHR model and
// head buffers.
func newBodyRecoverer(backbone, decoder engine.Engine, layers []engine.Engine, body *mhr.Model, head *Head, opts Options) (*Recoverer, error) {
	return newRecoverer(backbone, decoder, layers, body, head, opts, false)
}

func newRecoverer(backbone, decoder engine.Engine, layers []engine.Engine, body *mhr.Model, head *Head, opts Options, full bool) (*Recoverer, error) {
	if backbone == nil || decoder == nil || body == nil || head == nil {
		return nil, errors.New("mesh: backbone, decoder, body model and head are all required")
	}
	if len(layers) != Layers-1 {
		return nil, fmt.Errorf("mesh: got %d decoder layer engines, want %d", len(layers), Layers-1)
	}
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("mesh: decoder layer %d engine is nil", i+1)
		}
	}
	if body.NumKeypoints() != NumKeypoints {
		return nil, fmt.Errorf("mesh: body model has %d keypoints, want %d", body.NumKeypoints(), NumKeypoints)
	}
	if err := head.check(); err != nil {
		return nil, fmt.Errorf("mesh: head: %w", err)
	}
	switch opts.Mode {
	case ModeBody:
	case ModeFull:
		if !full {
			return nil, fmt.Errorf("mesh: full mode needs engine mesh/%s and the hand engines (use NewFull or Open)", EngineDecoderPrompt)
		}
	default:
		return nil, fmt.Errorf("mesh: unknown mode %v", opts.Mode)
	}
	if opts.MaxBatch < 0 {
		return nil, fmt.Errorf("mesh: max batch %d is negative", opts.MaxBatch)
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.CropBytes == 0 {
		opts.CropBytes = DefaultCropBytes
	}
	if opts.Kernels != nil {
		body = body.WithKernels(opts.Kernels) // MHR skinning on the GPU too
	}
	return &Recoverer{backbone: backbone, decoder: decoder, layers: layers, body: body, head: head, opts: opts}, nil
}

// Close closes what Open loaded; a Recoverer made by New owns nothing.
func (r *Recoverer) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// Body returns the body model adapter of the Recoverer's MHR model.
func (r *Recoverer) Body() *Body { return &Body{Model: r.body} }

// BatchSize returns the crops per engine call the memory budget allows
// now: MaxBatch unless FreeMemory says fewer fit.
func (r *Recoverer) BatchSize() int {
	if r.opts.FreeMemory == nil {
		return r.opts.MaxBatch
	}
	free, err := r.opts.FreeMemory()
	if err != nil {
		return r.opts.MaxBatch // unknown: halving on out-of-memory is the guard
	}
	n, err := gpu.Budget{FreeBytes: free, Margin: 0.1, PerItemBytes: r.opts.CropBytes, MaxBatch: r.opts.MaxBatch}.Batch()
	if err != nil {
		return 1 // not even one fits by the estimate; try one and let the engine say
	}
	return n
}

// PersonResult is one person's recovery on one frame, as the work
// directory stores it.
type PersonResult struct {
	ID      scene.PersonID `json:"id"`
	Present bool           `json:"present"`
	Params  scene.Params   `json:"params"`
	// Box is the person's tight box (x0, y0, x1, y1) from the mask.
	Box [4]float64 `json:"box"`
	// Keypoints2D are the 70 keypoints in frame pixels, Keypoints3D in
	// metres in the camera axes, relative to the body (add Params.CamT
	// for camera coordinates), as pred_keypoints_2d/3d.
	Keypoints2D [][2]float32 `json:"keypoints_2d,omitempty"`
	Keypoints3D [][3]float32 `json:"keypoints_3d,omitempty"`
	// HandBoxes are the decoder's (cx, cy, w, h) hand boxes, left then
	// right, as fractions of the crop (of the first pass in full mode).
	HandBoxes [2][4]float32 `json:"hand_boxes"`
	// LeftHandBox and RightHandBox are full mode's hand crops (x0, y0,
	// x1, y1) in frame pixels, the reference's lhand_bbox and rhand_bbox;
	// HandsAccepted says which hand (left, right) passed the acceptance
	// test and was merged. All three are nil in body mode.
	LeftHandBox   *[4]float64 `json:"lhand_bbox,omitempty"`
	RightHandBox  *[4]float64 `json:"rhand_bbox,omitempty"`
	HandsAccepted *[2]bool    `json:"hands_accepted,omitempty"`
}

// FrameResult is one frame's people.
type FrameResult struct {
	Frame int `json:"frame"`
	// Mode is "full" for full mode; empty (body mode) in files written
	// before modes existed.
	Mode   string         `json:"mode,omitempty"`
	People []PersonResult `json:"people"`
}

// Recover recovers every person on every frame and calls emit once per
// frame in frame order (it implements body4d.MeshRecoverer through the
// root package's adapter). A person whose mask is absent or empty on a
// frame is emitted with Present false.
func (r *Recoverer) Recover(ctx context.Context, in Input, emit func(frame int, people []scene.Person) error) error {
	return r.RecoverFrames(ctx, in, func(fr *FrameResult) error {
		people := make([]scene.Person, len(fr.People))
		for i, p := range fr.People {
			people[i] = scene.Person{ID: p.ID, Present: p.Present, Params: p.Params, LeftHandBox: p.LeftHandBox, RightHandBox: p.RightHandBox}
			if r.opts.Meshes && p.Present {
				m, err := r.Body().Mesh(p.Params)
				if err != nil {
					return fmt.Errorf("mesh: frame %d person %d: %w", fr.Frame, p.ID, err)
				}
				people[i].Mesh = m
			}
		}
		return emit(fr.Frame, people)
	})
}

// RecoverFrames is Recover with the full per-frame results (keypoints,
// boxes) instead of scene.Person.
func (r *Recoverer) RecoverFrames(ctx context.Context, in Input, emit func(*FrameResult) error) error {
	if in.Amodal != nil && in.Amodal.Masks != nil {
		in.Masks = in.Amodal.Masks
	}
	if in.Frames == nil || in.Masks == nil {
		return errors.New("mesh: frames and masks are required")
	}
	info := in.Frames.Info()
	if info.Frames <= 0 {
		return fmt.Errorf("mesh: video has %d frames", info.Frames)
	}
	if len(in.Cameras) != info.Frames {
		return fmt.Errorf("mesh: %d cameras for %d frames", len(in.Cameras), info.Frames)
	}
	for i, K := range in.Cameras {
		if !(K.Fx > 0 && K.Fy > 0) || math.IsInf(K.Fx+K.Fy+K.Cx+K.Cy, 0) || math.IsNaN(K.Cx+K.Cy) {
			return fmt.Errorf("mesh: frame %d: camera %+v is not a valid pinhole camera", i, K)
		}
	}
	ids := in.Masks.People()
	st := store{dir: r.opts.Dir, mode: r.opts.Mode}
	if err := st.init(); err != nil {
		return err
	}
	// window is fixed: windows start where the last one ended, so a
	// window's frames depend on the input and MaxBatch alone. batch, the
	// crops per call, can only be lowered by memory.
	window := r.opts.MaxBatch
	batch := r.BatchSize()
	for next := 0; next < info.Frames; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if frs, ok := st.loadWindow(next, ids); ok {
			for _, fr := range frs {
				if err := emit(fr); err != nil {
					return err
				}
			}
			next += len(frs)
			continue
		}
		// Frames stored from next on belong to a window cut short (or
		// started elsewhere): drop them so that the window is recomputed
		// at the same frames, in the same batches.
		end := next
		for end < info.Frames && st.has(end) {
			if _, w, ok := st.load(end, ids); ok && w[0] == end && end > next {
				break // the next window, whole or not, is judged on its own
			}
			end++
		}
		if err := st.drop(next, end); err != nil {
			return err
		}
		// A window of frames not yet stored, about one batch of crops.
		var frames []*FrameResult
		var jobs []*job
		for f := next; f < info.Frames && (len(frames) == 0 || len(jobs) < window); f++ {
			if len(frames) > 0 && st.has(f) {
				break
			}
			fr, fj, err := r.prepare(in, f, ids)
			if err != nil {
				return err
			}
			frames = append(frames, fr)
			jobs = append(jobs, fj...)
		}
		var err error
		if batch, err = r.runJobs(ctx, jobs, batch); err != nil {
			return err
		}
		stored := [2]int{next, len(frames)}
		for _, fr := range frames {
			if err := st.save(fr, stored); err != nil {
				return err
			}
			if err := emit(fr); err != nil {
				return err
			}
		}
		next += len(frames)
	}
	return nil
}

// job is one person's crop on one frame; run fills its result.
type job struct {
	frame int
	res   *PersonResult
	img   *scene.RGB
	mask  *scene.Mask
	crop  Crop
	K     scene.Intrinsics
	// people is the number of people present on the frame (full mode's
	// prompt rule differs for a lone person).
	people int
}

func (j *job) errorf(format string, args ...any) error {
	return fmt.Errorf("mesh: frame %d person %d: "+format, append([]any{j.frame, j.res.ID}, args...)...)
}

// prepare reads frame f and its masks and makes a job per present person.
func (r *Recoverer) prepare(in Input, f int, ids []scene.PersonID) (*FrameResult, []*job, error) {
	info := in.Frames.Info()
	img, err := in.Frames.Frame(f)
	if err != nil {
		return nil, nil, fmt.Errorf("mesh: frame %d: %w", f, err)
	}
	if img.Rect.Dx() != info.Width || img.Rect.Dy() != info.Height {
		return nil, nil, fmt.Errorf("mesh: frame %d is %d×%d, video is %d×%d", f, img.Rect.Dx(), img.Rect.Dy(), info.Width, info.Height)
	}
	fr := &FrameResult{Frame: f, People: make([]PersonResult, len(ids))}
	var jobs []*job
	for i, id := range ids {
		fr.People[i].ID = id
		m, err := in.Masks.Mask(f, id)
		if err != nil {
			return nil, nil, fmt.Errorf("mesh: frame %d person %d: mask: %w", f, id, err)
		}
		if m == nil || m.Area() == 0 {
			continue // absent, or a tracker that lost the person: not present
		}
		if m.W != info.Width || m.H != info.Height || len(m.Pix) != m.W*m.H {
			return nil, nil, fmt.Errorf("mesh: frame %d person %d: mask is %d×%d, frame is %d×%d", f, id, m.W, m.H, info.Width, info.Height)
		}
		box, err := boxFromMask(m)
		if err != nil {
			return nil, nil, fmt.Errorf("mesh: frame %d person %d: %w", f, id, err)
		}
		crop, err := newBodyCrop(box)
		if err != nil {
			return nil, nil, fmt.Errorf("mesh: frame %d person %d: %w", f, id, err)
		}
		src := img
		if in.Amodal != nil && in.Amodal.Images != nil {
			c, err := in.Amodal.Images(id, f)
			if err != nil {
				return nil, nil, fmt.Errorf("mesh: frame %d person %d: completed image: %w", f, id, err)
			}
			if c != nil {
				if c.Rect.Dx() != info.Width || c.Rect.Dy() != info.Height {
					return nil, nil, fmt.Errorf("mesh: frame %d person %d: completed image is %d×%d, frame is %d×%d", f, id, c.Rect.Dx(), c.Rect.Dy(), info.Width, info.Height)
				}
				src = c
			}
		}
		fr.People[i].Present = true
		fr.People[i].Box = box
		jobs = append(jobs, &job{frame: f, res: &fr.People[i], img: src, mask: m, crop: crop, K: in.Cameras[f]})
	}
	for _, j := range jobs {
		j.people = len(jobs)
	}
	if r.opts.Mode == ModeFull {
		fr.Mode = ModeFull.String()
	}
	return fr, jobs, nil
}

// runJobs runs jobs in batches of at most batch crops. When an engine
// runs out of memory the batch is halved and the same crops run again;
// it returns the batch size that worked, for the next window.
func (r *Recoverer) runJobs(ctx context.Context, jobs []*job, batch int) (int, error) {
	for i := 0; i < len(jobs); {
		n := min(batch, len(jobs)-i)
		err := r.runBatch(ctx, jobs[i:i+n])
		if isOutOfMemory(err) && n > 1 {
			batch = max(n/2, 1)
			continue // the same crops, fewer at a time
		}
		if err != nil {
			return batch, err
		}
		i += n
	}
	return batch, nil
}

// span names the frames of a batch in errors.
func span(jobs []*job) string {
	if a, b := jobs[0].frame, jobs[len(jobs)-1].frame; a != b {
		return fmt.Sprintf("frames %d..%d", a, b)
	}
	return fmt.Sprintf("frame %d", jobs[0].frame)
}

// ErrOutOfMemory marks an engine's out-of-memory failure. Backends and
// tests may wrap it; isOutOfMemory also recognises the runtimes' own
// messages.
var ErrOutOfMemory = errors.New("out of memory")

// isOutOfMemory reports whether err is an allocation failure of an
// engine or the runtime under it, the one error that a smaller batch can
// fix.
func isOutOfMemory(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrOutOfMemory) {
		return true
	}
	return oomMessage(err.Error())
}

// runBatch runs the engines and MHR over one batch of crops.
func (r *Recoverer) runBatch(ctx context.Context, jobs []*job) error {
	n := len(jobs)
	crops := make([]Crop, n)
	Ks := make([]scene.Intrinsics, n)
	imgs := make([]*scene.RGB, n)
	masks := make([]*scene.Mask, n)
	for b, j := range jobs {
		crops[b], Ks[b], imgs[b], masks[b] = j.crop, j.K, j.img, j.mask
	}
	in, err := cropInputs(r.opts.Kernels, crops, Ks, imgs, masks)
	if err != nil {
		return err
	}
	features, err := r.runBackbone(ctx, jobs, in.image)
	if err != nil {
		return err
	}
	dec := decoderInputs(in, features, int64(n))
	out, err := r.runPass(ctx, bodyPass(r), jobs, crops, Ks, dec)
	if err != nil {
		return err
	}
	if r.opts.Mode == ModeFull {
		return r.refine(ctx, jobs, in, features, out)
	}
	if err := r.finishBody(jobs, out.pose, out.camera); err != nil {
		return err
	}
	for b, j := range jobs {
		for h := range 2 {
			copy(j.res.HandBoxes[h][:], out.handBoxes[8*b+4*h:8*b+4*h+4])
		}
	}
	return nil
}

// cropBatch is a batch's crop-level inputs.
type cropBatch struct {
	n                              int
	image, mask, score, cond, rays []float32
}

// cropInputs warps and normalises the crops and computes their mask,
// CLIFF condition and rays. A nil mask is a crop without one (a hand
// crop): mask 0 and mask_score 0, as prepare_batch without masks. With
// kernels, the image crops are cut and normalised on the device, with
// the same results as WarpRGB and normalizeCrop.
func cropInputs(k kernels.Kernels, crops []Crop, Ks []scene.Intrinsics, imgs []*scene.RGB, masks []*scene.Mask) (cropBatch, error) {
	n := len(crops)
	const px = CropSize * CropSize
	c := cropBatch{n: n, image: make([]float32, n*3*px), mask: make([]float32, n*px), score: make([]float32, n),
		cond: make([]float32, n*3), rays: make([]float32, n*2*Grid*Grid)}
	if k != nil {
		if err := cropImagesOn(k, c.image, crops, imgs); err != nil {
			return c, err
		}
	}
	parallel(n, func(b int) {
		buf := make([]uint8, 3*px)
		if k == nil {
			crops[b].WarpRGB(buf, imgs[b])
			normalizeCrop(c.image[b*3*px:(b+1)*3*px], buf)
		}
		if masks[b] != nil {
			m := buf[:px]
			crops[b].WarpMask(m, masks[b])
			for i, v := range m {
				c.mask[b*px+i] = float32(v)
			}
			c.score[b] = 1 // the reference's score for a given mask
		}
		cd := crops[b].Condition(Ks[b])
		copy(c.cond[3*b:], cd[:])
		crops[b].Rays(c.rays[b*2*Grid*Grid:(b+1)*2*Grid*Grid], Ks[b])
	})
	return c, nil
}

// cropImagesOn cuts and normalises each crop with k, one kernel call per
// source image.
func cropImagesOn(k kernels.Kernels, dst []float32, crops []Crop, imgs []*scene.RGB) error {
	const px = CropSize * CropSize
	u8 := make([]uint8, 3*px)
	for b := range crops {
		img := imgs[b]
		coef := crops[b].coef()
		if err := k.WarpCrops(u8, CropSize, 3, img.Pix, img.Stride, img.Rect.Dx(), img.Rect.Dy(), coef[:]); err != nil {
			return fmt.Errorf("mesh: crop %d on %s: %w", b, k.Name(), err)
		}
		if err := k.NormalizeCrops(dst[b*3*px:(b+1)*3*px], u8, CropSize, imageMean, imageStd); err != nil {
			return fmt.Errorf("mesh: crop %d on %s: %w", b, k.Name(), err)
		}
	}
	return nil
}

func (r *Recoverer) runBackbone(ctx context.Context, jobs []*job, image []float32) (*engine.Tensor, error) {
	N := int64(len(image) / (3 * CropSize * CropSize))
	out, err := r.backbone.Run(ctx, map[string]*engine.Tensor{"image": engine.Must(engine.FromFloat32(engine.Shape{N, 3, CropSize, CropSize}, image))})
	if err != nil {
		return nil, fmt.Errorf("mesh: %s: backbone: %w", span(jobs), err)
	}
	return output(out, "backbone", "features", jobs, N, FeatureDim, Grid, Grid)
}

// decoderInputs are a first decoder engine's inputs with the dummy
// prompt (0, 0, −2) of the first pass.
func decoderInputs(c cropBatch, features *engine.Tensor, N int64) map[string]*engine.Tensor {
	prompt := make([]float32, 3*N)
	for b := range N {
		prompt[3*b+2] = -2
	}
	return map[string]*engine.Tensor{
		"features": features, "mask": engine.Must(engine.FromFloat32(engine.Shape{N, 1, CropSize, CropSize}, c.mask)),
		"mask_score": engine.Must(engine.FromFloat32(engine.Shape{N, 1}, c.score)), "condition": engine.Must(engine.FromFloat32(engine.Shape{N, 3}, c.cond)),
		"rays": engine.Must(engine.FromFloat32(engine.Shape{N, 2, Grid, Grid}, c.rays)), "prompt": engine.Must(engine.FromFloat32(engine.Shape{N, 1, 3}, prompt)),
	}
}

// pass is one decoder: its first engine, its layer engines and how its
// intermediate predictions become keypoints.
type pass struct {
	first     engine.Engine
	firstName string
	layers    []engine.Engine
	layerName func(int) string
	hand      *HandHead // the hand decoder's head; nil for the body decoder
}

func bodyPass(r *Recoverer) pass {
	return pass{first: r.decoder, firstName: EngineDecoder, layers: r.layers, layerName: refineEngine}
}

// passOut is a decoder's last-layer heads.
type passOut struct {
	pose, camera, handBoxes []float32
}

// runPass runs a decoder over a batch: the first engine on in, then each
// layer engine on the keypoints that MHR gives for the previous layer's
// prediction. owners[b] names item b in errors.
func (r *Recoverer) runPass(ctx context.Context, p pass, owners []*job, crops []Crop, Ks []scene.Intrinsics, in map[string]*engine.Tensor) (passOut, error) {
	N := int64(len(crops))
	out, err := p.first.Run(ctx, in)
	if err != nil {
		return passOut{}, fmt.Errorf("mesh: %s: %s: %w", span(owners), p.firstName, err)
	}
	ctxFeat, err := output(out, p.firstName, "context", owners, N, FeatureDim, Grid, Grid)
	if err != nil {
		return passOut{}, err
	}
	for layer := 1; ; layer++ {
		name := p.firstName
		if layer > 1 {
			name = p.layerName(layer - 1)
		}
		pose, err := output(out, name, "pose", owners, N, NumPose)
		if err != nil {
			return passOut{}, err
		}
		camera, err := output(out, name, "camera", owners, N, 3)
		if err != nil {
			return passOut{}, err
		}
		tokens, err := output(out, name, "tokens", owners, N, -1, TokenDim)
		if err != nil {
			return passOut{}, err
		}
		augment, err := output(out, name, "augment", owners, N, tokens.Shape()[1], TokenDim)
		if err != nil {
			return passOut{}, err
		}
		var hands []float32
		if p.hand == nil {
			h, err := output(out, name, "hand_boxes", owners, N, 2, 4)
			if err != nil {
				return passOut{}, err
			}
			hands = h.Float32()
		}
		if layer == Layers {
			return passOut{pose: pose.Float32(), camera: camera.Float32(), handBoxes: hands}, nil
		}
		kp, err := r.layerKeypoints(p.hand, owners, crops, Ks, pose.Float32(), camera.Float32())
		if err != nil {
			return passOut{}, err
		}
		if err := ctx.Err(); err != nil {
			return passOut{}, err
		}
		out, err = p.layers[layer-1].Run(ctx, map[string]*engine.Tensor{
			"prev_tokens": tokens, "prev_augment": augment, "context": ctxFeat,
			"keypoints_2d":    engine.Must(engine.FromFloat32(engine.Shape{N, NumKeypoints, 2}, kp.crop2D)),
			"keypoints_valid": engine.Must(engine.FromFloat32(engine.Shape{N, NumKeypoints}, kp.valid)),
			"keypoints_3d":    engine.Must(engine.FromFloat32(engine.Shape{N, NumKeypoints, 3}, kp.centred3D)),
		})
		if err != nil {
			return passOut{}, fmt.Errorf("mesh: %s: %s: %w", span(owners), p.layerName(layer), err)
		}
	}
}

// output checks and returns an engine output of shape [n, dims...]; a
// dim of −1 is not checked. In the heads' outputs (pose, camera, hand
// boxes) a NaN or infinity is an error naming the frame and person of
// its batch item; the large intermediate tensors are not scanned, since
// a bad value there reaches the heads.
func output(out map[string]*engine.Tensor, eng, name string, jobs []*job, n int64, dims ...int64) (*engine.Tensor, error) {
	x := out[name]
	if x == nil {
		return nil, fmt.Errorf("mesh: %s returned no %q output", eng, name)
	}
	d := x.Float32()
	s := x.Shape()
	ok := d != nil && len(s) == len(dims)+1 && s[0] == n
	for i := 0; ok && i < len(dims); i++ {
		ok = dims[i] < 0 || s[i+1] == dims[i]
	}
	if !ok {
		return nil, fmt.Errorf("mesh: %s output %q is %v %v, want float32 [%d,%v]", eng, name, x.DType(), s, n, dims)
	}
	switch name {
	case "features", "context", "tokens", "augment":
		return x, nil
	}
	per := len(d) / int(n)
	for i, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, jobs[i/per].errorf("%s output %q has %v at element %d", eng, name, v, i%per)
		}
	}
	return x, nil
}

// layerKeypoints are the inputs of the next decoder layer.
type layerKeypoints struct {
	crop2D, valid, centred3D []float32
}

// layerKeypoints decodes the heads' outputs of a batch, runs MHR and
// derives the keypoints the next layer reads (the reference's
// keypoint_token_update_fn(_hand) and keypoint3d_token_update_fn(_hand)
// inputs). hh selects the hand decoder's head (its wrist-centric MHR
// call, the hand keypoints only and the camera scale 10).
func (r *Recoverer) layerKeypoints(hh *HandHead, owners []*job, crops []Crop, Ks []scene.Intrinsics, pose, camera []float32) (layerKeypoints, error) {
	n := len(crops)
	in := make([]mhr.Input, n)
	for b := range n {
		var m [numModel]float64
		var shape []float32
		if hh == nil {
			d, err := r.head.Decode(pose[b*NumPose : (b+1)*NumPose])
			if err != nil {
				return layerKeypoints{}, owners[b].errorf("%w", err)
			}
			in[b] = mhr.Input{Identity: d.Shape[:], Model: d.Model[:]}
			continue
		}
		p, err := hh.Head.decodeParams(pose[b*NumPose : (b+1)*NumPose])
		if err != nil {
			return layerKeypoints{}, owners[b].errorf("hand decoder: %w", err)
		}
		m = hh.handModelParams(&p)
		shape = pose[b*NumPose+offShape : b*NumPose+offShape+45]
		in[b] = mhr.Input{Identity: shape, Model: f32s(m[:])}
	}
	bodies, err := r.body.Keypoints(in)
	if err != nil {
		return layerKeypoints{}, fmt.Errorf("mesh: %s: %w", span(owners), err)
	}
	kp := layerKeypoints{
		crop2D:    make([]float32, n*NumKeypoints*2),
		valid:     make([]float32, n*NumKeypoints),
		centred3D: make([]float32, n*NumKeypoints*3),
	}
	factor := 1.0
	if hh != nil {
		factor = handCameraScale
	}
	for b := range n {
		k3 := bodies[b]
		if hh != nil {
			zeroNonHand(k3)
		}
		mhr.CameraFrame(k3)
		camT := cameraT([3]float32(camera[3*b:3*b+3]), crops[b], Ks[b], factor)
		var pelvis [3]float64
		for c := range 3 {
			pelvis[c] = (float64(k3[3*9+c]) + float64(k3[3*10+c])) / 2
		}
		for k := range NumKeypoints {
			p := [3]float64{float64(k3[3*k]), float64(k3[3*k+1]), float64(k3[3*k+2])}
			u, v, z := projectPoint(p, camT, Ks[b])
			cx, cy := crops[b].ToCrop(u, v)
			x, y := cx/CropSize-0.5, cy/CropSize-0.5
			o := b*NumKeypoints + k
			kp.crop2D[2*o], kp.crop2D[2*o+1] = float32(x), float32(y)
			if x+0.5 >= 0 && x+0.5 <= 1 && y+0.5 >= 0 && y+0.5 <= 1 && z >= 1e-5 {
				kp.valid[o] = 1
			}
			for c := range 3 {
				kp.centred3D[3*o+c] = float32(p[c] - pelvis[c])
			}
		}
	}
	return kp, nil
}

// zeroNonHand zeroes the keypoints that the hand model does not keep
// (model_keypoints_pred[:, :21] = 0 and [:, 42:] = 0).
func zeroNonHand(k3 []float32) {
	clear(k3[:3*kpHandFirst])
	clear(k3[3*kpHandEnd:])
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// finishBody fills the jobs' results from the body decoder's last heads
// (body mode): parameters, camera translation and keypoints.
func (r *Recoverer) finishBody(jobs []*job, pose, camera []float32) error {
	n := len(jobs)
	dec := make([]Decoded, n)
	in := make([]mhr.Input, n)
	for b, j := range jobs {
		var err error
		if dec[b], err = r.head.Decode(pose[b*NumPose : (b+1)*NumPose]); err != nil {
			return j.errorf("%w", err)
		}
		in[b] = mhr.Input{Identity: dec[b].Shape[:], Model: dec[b].Model[:]}
	}
	// Only the keypoints are needed here: meshes come from Body when
	// asked for.
	bodies, err := r.body.Keypoints(in)
	if err != nil {
		return fmt.Errorf("mesh: %s: %w", span(jobs), err)
	}
	for b, j := range jobs {
		camT := cameraTranslation([3]float32(camera[3*b:3*b+3]), j.crop, j.K)
		j.setResult(dec[b].Shape, dec[b].Model, camT, bodies[b], func(p [3]float64) [2]float64 {
			u, v, _ := projectPoint(p, camT, j.K)
			return [2]float64{u, v}
		})
	}
	return nil
}

// setResult fills the job's parameters and keypoints: k3 is MHR's
// keypoints (turned into the camera frame here), project their
// projection to frame pixels.
func (j *job) setResult(shape [45]float32, model [numModel]float32, camT [3]float64, k3 []float32, project func(p [3]float64) [2]float64) {
	mhr.CameraFrame(k3)
	j.res.Params = scene.Params{Shape: shape, Model: model, CamT: camT, Focal: j.K.Fx}
	j.res.Keypoints2D = make([][2]float32, NumKeypoints)
	j.res.Keypoints3D = make([][3]float32, NumKeypoints)
	for k := range NumKeypoints {
		uv := project([3]float64{float64(k3[3*k]), float64(k3[3*k+1]), float64(k3[3*k+2])})
		j.res.Keypoints2D[k] = [2]float32{float32(uv[0]), float32(uv[1])}
		j.res.Keypoints3D[k] = [3]float32(k3[3*k : 3*k+3])
	}
}

// gpuFreeMemory returns a function reporting GPU index's free memory by
// NVML, for Options.FreeMemory when the engines run on that GPU.
func gpuFreeMemory(index int) func() (uint64, error) {
	return func() (uint64, error) {
		devs, err := gpu.Devices()
		if err != nil {
			return 0, err
		}
		for _, d := range devs {
			if d.Index == index {
				return d.FreeBytes, nil
			}
		}
		return 0, fmt.Errorf("mesh: no GPU %d", index)
	}
}

// parallel calls f(i) for i in [0,n) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for g := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += w {
				f(i)
			}
		}()
	}
	wg.Wait()
}
