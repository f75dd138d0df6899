"""A random stand-in for MHR's release assets, for setup.py's mhr step.

    python tools/export/mhr/standin.py OUT [--seed N]      # the mhr venv

Writes, in the layout MHR.from_files loads (mhr 1.0.1's io.py), a random
character at MHR LOD1's sizes (make_tiny.LOD1: 127 joints, 18,439 vertices,
204 parameters, 45 identity and 72 expression blendshapes, 3,000 corrective
units):

  OUT/lod1.fbx                          rig, mesh, skin and blendshapes
  OUT/compact_v6_1.model                momentum model definition (parameter transform)
  OUT/corrective_blendshapes_lod1.npz   corrective_blendshapes [3000, V, 3]
  OUT/corrective_activation.npz         posedirs_sparse_mask, 0.sparse_indices, 0.sparse_weight

pymomentum's pip wheel cannot write FBX (saving needs the Autodesk SDK), so
the rig is written here as binary FBX 7.4, only the objects momentum's
OpenFBX loader reads: a LimbNode model per joint (Lcl Translation,
PreRotation as XYZ Euler degrees), one Mesh model and geometry (Vertices,
PolygonVertexIndex), a Skin with one Cluster per joint (Indexes, Weights,
TransformLink = the joint's rest global transform) and a BlendShape with one
channel and Shape (Indexes, Vertices as offsets) per blendshape.

The stand-in is then loaded back with MHR.from_files, and every array
convert.py reads is compared with what was written; any difference exits 1.
"""

import argparse
import os
import pathlib
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onestdcxx  # noqa: E402

onestdcxx.ensure()  # before torch and pymomentum are loaded

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from make_tiny import LOD1, NEXPR, NID, NP, random_character  # noqa: E402

CHANNELS = ("tx", "ty", "tz", "rx", "ry", "rz", "sc")  # momentum's per-joint parameter names


class FBX:
    """Binary FBX 7.4 node records (32-bit offsets): each node is its end
    offset, property count and length, name, properties, then its children
    closed by a 13-byte null record."""

    def __init__(self):
        self.buf = bytearray(b"Kaydara FBX Binary  \x00\x1a\x00" + struct.pack("<I", 7400))

    @staticmethod
    def prop(v):
        if isinstance(v, str):
            b = v.encode("latin-1")
            return b"S" + struct.pack("<I", len(b)) + b
        if isinstance(v, int):
            return b"L" + struct.pack("<q", v)
        if isinstance(v, float):
            return b"D" + struct.pack("<d", v)
        if isinstance(v, tuple) and v[0] == "I":
            return b"I" + struct.pack("<i", v[1])
        a = np.ascontiguousarray(v)
        code = {np.dtype(np.float64): b"d", np.dtype(np.int32): b"i", np.dtype(np.int64): b"l"}[a.dtype]
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        return code + struct.pack("<III", a.size, 0, len(data)) + data

    def node(self, name, props=(), children=None):
        """Appends a node; children is a function that appends them."""
        start = len(self.buf)
        body = b"".join(self.prop(p) for p in props)
        nb = name.encode()
        self.buf += struct.pack("<III", 0, len(props), len(body)) + bytes([len(nb)]) + nb + body
        if children is not None:
            children()
            self.buf += bytes(13)
        struct.pack_into("<I", self.buf, start, len(self.buf))

    def p70(self, entries):
        """A Properties70 block of (name, type, label, flags, *values)."""
        self.node("Properties70", children=lambda: [self.node("P", e) for e in entries])

    def finish(self):
        self.buf += bytes(13)
        return bytes(self.buf)


def depth_first(a):
    """make_tiny's random skeleton numbers a joint after any recent joint;
    momentum numbers the joints of an FBX depth first. Renumber the joint
    arrays this script writes into that order, so that joint j of the file is
    joint j of the arrays."""
    parents = a["parents"]
    children = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    order, stack = [], [j for j, p in enumerate(parents) if p < 0][::-1]
    while stack:
        j = stack.pop()
        order.append(j)
        stack += children[j][::-1]
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    b = dict(a)
    b["parents"] = np.array([-1 if parents[j] < 0 else pos[parents[j]] for j in order], dtype=np.int32)
    for k in ("translation_offsets", "pre_rotations"):
        b[k] = a[k][order]
    b["parameter_transform"] = a["parameter_transform"].reshape(len(order), 7, -1)[order].reshape(a["parameter_transform"].shape)
    b["_skin_index"] = pos[a["_skin_index"]].astype(np.int32)
    return b


def rest_globals(parents, offsets, prerot_euler):
    """Each joint's rest global transform: parent · T(offset) · R(pre-rotation)."""
    G = np.zeros((len(parents), 4, 4))
    for j, p in enumerate(parents):
        L = np.eye(4)
        L[:3, :3] = Rotation.from_euler("xyz", prerot_euler[j], degrees=True).as_matrix()
        L[:3, 3] = offsets[j]
        G[j] = L if p < 0 else G[p] @ L
    return G


def write_fbx(path, a, prerot_euler):
    parents, offsets = a["parents"], a["translation_offsets"]
    J, V = len(parents), len(a["base_shape"])
    shapes = np.concatenate([a["identity_basis"], a["expression_basis"]]).astype(np.float64)
    G = rest_globals(parents, offsets, prerot_euler)
    ids = iter(range(1000, 10**9))
    joint_id = [next(ids) for _ in range(J)]
    mesh_id, geom_id, skin_id, bs_id = next(ids), next(ids), next(ids), next(ids)
    cluster_id = [next(ids) for _ in range(J)]
    chan_id = [next(ids) for _ in range(len(shapes))]
    shape_id = [next(ids) for _ in range(len(shapes))]
    all_v = np.arange(V, dtype=np.int32)
    polys = a["faces"].astype(np.int32).copy()
    polys[:, 2] = -polys[:, 2] - 1  # a polygon's last index is stored as -(i + 1)

    f = FBX()
    f.node("FBXHeaderExtension", children=lambda: f.node("FBXVersion", [("I", 7400)]))
    f.node("GlobalSettings", children=lambda: f.p70([("UnitScaleFactor", "double", "Number", "", 1.0)]))

    def objects():
        for j in range(J):
            f.node("Model", [joint_id[j], f"j{j}\x00\x01Model", "LimbNode"], lambda j=j: f.p70([
                ("Lcl Translation", "Lcl Translation", "", "A", *map(float, offsets[j])),
                ("PreRotation", "Vector3D", "Vector", "", *map(float, prerot_euler[j])),
                ("RotationActive", "bool", "", "", ("I", 1)),
            ]))
        f.node("Model", [mesh_id, "body\x00\x01Model", "Mesh"], lambda: None)
        f.node("Geometry", [geom_id, "body\x00\x01Geometry", "Mesh"], lambda: (
            f.node("Vertices", [a["base_shape"].astype(np.float64).ravel()]),
            f.node("PolygonVertexIndex", [polys.ravel()])))
        f.node("Deformer", [skin_id, "skin\x00\x01Deformer", "Skin"], lambda: None)
        idx, w = a["_skin_index"], a["_skin_weight_dense"]
        for j in range(J):
            v, s = np.nonzero((idx == j) & (w > 0))
            f.node("Deformer", [cluster_id[j], f"cluster{j}\x00\x01SubDeformer", "Cluster"], lambda j=j, v=v, s=s: (
                f.node("Indexes", [v.astype(np.int32)]),
                f.node("Weights", [w[v, s].astype(np.float64)]),
                f.node("Transform", [np.linalg.inv(G[j]).ravel(order="F")]),
                f.node("TransformLink", [G[j].ravel(order="F")])))
        f.node("Deformer", [bs_id, "shapes\x00\x01Deformer", "BlendShape"], lambda: None)
        for k in range(len(shapes)):
            f.node("Deformer", [chan_id[k], f"channel{k}\x00\x01SubDeformer", "BlendShapeChannel"], lambda: (
                f.node("DeformPercent", [0.0]), f.node("FullWeights", [np.array([100.0])])))
            f.node("Geometry", [shape_id[k], f"shape{k}\x00\x01Geometry", "Shape"], lambda k=k: (
                f.node("Indexes", [all_v]), f.node("Vertices", [shapes[k].ravel()])))

    f.node("Objects", children=objects)

    def connections():
        def oo(child, parent):
            f.node("C", ["OO", child, parent])
        for j in range(J):
            oo(joint_id[j], 0 if parents[j] < 0 else joint_id[parents[j]])
            oo(cluster_id[j], skin_id)
            oo(joint_id[j], cluster_id[j])
        oo(mesh_id, 0)
        oo(geom_id, mesh_id)
        oo(skin_id, geom_id)
        oo(bs_id, geom_id)
        for k in range(len(shapes)):
            oo(chan_id[k], bs_id)
            oo(shape_id[k], chan_id[k])

    f.node("Connections", children=connections)
    with open(path, "wb") as out:
        out.write(f.finish())


def write_model(path, pt):
    """The parameter transform as momentum's model definition. A parameter's
    index is the order of its first mention, so the first line names all 204
    (zero weights are dropped by the loader) to keep make_tiny's order."""
    lines = ["Momentum Model Definition V1.0", "", "[ParameterTransform]"]
    first = True
    for r in range(pt.shape[0]):
        cols = range(pt.shape[1]) if first else np.nonzero(pt[r])[0]
        if not first and len(cols) == 0:
            continue
        terms = " + ".join(f"{float(pt[r, c])!r}*p{c}" for c in cols)
        lines.append(f"j{r // 7}.{CHANNELS[r % 7]} = {terms}")
        first = False
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def check(out, a, prerot_euler):
    """Load the stand-in with mhr itself and compare what convert.py reads."""
    from mhr.mhr import MHR
    model = MHR.from_files(folder=pathlib.Path(out), device=torch.device("cpu"), lod=1)
    ct = model.character_torch
    sk = ct.skeleton
    J = len(a["parents"])
    got_rot = Rotation.from_quat(sk.joint_prerotations.double().numpy()).as_matrix()
    want_rot = Rotation.from_euler("xyz", prerot_euler, degrees=True).as_matrix()
    idx, w = ct.linear_blend_skinning.skin_indices.numpy(), ct.linear_blend_skinning.skin_weights.numpy()
    dense_got = np.zeros((len(idx), J))
    np.add.at(dense_got, (np.arange(len(idx))[:, None].repeat(idx.shape[1], 1), idx), w)
    dense_want = np.zeros_like(dense_got)
    np.add.at(dense_want, (np.arange(len(idx))[:, None].repeat(4, 1), a["_skin_index"]), a["_skin_weight_dense"])
    seq = model.pose_correctives_model.pose_dirs_predictor
    G = rest_globals(a["parents"], a["translation_offsets"], prerot_euler)
    checks = {
        "parents": (sk.joint_parents.numpy(), a["parents"]),
        "translation_offsets": (sk.joint_translation_offsets.double().numpy(), a["translation_offsets"]),
        "pre_rotations (as matrices)": (got_rot, want_rot),
        "inverse_bind_pose (as matrices)": (
            _trs_to_matrix(ct.linear_blend_skinning.inverse_bind_pose.double().numpy()), np.linalg.inv(G)),
        "parameter_transform": (ct.parameter_transform.parameter_transform.numpy()[:, :NP], a["parameter_transform"]),
        "base_shape": (ct.blend_shape.base_shape.numpy(), a["base_shape"]),
        "identity_basis": (ct.blend_shape.shape_vectors.numpy()[:NID], a["identity_basis"]),
        "expression_basis": (ct.blend_shape.shape_vectors.numpy()[NID:], a["expression_basis"]),
        "faces": (np.asarray(model.character.mesh.faces), a["faces"]),
        "skin weights (dense)": (dense_got, dense_want),
        "corrective_indices": (seq[0].sparse_indices.numpy(), a["corrective_indices"]),
        "corrective_weights": (seq[0].sparse_weight.numpy(), a["corrective_weights"]),
        "corrective_blendshapes": (seq[2].weight.numpy().T.reshape(a["corrective_blendshapes"].shape),
                                   a["corrective_blendshapes"]),
    }
    ok = True
    for name, (got, want) in checks.items():
        if got.shape != want.shape:
            print(f"FAIL {name}: shape {got.shape}, wrote {want.shape}")
            ok = False
            continue
        err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if got.size else 0.0
        scale = max(1.0, float(np.abs(want).max()))
        good = err <= 1e-5 * scale
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {name:32s} {str(got.shape):18s} max abs diff {err:.3g}")
    return ok


def _trs_to_matrix(s):
    """pymomentum's skeleton-state rows (tx, ty, tz, qx, qy, qz, qw, scale) as 4x4 matrices."""
    m = np.tile(np.eye(4), (len(s), 1, 1))
    m[:, :3, :3] = Rotation.from_quat(s[:, 3:7]).as_matrix() * s[:, 7:8, None]
    m[:, :3, 3] = s[:, :3]
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    a = depth_first(random_character(rng, LOD1))
    assert a["identity_basis"].shape[0] == NID and a["expression_basis"].shape[0] == NEXPR
    # Rest pre-rotations as FBX stores them: XYZ Euler angles in degrees.
    prerot_euler = Rotation.from_quat(a["pre_rotations"]).as_euler("xyz", degrees=True)
    os.makedirs(args.out, exist_ok=True)
    write_fbx(os.path.join(args.out, "lod1.fbx"), a, prerot_euler)
    write_model(os.path.join(args.out, "compact_v6_1.model"), a["parameter_transform"])
    np.savez(os.path.join(args.out, "corrective_blendshapes_lod1.npz"),
             corrective_blendshapes=a["corrective_blendshapes"])
    np.savez(os.path.join(args.out, "corrective_activation.npz"),
             posedirs_sparse_mask=a["_mask"], **{"0.sparse_indices": a["corrective_indices"],
                                                 "0.sparse_weight": a["corrective_weights"]})
    for name in sorted(os.listdir(args.out)):
        print(f"{name:36s} {os.path.getsize(os.path.join(args.out, name)) / 2**20:8.1f} MiB")
    sys.exit(0 if check(args.out, a, prerot_euler) else 1)


if __name__ == "__main__":
    main()
