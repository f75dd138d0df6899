"""Golden files for package amodal's occlusion logic (testdata/amodal).

Imports keep_largest_component, is_super_long_or_wide and is_skinny_mask
from a checkout of gaomingqi/sam-body4d (path in SAM_BODY4D, its utils/
on sys.path; never committed here) and re-implements app.py's per-frame
score loop around them (app.py ~585-642) on seeded random masks.

    SAM_BODY4D=/tmp/sam-body4d python tools/golden/amodal/make_occlusion_golden.py
"""
import importlib.util
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "testdata", "amodal")
N, H, W = 24, 40, 60

spec = importlib.util.spec_from_file_location("mask_utils", os.path.join(os.environ["SAM_BODY4D"], "utils", "mask_utils.py"))
mu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mu)


def score(a, b, obj_id):
    """app.py's IoU with its exceptions, then the fake-completion filter."""
    cp = (a == 1).astype(np.uint8) * 255
    cp[:int(H * 0.05), :] = cp[-int(H * 0.05):, :] = cp[:, :int(W * 0.05)] = cp[:, -int(W * 0.05):] = 0
    if cp.max() == 0:
        s = 1.0
    else:
        area_a, area_b = (a > 0).sum(), (b > 0).sum()
        if area_a == 0 and area_b == 0 or area_a > area_b:
            s = 1.0
        else:
            s = np.logical_and(a > 0, b > 0).sum() / (np.logical_or(a > 0, b > 0).sum() + 1e-6)
    if a.sum() > b.sum() or mu.is_super_long_or_wide(b, obj_id) or mu.is_skinny_mask(b):
        s = 1.0
    return s


def blob(rng, scale):
    m = np.zeros((H, W), np.uint8)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.integers(0, H), rng.integers(0, W)
        ry, rx = rng.integers(2, int(scale * H) + 3), rng.integers(2, int(scale * W) + 3)
        yy, xx = np.mgrid[:H, :W]
        m |= (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).astype(np.uint8)
    return m


def main():
    rng = np.random.default_rng(7)
    modal = np.zeros((N, H, W), np.uint8)
    rgb = np.zeros((N, H, W, 3), np.uint8)
    for i in range(N):
        am = blob(rng, [0.2, 0.45, 0.8][i % 3])
        modal[i] = am & blob(rng, 0.5) if i % 4 else am
        noise = rng.integers(0, 90, (H, W, 3))
        rgb[i] = np.where(am[..., None] == 1, 255 - noise, noise)
    amodal = np.stack([mu.keep_largest_component((r.astype(np.int32).sum(-1) > 600).astype(np.uint8)) for r in rgb])
    scores = np.array([[score(modal[i], amodal[i], obj) for i in range(N)] for obj in (1, 2)], np.float64)
    np.save(os.path.join(OUT, "occ_modal.npy"), modal)
    np.save(os.path.join(OUT, "occ_amodal_rgb.npy"), rgb)
    np.save(os.path.join(OUT, "occ_amodal.npy"), amodal.astype(np.uint8))
    np.save(os.path.join(OUT, "occ_scores.npy"), scores)


if __name__ == "__main__":
    main()
