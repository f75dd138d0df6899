#!/usr/bin/env python3
"""pyrender (OSMesa) side of bench.sh: renders the scene of the Go
benchmarks (render/bench_test.go) and prints frames/s.

The scene: n body-sized ellipsoids (make_golden.ellipsoid with 179 rings x
103 segments: 18,439 vertices and 36,874 faces, the MHR mesh's counts),
radii (0.3, 0.85) m, standing 0.8 m apart at z = 4 + 0.25*(i mod 3) m;
camera focal = image diagonal, principal point at the centre.

Two timings:
  reference: what SAM-Body4D does per frame (renderer.py): build the trimesh
             and scene and a new OffscreenRenderer, render RGBA, delete it;
  reuse:     the same scene and renderer rendered again (pyrender's best case).
Both use pyrender's 4x MSAA RGBA framebuffer path (see make_golden.render).

Usage: PYOPENGL_PLATFORM=osmesa python bench.py WIDTH HEIGHT PEOPLE FRAMES
"""
import os
import sys
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

import numpy as np
import pyrender

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PALETTE, build_scene, ellipsoid, raymond_lights  # noqa: E402

PALETTE = dict(PALETTE)
PALETTE.update({4: (118, 171, 47), 5: (76, 189, 237)})  # painter.py color_list[8], [9]


def people(n):
    out = []
    for i in range(n):
        x = 0.8 * (i - (n - 1) / 2)
        v, f = ellipsoid(179, 103, (0.3, 0.85), (x, 0.0, 4 + 0.25 * (i % 3)), 0.0)
        out.append((i + 1, v, f))
    return out


def make_scene(pp, w, h):
    import make_golden
    make_golden.PALETTE = PALETTE
    scene = build_scene(pp)
    f = float(np.hypot(w, h))
    scene.add(pyrender.IntrinsicsCamera(fx=f, fy=f, cx=w / 2, cy=h / 2, zfar=1e12), pose=np.eye(4))
    for node in raymond_lights():
        scene.add_node(node)
    return scene


def render_once(r, scene):
    r._platform.make_current()
    color, _ = r._renderer.render(scene, pyrender.RenderFlags.RGBA | pyrender.RenderFlags.OFFSCREEN)
    r._platform.make_uncurrent()
    return color


def main():
    w, h, n, frames = (int(a) for a in sys.argv[1:5])
    pp = people(n)
    # reference: everything rebuilt per frame
    t0 = time.perf_counter()
    for _ in range(frames):
        scene = make_scene(pp, w, h)
        r = pyrender.OffscreenRenderer(viewport_width=w, viewport_height=h)
        render_once(r, scene)
        r.delete()
    ref = frames / (time.perf_counter() - t0)
    # reuse: one scene, one renderer
    scene = make_scene(pp, w, h)
    r = pyrender.OffscreenRenderer(viewport_width=w, viewport_height=h)
    render_once(r, scene)
    t0 = time.perf_counter()
    for _ in range(frames):
        render_once(r, scene)
    reuse = frames / (time.perf_counter() - t0)
    r.delete()
    print(f"pyrender {w}x{h} {n} people: reference {ref:.2f} frames/s, reuse {reuse:.2f} frames/s")
    print(f"RESULT {ref:.4f} {reuse:.4f}")


if __name__ == "__main__":
    main()
