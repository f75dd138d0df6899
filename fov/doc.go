// Package fov estimates camera intrinsics with MoGe-2.
//
// MoGe-2 predicts an affine-invariant point map: points (x, y, z) that are
// the camera-frame points up to an unknown depth shift δ (and a metric
// scale it predicts separately). The package recovers the focal length f
// and δ from that map as MoGe's infer() does (reference note mesh-fov.md
// part C; moge/utils/geometry_torch.py recover_focal_shift and
// geometry_numpy.py solve_optimal_focal_shift): the map, its view-plane UV
// grid and its mask are nearest-downsampled to 64×64, and
//
//	min over δ of Σ ‖f(δ)·xy/(z+δ) − uv‖², f(δ) = Σ(p·uv)/Σ‖p‖², p = xy/(z+δ)
//
// is solved with the same Levenberg–Marquardt iteration and stopping rule
// as the reference's scipy least_squares(method='lm', x0=0, ftol=1e-3).
// f is in units of half the image diagonal; in pixels f_px = f·D/2 with
// D = √(W²+H²).
package fov
