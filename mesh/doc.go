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
// Crops of consecutive frames are batched. The batch is the largest that
// a memory budget allows (Options.FreeMemory, by default the CPU's
// available memory, or a GPU's free memory through gpu.Devices), capped
// at 64 like the reference. When an engine reports running out of memory
// the batch is halved and the same crops are run again, so no frame is
// lost or repeated.
//
// # Work directory
//
// With Options.Dir set, each frame's people are written there as one
// JSON file (written to a temporary name and renamed), and a later run
// reads a frame's file instead of recomputing it.
//
// # Not done
//
// Only the "body" inference of the reference: "full" mode (hand crops,
// the hand decoder on the flipped left hand, wrist and elbow re-prompts
// and the merge) is not implemented, so hands come from the body decoder,
// as in the reference's "body" mode.
package mesh
