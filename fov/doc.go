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
//
// The solve is ill-conditioned when the map's depth varies little: on a
// fronto-parallel, constant-depth map every shift fits and f(δ) just
// follows it, so the focal is set by the map's errors (even by float32
// rounding: the reference's own focal moves when one z moves by one ulp).
// Solution.Sensitivity measures this at the optimum, and IllConditioned
// flags it above MaxSensitivity = 0.5. On the synthetic maps of the
// goldens (tools/golden/fov/make_golden.py; focal error against the true
// camera, the reference's answer): sensitivity 0.07 realistic scene, 0.1%
// off; 0.19 wall with a large person in front and 1% noise, 2%; 0.25 wide
// lens with 3% noise, 4%; 0.95 wall with a small person, 33%; 2.7 a 2%
// depth tilt under 1% noise, 170%; 68 a flat wall with 0.1% noise, a
// focal 58 times too long. With the field of view known (SolveShift) the
// shift alone is solved, which is well-conditioned.
package fov
