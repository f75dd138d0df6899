// Package mesh is SAM-3D-Body mesh recovery: per person and frame, MHR
// body parameters from a crop of the frame, and meshes from them through
// the MHR body model (package mhr). The networks run as engines; every
// step between them is Go and follows the reference notes (mesh-fov.md
// A): the box from the mask padded by 1.25, the square crop of side
// 1.25·max(h, w/0.75) warped to 512² as cv2.warpAffine does, ImageNet
// normalisation, the CLIFF condition, the ray map at the 32×32 token
// grid, the 519 → 204 parameter decoding (6D → ZYX Euler for the global
// rotation, 6D → XYZ Euler and sin/cos → angle for the joints, hand and
// scale PCA), the camera translation tz = 2·f/(S·s) and the projection of
// the 70 keypoints.
//
// # Decoder cut
//
// SAM-3D-Body's decoder refreshes its 140 keypoint tokens after each of
// its first five layers from a full MHR forward pass (FK, correctives,
// skinning, keypoint regression) of the intermediate prediction. An
// engine must either contain MHR or stop between layers. This package
// stops between layers: the "decoder" engine builds the tokens and runs
// layer 0 and the heads, each "decoder_layerI" engine takes the
// refreshed keypoints and runs layer I and the heads, and MHR runs in Go
// in between. Reasons:
//
//   - MHR's TorchScript model does not export to ONNX (sam-3d-body issue
//     #106); tracing it would mean a second, untested port of MHR inside
//     the graph, with its 664 MB dense corrective layer and sparse
//     parameter transform and skinning copied into every decoder file.
//   - The Go MHR is already checked against the official package, so the
//     intermediate keypoints come from the same MHR, with correctives, as
//     the final mesh; the parity of one is the parity of the other.
//   - Between layers only the 70 keypoints are needed, and
//     mhr.Model.Keypoints evaluates just the vertices the keypoint
//     mapping reads: for a batch of 64 at LOD1 sizes that is about 60
//     times cheaper than a full forward with correctives.
//   - Each engine stays a plain transformer layer that TensorRT builds
//     well; the cost is five more engine calls per batch and moving the
//     ray-conditioned context (5 MB per crop) into each of them.
//
// # Batches and memory
//
// Crops of consecutive frames are batched. The batch is Options.MaxBatch
// (64 like the reference; body4d run uses 8 on the CPU), lowered to what
// a memory budget allows when Options.FreeMemory reports one (a GPU
// pool's free memory at CropBytes per crop). When an engine reports
// running out of memory the batch is halved and the same crops are run
// again, so no frame is lost or repeated.
//
// # Work directory
//
// With Options.Dir set, each frame's people are written there as one
// JSON file (written to a temporary name and renamed), and a later run
// reads a frame's file instead of recomputing it.
//
// # Full mode
//
// Options.Mode ModeFull is the reference's inference_type "full"
// (sam3d_body.py run_inference): after the body pass, the body decoder's
// hand boxes are made square and mapped to the frame, each hand is
// cropped with padding 0.9 and run through the backbone and the hand
// decoder (engines hand_decoder and hand_decoder_layerI, with MHR in Go
// between layers as for the body), the left hand on the mirrored frame
// and then un-mirrored; a hand is accepted by the reference's four tests
// (wrist angle, crop size, keypoints inside the crop, wrist distance);
// the body decoder runs again from its first estimate with the wrists
// and elbows as keypoint prompts (engine decoder_prompt, then the body's
// layer engines); the accepted hands' pose, scales and shape are merged,
// the wrists' XZY angles replaced (fix_wrist_euler), and MHR runs a
// final time. Every step runs over the whole batch (hand crops of a
// batch go through the engines together, left then right), and the
// results are written only at the end, so halving on out-of-memory
// loses and repeats nothing. The full-mode engines and the hand head
// (file hand_head) are optional in a model directory: body mode never
// reads them, and full mode names the first one missing. hand.go lists
// each reference quirk kept (the flipped left hand projected with the
// unflipped camera, the wrist distances divided by the other hand's crop,
// the final reprojection about (W/2, H/2) with fx, the lone-person prompt
// rule), each where it is applied.
//
// # Not done
//
//   - The full-mode engines have only been exported as tiny stand-ins
//     (tools/export/make_tiny.py); tools/export/mesh/export.py writes the
//     real ones but has never run on the gated checkpoint.
//   - Full mode evaluates MHR in full (Forward, with correctives and all
//     vertices) where the reference needs joint rotations: the first body
//     pass, each hand's last layer, the FK before the merge. mhr.Model has
//     no rotations-only evaluation yet; the intermediate layers use
//     Keypoints as in body mode.
//   - The reference batches one image's people, and its prompt rule
//     depends on that count (dummies with several people, dropped prompts
//     with one); this package counts the people present on the frame,
//     which is the same when the caller gives every person of a frame.
//   - The hand decoder's own hand boxes and hand_logits, and the body
//     decoder's hand_logits, are not exported or used (the reference does
//     not use them either).
package mesh
