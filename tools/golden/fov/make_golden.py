"""Make the fov stage's parity goldens from MoGe's own solver.

MoGe-2's focal/shift recovery (moge/utils/geometry_torch.py recover_focal_shift)
nearest-downsamples the point map, UV grid and mask to 64x64 with
F.interpolate(mode='nearest') and hands the masked samples to
solve_optimal_focal_shift / solve_optimal_shift in moge/utils/geometry_numpy.py
(scipy least_squares, method='lm', ftol=1e-3). This script imports that
geometry_numpy.py from a MoGe checkout given on the command line (nothing of
MoGe is committed), replays the torch downsample in numpy (torch is not needed:
the index rule is ATen's nearest_neighbor_compute_source_index,
src = min(floor(dst * float32(in/out)), in-1), computed in float32), and writes

  testdata/fov/<case>_points.npy  float32 (H,W,3)
  testdata/fov/<case>_mask.npy    uint8   (H,W)  (absent: no mask)
  testdata/fov/cases.json         expected focal, shift, sample count, ...

The near-flat cases (fronto-parallel, nearly constant depth) are ones where
the focal/shift solve is ill-conditioned: for them the file also records
how far the reference's own focal moves when one z of the map moves by one
float32 ulp (ulp_focal_change: the largest relative change over the four
corners and the centre), and whether the Go solver is expected to report
the solve as ill-conditioned (ill_conditioned); its test asserts that, not
the numbers, which even the reference cannot pin down there.

Usage:
  python make_golden.py --moge /path/to/MoGe [--out testdata/fov]
--moge is a MoGe checkout, or a bare git mirror (HEAD is read with git show).
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import scipy


def load_moge_geometry(moge):
    """Import MoGe's geometry_numpy.py with its unused heavy imports stubbed."""
    path = os.path.join(moge, "moge", "utils", "geometry_numpy.py")
    commit = "checkout"
    if not os.path.exists(path):
        src = subprocess.run(["git", "--git-dir", moge, "show", "HEAD:moge/utils/geometry_numpy.py"],
                             check=True, capture_output=True, text=True).stdout
        commit = subprocess.run(["git", "--git-dir", moge, "rev-parse", "HEAD"],
                                check=True, capture_output=True, text=True).stdout.strip()
        tmp = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
        tmp.write(src)
        tmp.close()
        path = tmp.name
    # cv2 and utils3d are imported at module level but not used by the solvers.
    for name in ("cv2", "utils3d"):
        sys.modules.setdefault(name, types.ModuleType(name))
    pkg = types.ModuleType("mogeref")
    pkg.__path__ = []
    sys.modules["mogeref"] = pkg
    tools = types.ModuleType("mogeref.tools")
    tools.timeit = lambda *a, **k: (lambda f: f)
    sys.modules["mogeref.tools"] = tools
    spec = importlib.util.spec_from_file_location("mogeref.geometry_numpy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, commit


def nearest_index(out_size, in_size):
    scale = np.float32(in_size) / np.float32(out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, in_size - 1)


def recover(geo, points, mask, focal=None):
    """numpy replay of geometry_torch.recover_focal_shift for one map."""
    h, w = points.shape[:2]
    uv = geo.normalized_view_plane_uv_numpy(w, h)  # float32, as torch's linspace in float32
    iy, ix = nearest_index(64, h), nearest_index(64, w)
    p = points[iy][:, ix]
    u = uv[iy][:, ix]
    if mask is not None:
        m = mask.astype(np.float32)[iy][:, ix] > 0
        p, u = p[m], u[m]
    else:
        p, u = p.reshape(-1, 3), u.reshape(-1, 2)
    n = p.shape[0]
    if n < 2:
        return (1.0 if focal is None else focal), 0.0, n
    if focal is None:
        shift, f = geo.solve_optimal_focal_shift(u, p)
        return float(f), float(shift), n
    shift = geo.solve_optimal_shift(u, p, np.float32(focal))
    return float(focal), float(shift), n


def uv_grid(h, w):
    d = np.hypot(w, h)
    u = (np.arange(w) + 0.5 - w / 2) / (d / 2)
    v = (np.arange(h) + 0.5 - h / 2) / (d / 2)
    return np.meshgrid(u, v, indexing="xy")


def synth(h, w, focal, shift, depth, noise, rng, scale=1.0):
    """Affine-invariant point map of a camera-space depth map: xy = uv*Z/f,
    z = Z - shift, all divided by scale, with multiplicative noise."""
    u, v = uv_grid(h, w)
    pts = np.stack([u * depth / focal, v * depth / focal, depth - shift], -1) / scale
    if noise:
        pts = pts * (1 + noise * rng.standard_normal(pts.shape))
    return pts.astype(np.float32)


def scene_depth(h, w):
    """A tilted ground plane with a person-sized bump in front of it."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ground = 6.0 - 3.0 * yy / h
    bump = 1.5 * np.exp(-(((xx - 0.45 * w) / (0.12 * w)) ** 2 + ((yy - 0.55 * h) / (0.3 * h)) ** 2))
    return ground - bump


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moge", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "testdata", "fov"))
    args = ap.parse_args()
    geo, commit = load_moge_geometry(args.moge)
    rng = np.random.default_rng(20261124)
    os.makedirs(args.out, exist_ok=True)

    cases = []

    def add(name, points, mask, fov_x=None, truth=None, ill_conditioned=None):
        h, w = points.shape[:2]
        focal = None
        if fov_x is not None:
            a = w / h
            focal = a / np.sqrt(1 + a * a) / np.tan(np.deg2rad(fov_x) / 2)
        f, s, n = recover(geo, points, mask, focal)
        extra = {}
        if ill_conditioned is not None:
            extra["ill_conditioned"] = ill_conditioned
            change = 0.0
            for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, w // 2)):
                nudged = points.copy()  # all five pixels are on the 64x64 grid for maps up to 64 wide
                nudged[y, x, 2] = np.nextafter(nudged[y, x, 2], np.float32(np.inf))
                change = max(change, abs(recover(geo, nudged, mask, focal)[0] / f - 1))
            extra["ulp_focal_change"] = change
        np.save(os.path.join(args.out, name + "_points.npy"), points)
        if mask is not None:
            np.save(os.path.join(args.out, name + "_mask.npy"), mask.astype(np.uint8))
        c = {"name": name, "height": h, "width": w, "mask": mask is not None,
             "samples": n, "focal": f, "shift": s}
        if fov_x is not None:
            c["fov_x_deg"] = fov_x
        if truth is not None:
            c["true_focal"], c["true_shift"] = truth
        c.update(extra)
        cases.append(c)

    # Realistic: 3:4 map, 1% noise, the upper band (sky) masked out.
    h, w = 72, 96
    pts = synth(h, w, 1.3, 0.8, scene_depth(h, w), 0.01, rng, scale=2.0)
    mask = np.ones((h, w), bool)
    mask[: h // 5] = False
    mask &= rng.random((h, w)) > 0.05
    add("realistic", pts, mask, truth=(1.3, 0.8 / 2.0))
    # Same map, horizontal FOV known: shift-only solve.
    add("known_fov", pts, mask, fov_x=55.0)
    # 16:9, wide lens, larger noise, no mask.
    h, w = 54, 96
    pts = synth(h, w, 0.7, -0.5, scene_depth(h, w) + 1.0, 0.03, rng)
    add("wide_nomask", pts, None, truth=(0.7, -0.5))
    # Map smaller than 64x64: nearest upsampling repeats samples.
    h, w = 40, 50
    pts = synth(h, w, 2.2, 1.5, scene_depth(h, w) + 2.0, 0.005, rng, scale=0.5)
    add("upsample", pts, np.ones((h, w), bool), truth=(2.2, 1.5 / 0.5))
    # Noise-free tilted plane: the residual vanishes at the optimum.
    h, w = 64, 64
    yy = np.mgrid[0:h, 0:w][0].astype(np.float64)
    pts = synth(h, w, 1.0, 1.0, 3.0 + 2.0 * yy / h, 0.0, rng)
    add("plane", pts, np.ones((h, w), bool), truth=(1.0, 1.0))
    # Exactly two samples survive the 64x64 downsample.
    pts = synth(h, w, 1.0, 0.3, scene_depth(h, w), 0.01, rng)
    mask = np.zeros((h, w), bool)
    mask[10, 12] = mask[50, 40] = True
    add("two_points", pts, mask)
    # One sample, and none: the reference returns focal 1, shift 0.
    mask = np.zeros((h, w), bool)
    mask[20, 20] = True
    add("one_point", pts, mask)
    add("all_masked", pts, np.zeros((h, w), bool))

    # Near-flat maps, 4:3, focal 1, shift 0.5: a wall facing the camera.
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    wall = np.full((h, w), 4.0)
    # Exactly constant depth: every shift fits, the focal is arbitrary.
    add("flat", synth(h, w, 1.0, 0.5, wall, 0.0, rng), None, truth=(1.0, 0.5), ill_conditioned=True)
    # The same with 0.1% noise: the solve runs off to a huge shift and focal.
    add("flat_noise", synth(h, w, 1.0, 0.5, wall, 0.001, rng), None, truth=(1.0, 0.5), ill_conditioned=True)
    # A 2% depth tilt under 1% noise.
    add("flat_tilt", synth(h, w, 1.0, 0.5, wall * (1 + 0.02 * (yy / h - 0.5)), 0.01, rng), None,
        truth=(1.0, 0.5), ill_conditioned=True)
    # A small person 10% in front of the wall, 1% noise.
    small = wall.copy()
    small[(np.abs(xx - 0.6 * w) < 0.05 * w) & (yy > 0.5 * h)] = 3.6
    add("wall_small_person", synth(h, w, 1.0, 0.5, small, 0.01, rng), None, truth=(1.0, 0.5), ill_conditioned=True)
    # Control: a larger person 25% in front of the wall is enough depth.
    big = wall.copy()
    big[(np.abs(xx - 0.5 * w) < 0.12 * w) & (yy > 0.3 * h)] = 3.0
    add("wall_person", synth(h, w, 1.0, 0.5, big, 0.01, rng), None, truth=(1.0, 0.5), ill_conditioned=False)

    meta = {"generator": "tools/golden/fov/make_golden.py",
            "moge_commit": commit, "numpy": np.__version__, "scipy": scipy.__version__,
            "cases": cases}
    with open(os.path.join(args.out, "cases.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    for c in cases:
        print(c)


if __name__ == "__main__":
    main()
