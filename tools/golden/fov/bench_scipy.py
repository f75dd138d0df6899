"""Time MoGe's own solve_optimal_focal_shift on the golden 64x64 grid that
fov.BenchmarkSolve uses (testdata/fov/wide_nomask, 4096 samples).

Usage: python bench_scipy.py --moge /path/to/MoGe [--n 200]
"""
import argparse
import os
import time

import numpy as np

import make_golden as mg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moge", required=True)
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    geo, _ = mg.load_moge_geometry(args.moge)
    here = os.path.dirname(os.path.abspath(__file__))
    pts = np.load(os.path.join(here, "..", "..", "..", "testdata", "fov", "wide_nomask_points.npy"))
    h, w = pts.shape[:2]
    uv = geo.normalized_view_plane_uv_numpy(w, h)
    iy, ix = mg.nearest_index(64, h), mg.nearest_index(64, w)
    p, u = pts[iy][:, ix].reshape(-1, 3), uv[iy][:, ix].reshape(-1, 2)
    t = time.perf_counter()
    for _ in range(args.n):
        geo.solve_optimal_focal_shift(u, p)
    print(f"solve_optimal_focal_shift: {(time.perf_counter() - t) / args.n * 1e9:.0f} ns/op ({len(p)} samples)")


if __name__ == "__main__":
    main()
