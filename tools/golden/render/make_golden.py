#!/usr/bin/env python3
"""Golden renders for body4d's render package, made with pyrender offscreen
(OSMesa), configured as SAM-Body4D's renderer configures it (reference note
app-pipeline.md §4; sam_3d_body/visualization/renderer.py):

- trimesh mesh with per-vertex colours, pyrender.Mesh.from_trimesh(smooth=True),
  no material (so pyrender's default metallic 0.2 / roughness 0.8 applies);
- vertices rotated 180° about x (OpenCV camera frame -> OpenGL), camera at
  the origin with no rotation: IntrinsicsCamera(fx, fy, cx, cy, zfar=1e12);
- three raymond DirectionalLights (white, intensity 1, theta=pi/6,
  phi=0, 2pi/3, 4pi/3) posed in the world frame, ambient light 0.3;
- RenderFlags.RGBA, 4x MSAA (pyrender's own framebuffer).

The background is transparent black, so the RGB that comes back is the
premultiplied colour (rgb*alpha) and the alpha is the MSAA coverage; the Go
test compares both. The reference swaps R and B in the vertex colours only
because it writes the result with cv2 (BGR); here colours are given and
saved as RGB.

Meshes are ellipsoids from one formula (ellipsoid() below, mirrored by
ellipsoidMesh in render/synth_test.go); their vertices and faces are saved
as .npy so the Go test reads exactly what pyrender drew.

Setup:  python3 -m venv .venv/render
        .venv/render/bin/pip install --no-deps -r requirements-render.txt
        apt-get install -y libosmesa6
Usage:  PYOPENGL_PLATFORM=osmesa .venv/render/bin/python make_golden.py [outdir]
Output is deterministic (fixed meshes, software rasterizer).
"""
import json
import os
import sys

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

import numpy as np
import pyrender
import trimesh
from PIL import Image

# Colours of person ids, color_list[id+4] of sam-body4d utils/painter.py.
PALETTE = {1: (216, 82, 24), 2: (236, 176, 31), 3: (125, 46, 141)}


def ellipsoid(rings, segs, radii, centre, tilt_deg):
    """UV ellipsoid in the OpenCV camera frame (y down).

    Vertex 0 is the top pole, then `rings` rings of `segs` vertices with
    polar angle pi*i/(rings+1), then the bottom pole. Axis radii
    (a, b, a): p = (a sin t cos f, -b cos t, a sin t sin f), rotated by
    tilt_deg about the z axis, then moved to centre. Faces wind outward.
    """
    a, b = radii
    pts = [(0.0, -b, 0.0)]
    for i in range(1, rings + 1):
        t = np.pi * i / (rings + 1)
        for j in range(segs):
            f = 2 * np.pi * j / segs
            pts.append((a * np.sin(t) * np.cos(f), -b * np.cos(t), a * np.sin(t) * np.sin(f)))
    pts.append((0.0, b, 0.0))
    p = np.array(pts, dtype=np.float64)
    c, s = np.cos(np.radians(tilt_deg)), np.sin(np.radians(tilt_deg))
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    p = p @ rot.T + np.asarray(centre, dtype=np.float64)

    def ring(i, j):
        return 1 + (i - 1) * segs + (j % segs)

    bottom = 1 + rings * segs
    faces = []
    for j in range(segs):
        faces.append((0, ring(1, j), ring(1, j + 1)))
    for i in range(1, rings):
        for j in range(segs):
            a0, b0 = ring(i, j), ring(i, j + 1)
            c0, d0 = ring(i + 1, j), ring(i + 1, j + 1)
            faces.append((a0, c0, b0))
            faces.append((b0, c0, d0))
    for j in range(segs):
        faces.append((ring(rings, j), bottom, ring(rings, j + 1)))
    return p.astype(np.float32), np.array(faces, dtype=np.uint32)


def raymond_lights():
    nodes = []
    for phi in np.pi * np.array([0.0, 2.0 / 3.0, 4.0 / 3.0]):
        theta = np.pi / 6
        z = np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
        z /= np.linalg.norm(z)
        x = np.array([-z[1], z[0], 0.0])
        if np.linalg.norm(x) == 0:
            x = np.array([1.0, 0.0, 0.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        m = np.eye(4)
        m[:3, :3] = np.c_[x, y, z]
        nodes.append(pyrender.Node(light=pyrender.DirectionalLight(color=np.ones(3), intensity=1.0), matrix=m))
    return nodes


def build_scene(people):
    """people: list of (id, verts, faces) in the OpenCV camera frame."""
    verts, faces, colors = [], [], []
    off = 0
    for pid, v, f in people:
        verts.append(v)
        faces.append(f.astype(np.int64) + off)
        colors.append(np.tile(np.array([*PALETTE[pid], 255], np.uint8), (len(v), 1)))
        off += len(v)
    mesh = trimesh.Trimesh(vertices=np.concatenate(verts), faces=np.concatenate(faces),
                           vertex_colors=np.concatenate(colors))
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.radians(180), [1, 0, 0]))
    scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=(0.3, 0.3, 0.3))
    scene.add(pyrender.Mesh.from_trimesh(mesh, smooth=True), "mesh")
    return scene


def render(people, K, size):
    w, h = size
    scene = build_scene(people)
    cam = pyrender.IntrinsicsCamera(fx=K[0], fy=K[1], cx=K[2], cy=K[3], zfar=1e12)
    scene.add(cam, pose=np.eye(4))
    for n in raymond_lights():
        scene.add_node(n)
    r = pyrender.OffscreenRenderer(viewport_width=w, viewport_height=h)
    # pyrender's OSMesa platform reports no framebuffer support, so
    # OffscreenRenderer.render would draw into OSMesa's single-sampled
    # default buffer and read back RGB only. The reference runs on EGL,
    # where pyrender draws into its own 4x multisampled RGBA framebuffer;
    # asking the renderer for that path (OFFSCREEN) reproduces it on OSMesa.
    r._platform.make_current()
    color, _ = r._renderer.render(scene, pyrender.RenderFlags.RGBA | pyrender.RenderFlags.OFFSCREEN)
    r._platform.make_uncurrent()
    r.delete()
    return color


# Scenes: two overlapping people; and one person cut by the near plane
# (z from -0.1 m to 0.3 m, pyrender's znear 0.05) in front of another.
SCENES = {
    "pair": {
        "size": [320, 240],
        "K": [300.0, 300.0, 155.5, 122.0],
        "people": [
            {"id": 1, "rings": 39, "segs": 48, "radii": [0.32, 0.85], "centre": [-0.2, 0.05, 3.2], "tilt": 12.0},
            {"id": 2, "rings": 41, "segs": 52, "radii": [0.28, 0.9], "centre": [0.25, -0.05, 3.8], "tilt": -8.0},
        ],
    },
    "near": {
        "size": [320, 240],
        "K": [280.0, 290.0, 160.0, 120.0],
        "people": [
            {"id": 3, "rings": 29, "segs": 40, "radii": [0.12, 0.15], "centre": [0.14, 0.1, 0.12], "tilt": 20.0},
            {"id": 1, "rings": 39, "segs": 48, "radii": [0.32, 0.85], "centre": [-0.1, 0.0, 3.0], "tilt": 5.0},
        ],
    },
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "testdata", "render")
    os.makedirs(out, exist_ok=True)
    for name, sc in SCENES.items():
        people = []
        for p in sc["people"]:
            v, f = ellipsoid(p["rings"], p["segs"], p["radii"], p["centre"], p["tilt"])
            np.save(os.path.join(out, f"{name}_p{p['id']}_verts.npy"), v)
            np.save(os.path.join(out, f"{name}_p{p['id']}_faces.npy"), f)
            people.append((p["id"], v, f))
        rgba = render(people, sc["K"], sc["size"])
        Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(os.path.join(out, f"{name}_pyrender.png"), optimize=True)
        print(name, rgba.shape, rgba.dtype, "coverage", (rgba[..., 3] > 127).mean())
    with open(os.path.join(out, "scenes.json"), "w") as fh:
        json.dump(SCENES, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
