"""Import body4d's motion.glb and motion.bvh into Blender and write what
Blender evaluates: skinned vertex positions and joint head positions on
the given video frames. Run headless by Blender itself:

    blender -b --factory-startup --python tools/blendercheck/import_eval.py -- \
        --glb motion.glb --bvh motion.bvh --fps 30000/1001 --frames 0,44,89 --out eval.json

Positions are written in the files' own frame (Y up, metres): Blender's
importers turn Y-up files Z-up, (x, y, z) -> (x, -z, y), and this script
turns them back. The comparison with body4d's own posing is done by the
caller (the Go test TestBlender in package cmd/body4d).

Frame timing: Blender's glTF importer keys glTF time t at scene frame
t * scene.render.fps (an integer; fps_base is ignored), so with fps set to
the rate's numerator, video frame f (t = f*den/num, stored as float32) is
keyed at frame f*den; the script evaluates at that exact (fractional)
position. Blender's BVH importer keys BVH frame i at scene frame
frame_start + i (frame_start 1).
"""

import argparse
import json
import math
import sys

import numpy as np

# Blender 3.4's glTF importer still calls np.bool, which numpy 1.24
# removed (Debian 12 ships numpy 1.24); restore the alias before importing.
if not hasattr(np, "bool"):
    np.bool = bool

import bpy  # noqa: E402

BVH_FRAME_START = 1


def to_file_frame(v):
    """Blender's Z-up world back to the file's Y-up frame."""
    return [v[0], v[2], -v[1]]


def set_frame(position):
    whole = math.floor(position)
    bpy.context.scene.frame_set(int(whole), subframe=position - whole)


def armature_joints(arm):
    m = arm.matrix_world
    return {pb.name: to_file_frame(m @ pb.head) for pb in arm.pose.bones}


def eval_gltf(path, num, den, frames):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = num, 1.0
    bpy.ops.import_scene.gltf(filepath=path)
    arms = [o for o in scene.objects if o.type == "ARMATURE"]
    meshes = [o for o in scene.objects if o.type == "MESH"]
    if len(arms) != 1 or len(meshes) != 1:
        raise SystemExit(f"{path}: {len(arms)} armatures and {len(meshes)} meshes, want one of each")
    arm, mesh = arms[0], meshes[0]
    out = {"frames": [], "vertices": [], "joints": [], "key_frames": [], "vertex_count": len(mesh.data.vertices)}
    for f in frames:
        t = float(np.float32(f * den / num))  # the key's time as the file stores it
        key = t * num
        set_frame(key)
        dg = bpy.context.evaluated_depsgraph_get()
        ev = mesh.evaluated_get(dg)
        m = ev.matrix_world
        me = ev.to_mesh()
        verts = [to_file_frame(m @ v.co) for v in me.vertices]
        ev.to_mesh_clear()
        out["frames"].append(f)
        out["key_frames"].append(key)
        out["vertices"].append(verts)
        out["joints"].append(armature_joints(arm))
    return out


def open_without_u(file, mode="r", *args, **kwargs):
    return open(file, mode.replace("U", ""), *args, **kwargs)


def eval_bvh(path, frames):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # Blender 3.4's BVH importer opens its file with mode "rU", which
    # Python 3.11 (Debian 12's, which Debian's Blender runs) rejects; give
    # the importer's module an open that drops the "U".
    import io_anim_bvh.import_bvh
    io_anim_bvh.import_bvh.open = open_without_u
    bpy.ops.import_anim.bvh(filepath=path, frame_start=BVH_FRAME_START, rotate_mode="NATIVE",
                            axis_forward="-Z", axis_up="Y", update_scene_fps=False)
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if len(arms) != 1:
        raise SystemExit(f"{path}: {len(arms)} armatures, want one")
    out = {"frames": [], "joints": []}
    for f in frames:
        set_frame(BVH_FRAME_START + f)
        out["frames"].append(f)
        out["joints"].append(armature_joints(arms[0]))
    return out


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    ap = argparse.ArgumentParser()
    ap.add_argument("--glb")
    ap.add_argument("--bvh")
    ap.add_argument("--fps", required=True, help="NUM/DEN or NUM")
    ap.add_argument("--frames", required=True, help="comma-separated video frames")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    num, _, den = args.fps.partition("/")
    num, den = int(num), int(den or 1)
    frames = [int(x) for x in args.frames.split(",")]
    result = {"blender": bpy.app.version_string, "numpy": np.__version__}
    if args.glb:
        result["gltf"] = eval_gltf(args.glb, num, den, frames)
    if args.bvh:
        result["bvh"] = eval_bvh(args.bvh, frames)
    with open(args.out, "w") as f:
        json.dump(result, f)


main()
