// Package gltf writes animated, skinned bodies as glTF 2.0 binary files
// (.glb: one JSON chunk and one binary buffer), with no glTF library.
//
// One rig.Rig becomes:
//
//   - a node per MHR joint, named as the body model names it, in its
//     hierarchy, holding the bind pose (MHR's zero pose) as its rest
//     transform;
//   - a skinned mesh node at the scene root (glTF ignores a skinned mesh
//     node's own transform) whose vertices are the bind-pose mesh with the
//     person's identity baked in, with vertex normals, the skin's joints
//     and inverse bind matrices, and up to 8 influences per vertex in
//     JOINTS_0/WEIGHTS_0 (the 4 heaviest) and JOINTS_1/WEIGHTS_1 (only when
//     some vertex has more than 4);
//   - in the one animation, a translation, rotation and scale channel for
//     every joint, keyed on every video frame at time f·Den/Num seconds.
//
// Time: each key's time is the float32 nearest to f·Den/Num, computed in
// float64 and rounded once, so no error accumulates along the video. A
// float32 cannot hold 1001/30000 exactly, so "exact" means that each key
// is within half a float32 step of the true frame time and round(t·fps)
// gives back f for every frame of any video shorter than 2¹⁹ seconds
// (145 hours at 30 fps). Translation, rotation and the scale of non-root
// joints interpolate LINEAR between frames (rotations keep the sign of
// the previous key, so slerp takes the short way).
//
// Absent frames: the root joint's scale channel is STEP and 0 on every
// frame where the person is absent (collapsing the skinned mesh to a
// point), its pose held from the nearest present frame; other channels
// carry that held pose.
//
// Camera: a perspective camera node from the intrinsics K: yfov =
// 2·atan(H/2fy), aspectRatio = (W/fx)/(H/fy), znear 0.01 m, no zfar.
// glTF has no principal point, so a principal point off the image centre
// cannot be expressed: the camera's extras give cx, cy and their offset
// from the centre in pixels. glTF cannot animate a camera's field of view
// either: one K is written (the first frame's).
//
// Frame and units: metres, glTF's right-handed Y-up axes, in the frame
// the rigs were built in (rig.CameraFrame: the camera at the origin
// looking down −z; the camera node is keyed on every frame when the
// frame moves it).
package gltf
