// Package segment is the SAM-3 point-prompt video tracker (the SAM-2
// style video path of SAM-3, as SAM-Body4D runs it): a person clicks
// points or draws boxes on one or more frames for each person, and the
// tracker returns a mask per person per frame.
//
// The four networks (image encoder, memory attention, prompt encoder +
// mask decoder, memory encoder) run as engines with the contracts of
// Contracts. Everything else is here and follows the reference tracker
// (sam3's Sam3TrackerPredictor; reference notes segment-amodal.md A):
//
//   - frames are resized to 1008² with Pillow's bicubic filter (bit-exact)
//     and normalised to [-1,1];
//   - clicks in frame pixels become model pixels (relative × 1008); labels
//     1 positive, 0 negative, a box as points 2 and 3 before the clicks, at
//     most 16 points (first 8 + last 8), one padding point appended;
//   - clicks are decoded without memory (fpn2 + no_mem_embed), feeding the
//     person's current mask on that frame back as the mask prompt; with at
//     most one point the best of three masks is kept, otherwise the single
//     mask unless its stability score is below 0.98;
//   - an object score ≤ 0 sets the mask to −1024 and the pointer to
//     no_obj_ptr, and adds no_obj_embed_spatial to the memory;
//   - before tracking, each clicked frame's masks of all people are
//     upsampled, made non-overlapping, binarised and encoded as a
//     conditioning memory; a person not clicked on it gets the reference's
//     placeholder there (empty mask, the no-object pointer), which Masks
//     reports as absent;
//   - tracking runs forward from the first clicked frame to the end, then
//     backward from it to the start; each frame attends to at most 4
//     conditioning memories (the nearest), 6 recent memories chosen by the
//     effective-IoU memory selection (SAM2Long-style frame filter, SAM-3's
//     default) and 16 object pointers split into 4 tokens of 64 with their
//     sine + projection position encoding; multimask output keeps the mask
//     with the best IoU; memories are encoded from sigmoid(mask)·20−10 and
//     stored in bfloat16 as the reference stores them;
//   - masks are made on demand: bilinear resize of the 288² logits to the
//     frame size (align_corners=False), then logit > 0; a person scored
//     absent gives a nil mask, not an empty one.
//
// Frames are read from the scene.FrameSource once each (the features of a
// clicked frame are kept until its memory is encoded). Large per-frame
// engine inputs are pooled and reused across frames. Segment holds only
// the memory bank that later frames can still read; Options.Dir moves the
// per-frame outputs to disk. An interactive Session (Add, Propagate, Add
// correction clicks, Propagate again) keeps every tracked memory, as the
// reference's inference state does.
//
// SAM21 configures the same code for SAM-2.1 engines (1024², ImageNet
// normalisation, no memory selection, all conditioning frames); the
// tracking logic stays SAM-3's, and SAM21 lists where sam2's own video
// predictor differs.
//
// # Parity with the reference
//
// End to end (TestParity): tools/golden/segment/make_parity.py builds the
// reference tracker from the sam3 package (random weights, shrunk to ship:
// a small image encoder with the backbone's output contract, 1-layer
// memory attention and decoder transformer, narrow MLPs; the engine
// boundaries keep their real channel sizes), exports its networks with
// tools/export/segment/export.py to testdata/segment/parity, and runs the
// reference predictor (add_new_points_or_box, propagate_in_video forward
// and backward) on frames of the sample clip: one person, two people, a
// negative click, a correction click on a later frame after a first
// propagation, and a person scored absent on its clicked frame who is
// then tracked. The Go tracker on the exported engines gives every mask
// with IoU ≥ 0.999 (worst 0.999995), every object score within 1e-3, and
// the same conditioning and recent memory frames on every tracked frame.
// With random weights no person leaves the view while being tracked, so
// absence is covered on clicked frames only (and by TestTinyAbsent).
//
// Host logic in depth (TestGolden*): make_golden.py runs the package's
// own functions on inputs the tests rebuild exactly: the memory assembly
// of _prepare_memory_conditioned_features (conditioning-frame selection,
// frame filter, temporal rows, pointers, their position encoding and
// token split) for SAM-3 and SAM-2.1 settings forward and backward,
// _forward_sam_heads' mask and pointer choice, the memory encoder's mask
// preparation and stored memory, the frame loader's resize and
// normalisation (bit-exact), and the output resize.
//
// The export of the real checkpoint (tools/export/segment/export.py) has
// been run only on random weights.
package segment
