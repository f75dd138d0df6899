package mesh

import (
	"context"
	"fmt"
	"sort"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/mesh/mhr"
	"github.com/body4d/body4d/scene"
)

// Mode is the reference's inference_type.
type Mode int

const (
	// ModeBody is "body": one pass of the body decoder, whose own hands
	// are kept (the default).
	ModeBody Mode = iota
	// ModeFull is "full": the body pass, then each hand's crop through the
	// hand decoder (the left one mirrored), the body decoder re-run with
	// wrist and elbow prompts, and the accepted hands merged in.
	ModeFull
)

func (m Mode) String() string {
	switch m {
	case ModeBody:
		return "body"
	case ModeFull:
		return "full"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "body" or "full".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "body", "":
		return ModeBody, nil
	case "full":
		return ModeFull, nil
	}
	return 0, fmt.Errorf("mesh: unknown mode %q (want body or full)", s)
}

// Hands are the engines and buffers of full mode.
type Hands struct {
	// DecoderPrompt is the decoder_prompt engine; the re-run's later
	// layers are the body's layer engines.
	DecoderPrompt engine.Engine
	// Decoder and Layers are hand_decoder and hand_decoder_layer1..5.
	Decoder engine.Engine
	Layers  []engine.Engine
	Head    *HandHead
}

func (h *Hands) check(numJoints int) error {
	if h.DecoderPrompt == nil {
		return fmt.Errorf("full mode needs engine mesh/%s", EngineDecoderPrompt)
	}
	if h.Decoder == nil {
		return fmt.Errorf("full mode needs engine mesh/%s", EngineHandDecoder)
	}
	if len(h.Layers) != Layers-1 {
		return fmt.Errorf("full mode needs %d hand decoder layer engines, got %d", Layers-1, len(h.Layers))
	}
	for i, l := range h.Layers {
		if l == nil {
			return fmt.Errorf("full mode needs engine mesh/%s", handRefineEngine(i+1))
		}
	}
	if h.Head == nil {
		return fmt.Errorf("full mode needs the hand head buffers (file mesh/%s)", FileHandHead)
	}
	if err := h.Head.check(numJoints); err != nil {
		return fmt.Errorf("hand head: %w", err)
	}
	return nil
}

// newFull is New with full mode's engines: hands may be nil in body
// mode, and Options.Mode ModeFull requires them.
func newFull(backbone, decoder engine.Engine, layers []engine.Engine, hands *Hands, body *mhr.Model, head *Head, opts Options) (*Recoverer, error) {
	r, err := newRecoverer(backbone, decoder, layers, body, head, opts, hands != nil)
	if err != nil {
		return nil, err
	}
	if opts.Mode == ModeFull {
		if hands == nil {
			return nil, fmt.Errorf("mesh: full mode needs engine mesh/%s and the hand engines", EngineDecoderPrompt)
		}
		if err := hands.check(body.NumJoints()); err != nil {
			return nil, fmt.Errorf("mesh: %w", err)
		}
		r.hands = hands
	}
	return r, nil
}

// handPass is the hand decoder.
func (r *Recoverer) handPass() pass {
	return pass{first: r.hands.Decoder, firstName: EngineHandDecoder, layers: r.hands.Layers, layerName: handRefineEngine, hand: r.hands.Head}
}

// bodyState is one person's first body pass as run_inference reads it.
type bodyState struct {
	params headParams
	camT   [3]float64
	kp2D   [][2]float32  // pred_keypoints_2d
	lowarm [2][9]float64 // joint_global_rots at the lower arms, left then right
}

// refine is run_inference's "full" branch after the first body pass
// (first) of a batch. Each step runs over the whole batch; the results
// are written only at the end, so a batch retried after running out of
// memory starts clean.
func (r *Recoverer) refine(ctx context.Context, jobs []*job, body cropBatch, features *engine.Tensor, first passOut) error {
	n := len(jobs)
	hh := r.hands.Head
	st := make([]bodyState, n)
	params, outs, err := r.decodeForward(jobs, r.head, first.pose, r.bodyModelParams, "")
	if err != nil {
		return err
	}
	for b, j := range jobs {
		st[b].params = params[b]
		k3 := outs[b].Keypoints
		mhr.CameraFrame(k3)
		st[b].camT = cameraTranslation([3]float32(first.camera[3*b:3*b+3]), j.crop, j.K)
		st[b].kp2D = make([][2]float32, NumKeypoints)
		for k := range NumKeypoints {
			u, v, _ := projectPoint([3]float64{float64(k3[3*k]), float64(k3[3*k+1]), float64(k3[3*k+2])}, st[b].camT, j.K)
			st[b].kp2D[k] = [2]float32{float32(u), float32(v)}
		}
		st[b].lowarm = [2][9]float64{jointRot(&outs[b], hh.Joints[0]), jointRot(&outs[b], hh.Joints[3])}
	}

	// The hand crops: _get_hand_box, the left box mirrored for the
	// mirrored frame, transform_hand.
	lcrops, rcrops := make([]Crop, n), make([]Crop, n)
	limgs, rimgs := make([]*scene.RGB, n), make([]*scene.RGB, n)
	Ks := make([]scene.Intrinsics, n)
	flipped := map[*scene.RGB]*scene.RGB{}
	for b, j := range jobs {
		var hb [2][4]float32
		for h := range 2 {
			copy(hb[h][:], first.handBoxes[8*b+4*h:8*b+4*h+4])
		}
		boxes := frameHandBoxes(hb, j.crop)
		W := j.img.Rect.Dx()
		var err error
		if lcrops[b], err = newHandCrop(flipBox(boxes[0], W)); err != nil {
			return j.errorf("left hand box: %w", err)
		}
		if rcrops[b], err = newHandCrop(boxes[1]); err != nil {
			return j.errorf("right hand box: %w", err)
		}
		if flipped[j.img] == nil {
			flipped[j.img] = flipRGB(j.img)
		}
		// cam_int is the frame's, unflipped, for the mirrored left crop
		// too (run_inference passes cam_int.clone()): kept.
		limgs[b], rimgs[b], Ks[b] = flipped[j.img], j.img, j.K
	}
	left, err := r.runHands(ctx, jobs, lcrops, Ks, limgs)
	if err != nil {
		return err
	}
	right, err := r.runHands(ctx, jobs, rcrops, Ks, rimgs)
	if err != nil {
		return err
	}

	// Unflip, accept, prompt.
	ok := make([][2]bool, n)
	local := make([][2][9]float64, n)
	prompts := make([][][3]float32, n)
	for b, j := range jobs {
		unflipLeft(&left[b], r.head)
		local[b] = localWristRotations(&st[b].params)
		fused := [2][9]float64{
			fusedWrist(left[b].wristRot[0], st[b].lowarm[0], hh.TwistRotation[0]),
			fusedWrist(right[b].wristRot[1], st[b].lowarm[1], hh.TwistRotation[1]),
		}
		W := j.img.Rect.Dx()
		ok[b] = handChecks(&left[b], &right[b], W, st[b].kp2D, local[b], fused)
		prompts[b] = wristPrompts(j.crop, &left[b], &right[b], W, st[b].kp2D, ok[b], j.people > 1)
	}

	// The body decoder again, from the first pass's estimate, with the
	// prompts (run_keypoint_prompt); people without a prompt keep the
	// first pass.
	final := make([]headParams, n)
	camT := make([][3]float64, n)
	for b := range jobs {
		final[b], camT[b] = st[b].params, st[b].camT
	}
	if err := r.rerun(ctx, jobs, body, features, first, prompts, final, camT); err != nil {
		return err
	}

	// Merge: FK of the body with the hands dropped in gives the wrists'
	// zero-pose rotations; then the final MHR.
	in := make([]mhr.Input, n)
	for b := range jobs {
		u := mergedForFK(&final[b], &left[b], &right[b])
		m := r.bodyModelParams(&u)
		in[b] = mhrInput(&u, &m)
	}
	if outs, err = r.body.Forward(in); err != nil {
		return fmt.Errorf("mesh: %s: %w", span(jobs), err)
	}
	models := make([][numModel]float64, n)
	for b := range jobs {
		lowarm := [2][9]float64{jointRot(&outs[b], hh.Joints[0]), jointRot(&outs[b], hh.Joints[3])}
		fused := [2][9]float64{
			fusedWrist(left[b].wristRot[0], lowarm[0], hh.TwistRotation[0]),
			fusedWrist(right[b].wristRot[1], lowarm[1], hh.TwistRotation[1]),
		}
		mergeHands(&final[b], &left[b], &right[b], ok[b], local[b], fused)
		models[b] = r.bodyModelParams(&final[b])
		in[b] = mhrInput(&final[b], &models[b])
	}
	kps, err := r.body.Keypoints(in)
	if err != nil {
		return fmt.Errorf("mesh: %s: %w", span(jobs), err)
	}
	for b, j := range jobs {
		var shape [45]float32
		copy(shape[:], f32s(final[b].Shape[:]))
		var model [numModel]float32
		copy(model[:], f32s(models[b][:]))
		W, H := j.img.Rect.Dx(), j.img.Rect.Dy()
		j.setResult(shape, model, camT[b], kps[b], func(p [3]float64) [2]float64 { return projectFull(p, camT[b], j.K.Fx, W, H) })
		for h := range 2 {
			copy(j.res.HandBoxes[h][:], first.handBoxes[8*b+4*h:8*b+4*h+4])
		}
		// lhand_bbox / rhand_bbox: the hand crops' centre ± side/2, the
		// left centre mirrored back (W − cx − 1).
		lc, rc := lcrops[b], rcrops[b]
		lb := [4]float64{float64(W) - lc.Center[0] - 1 - lc.Side/2, lc.Center[1] - lc.Side/2, float64(W) - lc.Center[0] - 1 + lc.Side/2, lc.Center[1] + lc.Side/2}
		rb := [4]float64{rc.Center[0] - rc.Side/2, rc.Center[1] - rc.Side/2, rc.Center[0] + rc.Side/2, rc.Center[1] + rc.Side/2}
		j.res.LeftHandBox, j.res.RightHandBox = &lb, &rb
		j.res.HandsAccepted = &[2]bool{ok[b][0], ok[b][1]}
	}
	return nil
}

// decodeForward decodes each job's pose (the pass's poses, NumPose
// each) with head and runs MHR's forward pass on the model parameters
// that modelOf makes of them; what prefixes a decoding error.
func (r *Recoverer) decodeForward(jobs []*job, head *Head, pose []float32, modelOf func(*headParams) [numModel]float64, what string) ([]headParams, []mhr.Output, error) {
	params := make([]headParams, len(jobs))
	in := make([]mhr.Input, len(jobs))
	for b, j := range jobs {
		p, err := head.decodeParams(pose[b*NumPose : (b+1)*NumPose])
		if err != nil {
			return nil, nil, j.errorf("%s%w", what, err)
		}
		params[b] = p
		m := modelOf(&p)
		in[b] = mhrInput(&p, &m)
	}
	outs, err := r.body.Forward(in)
	if err != nil {
		return nil, nil, fmt.Errorf("mesh: %s: %w", span(jobs), err)
	}
	return params, outs, nil
}

// bodyModelParams is the body head's model parameters of p, without
// the global translation.
func (r *Recoverer) bodyModelParams(p *headParams) [numModel]float64 {
	return r.head.modelParams(p, [3]float64{})
}

// mhrInput is MHR's input for parameters p with model parameters m.
func mhrInput(p *headParams, m *[numModel]float64) mhr.Input {
	return mhr.Input{Identity: f32s(p.Shape[:]), Model: f32s(m[:])}
}

func jointRot(o *mhr.Output, j int) [9]float64 { return quatMatrix(o.Skeleton[8*j+3 : 8*j+7]) }

// runHands runs one hand side of a batch through the backbone and the
// hand decoder and reads its last prediction as run_inference does.
func (r *Recoverer) runHands(ctx context.Context, jobs []*job, crops []Crop, Ks []scene.Intrinsics, imgs []*scene.RGB) ([]handResult, error) {
	n := len(jobs)
	c, err := cropInputs(r.opts.Kernels, crops, Ks, imgs, make([]*scene.Mask, n))
	if err != nil {
		return nil, err
	}
	features, err := r.runBackbone(ctx, jobs, c.image)
	if err != nil {
		return nil, err
	}
	out, err := r.runPass(ctx, r.handPass(), jobs, crops, Ks, decoderInputs(c, features, int64(n)))
	if err != nil {
		return nil, err
	}
	hh := r.hands.Head
	res := make([]handResult, n)
	params, outs, err := r.decodeForward(jobs, &hh.Head, out.pose, hh.handModelParams, "hand decoder: ")
	if err != nil {
		return nil, err
	}
	for b := range jobs {
		res[b].params, res[b].crop = params[b], crops[b]
		k3 := outs[b].Keypoints
		zeroNonHand(k3)
		mhr.CameraFrame(k3)
		t := cameraT([3]float32(out.camera[3*b:3*b+3]), crops[b], Ks[b], handCameraScale)
		for k := range NumKeypoints {
			u, v, _ := projectPoint([3]float64{float64(k3[3*k]), float64(k3[3*k+1]), float64(k3[3*k+2])}, t, Ks[b])
			if k == kpRightWrist {
				res[b].wrist2D = [2]float64{u, v}
			}
			x, y := crops[b].ToCrop(u, v)
			res[b].maxCrop = max(res[b].maxCrop, abs(x/CropSize-0.5), abs(y/CropSize-0.5))
		}
		res[b].wristRot = [2][9]float64{jointRot(&outs[b], hh.Joints[2]), jointRot(&outs[b], hh.Joints[5])}
	}
	return res, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// rerun is run_keypoint_prompt over the people with prompts, grouped by
// their number of prompts (a lone person's rejected prompts are dropped,
// so the count varies); it replaces their params and camera translation.
func (r *Recoverer) rerun(ctx context.Context, jobs []*job, body cropBatch, features *engine.Tensor, first passOut, prompts [][][3]float32, params []headParams, camT [][3]float64) error {
	groups := map[int][]int{}
	for b, p := range prompts {
		if len(p) > 0 {
			groups[len(p)] = append(groups[len(p)], b)
		}
	}
	counts := make([]int, 0, len(groups))
	for k := range groups {
		counts = append(counts, k)
	}
	sort.Ints(counts)
	const px = CropSize * CropSize
	const fsz = FeatureDim * Grid * Grid
	feat := features.Float32()
	for _, np := range counts {
		idx := groups[np]
		g := len(idx)
		G := int64(g)
		sub := cropBatch{n: g, mask: make([]float32, g*px), score: make([]float32, g), cond: make([]float32, 3*g), rays: make([]float32, g*2*Grid*Grid)}
		fs := make([]float32, g*fsz)
		prompt := make([]float32, 3*np*g)
		prev := make([]float32, PrevEstimateDim*g)
		owners := make([]*job, g)
		crops := make([]Crop, g)
		Ks := make([]scene.Intrinsics, g)
		for k, b := range idx {
			owners[k], crops[k], Ks[k] = jobs[b], jobs[b].crop, jobs[b].K
			copy(fs[k*fsz:], feat[b*fsz:(b+1)*fsz])
			copy(sub.mask[k*px:], body.mask[b*px:(b+1)*px])
			sub.score[k] = body.score[b]
			copy(sub.cond[3*k:], body.cond[3*b:3*b+3])
			copy(sub.rays[k*2*Grid*Grid:], body.rays[b*2*Grid*Grid:(b+1)*2*Grid*Grid])
			for q, pt := range prompts[b] {
				copy(prompt[3*(k*np+q):], pt[:])
			}
			// prev_estimate: [pred_pose_raw, shape, scale, hand, face·0]
			// and pred_cam, i.e. the head outputs with the face zeroed.
			pv := prev[k*PrevEstimateDim : (k+1)*PrevEstimateDim]
			copy(pv, first.pose[b*NumPose:(b+1)*NumPose])
			clear(pv[offFace:NumPose])
			copy(pv[NumPose:], first.camera[3*b:3*b+3])
		}
		in := decoderInputs(sub, engine.Must(engine.FromFloat32(engine.Shape{G, FeatureDim, Grid, Grid}, fs)), G)
		in["prompt"] = engine.Must(engine.FromFloat32(engine.Shape{G, int64(np), 3}, prompt))
		in["prev_estimate"] = engine.Must(engine.FromFloat32(engine.Shape{G, PrevEstimateDim}, prev))
		p := bodyPass(r)
		p.first, p.firstName = r.hands.DecoderPrompt, EngineDecoderPrompt
		out, err := r.runPass(ctx, p, owners, crops, Ks, in)
		if err != nil {
			return err
		}
		for k, b := range idx {
			d, err := r.head.decodeParams(out.pose[k*NumPose : (k+1)*NumPose])
			if err != nil {
				return jobs[b].errorf("%s: %w", EngineDecoderPrompt, err)
			}
			params[b] = d
			camT[b] = cameraTranslation([3]float32(out.camera[3*k:3*k+3]), crops[k], Ks[k])
		}
	}
	return nil
}
