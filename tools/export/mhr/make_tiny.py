"""Tiny random MHR-like character and its reference outputs (goldens).

Builds, with fixed seeds, a small character of MHR's structure (16 joints
in a parent hierarchy, 300 vertices, 45 identity + 72 expression
blendshapes, a sparse 204-column parameter transform, random skin weights,
pose correctives 6*(J-2) -> 12*(J-2) -> V*3, a 70-row keypoint mapping),
writes it in body4d's asset format to testdata/mhr/tiny/, and evaluates it
with the reference: the `mhr` package's own torch model (mhr.mhr.MHR with
mhr.mhr.MHRPoseCorrectivesModel and mhr.utils.SparseLinear) over a
pymomentum Character built from the same arrays. The keypoint mapping is
SAM-3D-Body's linear map over [verts; joints], applied in numpy (float64).

    python tools/export/mhr/make_tiny.py   # from the repo root

Writes testdata/mhr/tiny/ (assets), testdata/mhr/golden.npz and
testdata/mhr/cases.json (the case names, in order).
"""

import json
import os
import sys

import numpy as np
import pymomentum.geometry as pym_geometry
import pymomentum.torch.character as torch_character
import torch
from mhr.mhr import MHR, MHRPoseCorrectivesModel
from mhr.utils import SparseLinear

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assetfmt import write_assets  # noqa: E402

NP = 204
NID = 45
NEXPR = 72
NKP = 70
SCALE0 = 136  # first skeleton-scale parameter, as in MHR's 204 layout


class Sizes:
    """Sizes of a random character. TINY is committed; LOD1 has MHR LOD1's
    sizes (reference note B) and is only made on the fly by bench.py."""

    def __init__(self, joints, verts, faces, hidden, skin, corr_nnz):
        self.J, self.V, self.F = joints, verts, faces
        self.HIDDEN, self.NFEAT = hidden, 6 * (joints - 2)
        self.SKIN, self.NNZ = skin, corr_nnz


TINY = Sizes(joints=16, verts=300, faces=500, hidden=12 * 14, skin=None, corr_nnz=6 * 12 * 14)
LOD1 = Sizes(joints=127, verts=18439, faces=36874, hidden=3000, skin=51337, corr_nnz=53136)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "testdata", "mhr")


def f32(x):
    return np.asarray(x, dtype=np.float32)


def spread(rng, total, n, lo, hi):
    """n integer counts in [lo, hi] summing to total."""
    counts = np.full(n, lo)
    extra = total - lo * n
    assert 0 <= extra <= (hi - lo) * n
    while extra > 0:
        i = rng.integers(0, n, extra)
        for k in i:
            if counts[k] < hi and extra > 0:
                counts[k] += 1
                extra -= 1
    return counts


def random_character(rng, z=TINY):
    """Arrays of a random MHR-like character, except the inverse bind pose
    (pymomentum computes that from the rest skeleton)."""
    J, V, F, HIDDEN, NFEAT = z.J, z.V, z.F, z.HIDDEN, z.NFEAT
    parents = np.full(J, -1, dtype=np.int32)
    parents[1] = 0
    for j in range(2, J):
        parents[j] = rng.integers(max(1, j - 4), j)
    offsets = f32(rng.normal(0, 10, (J, 3)))
    q = rng.normal(size=(J, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    prerot = f32(q)

    # Parameter transform [7J, 204]: rigid root (params 0..5), one
    # dedicated parameter per rotation channel and per joint scale, and
    # random sparse couplings for the remaining parameters.
    pt = np.zeros((7 * J, NP), dtype=np.float32)
    for c in range(6):
        pt[c, c] = 1
    p = 6
    for j in range(1, J):
        for c in range(3):
            if p < SCALE0:
                pt[7 * j + 3 + c, p] = 1
                p += 1
        pt[7 * j + 6, SCALE0 + (j - 1) % (NP - SCALE0)] = 1
    dedicated_rot = p
    free = list(range(dedicated_rot, SCALE0)) + list(range(SCALE0 + min(J - 1, NP - SCALE0), NP))
    for p in free:
        for _ in range(rng.integers(1, 4)):
            j = rng.integers(1, J)
            c = rng.integers(0, 7)
            pt[7 * j + c, p] += rng.normal(0, 0.3)

    base = f32(rng.normal(0, 20, (V, 3)))
    faces = np.stack([rng.choice(V, 3, replace=False) for _ in range(F)]).astype(np.int32)
    identity = f32(rng.normal(0, 0.5, (NID, V, 3)))
    expr = f32(rng.normal(0, 0.3, (NEXPR, V, 3)))

    # Skin: 1..4 distinct joints per vertex, weights summing to 1.
    skin_index = np.zeros((V, 4), dtype=np.int32)
    skin_weight = np.zeros((V, 4), dtype=np.float32)
    counts = rng.integers(1, 5, V) if z.SKIN is None else spread(rng, z.SKIN, V, 1, 4)
    for v in range(V):
        k = counts[v]
        skin_index[v, :k] = rng.choice(J, k, replace=False)
        skin_weight[v, :k] = rng.dirichlet(np.ones(k))
    sv, sk = np.nonzero(skin_weight)

    kp_row, kp_col, kp_w = [], [], []
    for r in range(NKP):
        k = rng.integers(1, 5)
        kp_row += [r] * k
        kp_col += list(rng.choice(V + J, k, replace=False))
        kp_w += list(rng.dirichlet(np.ones(k)))

    mask = np.zeros((HIDDEN, NFEAT), dtype=bool)
    # Every row needs a fan-in for SparseLinear's init.
    for h, k in enumerate(spread(rng, z.NNZ, HIDDEN, 1, NFEAT)):
        mask[h, rng.choice(NFEAT, k, replace=False)] = True
    corr_idx = np.stack(np.nonzero(mask)).astype(np.int64)  # SparseLinear's order
    corr_w = f32(rng.normal(0, 1, corr_idx.shape[1]))
    corr_dense = f32(rng.normal(0, 0.5, (HIDDEN, V, 3)))

    return {
        "parents": parents,
        "translation_offsets": offsets.astype(np.float64),
        "pre_rotations": prerot.astype(np.float64),
        "parameter_transform": pt,
        "base_shape": base,
        "identity_basis": identity,
        "expression_basis": expr,
        "faces": faces,
        "skin_vertex": sv.astype(np.int32),
        "skin_joint": skin_index[sv, sk],
        "skin_weight": skin_weight[sv, sk],
        "keypoint_row": np.array(kp_row, dtype=np.int32),
        "keypoint_col": np.array(kp_col, dtype=np.int32),
        "keypoint_weight": f32(kp_w),
        "corrective_indices": corr_idx,
        "corrective_weights": corr_w,
        "corrective_blendshapes": corr_dense,
        "_skin_index": skin_index,
        "_skin_weight_dense": skin_weight,
        "_mask": mask,
    }


def reference_model(a):
    """mhr.MHR over a pymomentum Character made from the arrays."""
    J = a["parents"].shape[0]
    HIDDEN, V = a["corrective_blendshapes"].shape[:2]
    NFEAT = 6 * (J - 2)
    joints = [
        pym_geometry.Joint(
            f"j{j}", int(a["parents"][j]),
            f32(a["pre_rotations"][j]).reshape(4, 1), f32(a["translation_offsets"][j]).reshape(3, 1))
        for j in range(J)
    ]
    skel = pym_geometry.Skeleton(joints)
    # pymomentum 0.1.114's Character.with_blend_shape segfaults on a
    # character built from arrays, so do by hand what it does: blendshape
    # coefficients become extra parameter columns (zero in the transform,
    # as identity never moves the skeleton), and the torch character gets
    # pymomentum's own BlendShape module over base + basis.
    names = [f"p{i}" for i in range(NP + NID + NEXPR)]
    pt_full = np.zeros((7 * J, NP + NID + NEXPR), dtype=np.float32)
    pt_full[:, :NP] = a["parameter_transform"]
    pt = pym_geometry.ParameterTransform(names, skel, pt_full)
    ch = pym_geometry.Character("tiny", skel, pt)
    mesh = pym_geometry.Mesh(a["base_shape"], a["faces"])
    ch = ch.with_mesh_and_skin_weights(mesh, pym_geometry.SkinWeights(a["_skin_index"], a["_skin_weight_dense"]))

    sparse = SparseLinear(NFEAT, HIDDEN, torch.from_numpy(a["_mask"]), bias=False)
    predictor = torch.nn.Sequential(sparse, torch.nn.ReLU(), torch.nn.Linear(HIDDEN, V * 3, bias=False))
    predictor.load_state_dict({
        "0.sparse_indices": torch.from_numpy(a["corrective_indices"]),
        "0.sparse_weight": torch.from_numpy(a["corrective_weights"]),
        "2.weight": torch.from_numpy(a["corrective_blendshapes"].reshape(HIDDEN, -1).T.copy()),
    })
    for prm in predictor.parameters():
        prm.requires_grad = False
    model = MHR(ch, MHRPoseCorrectivesModel(predictor), device=torch.device("cpu"))
    bs = torch_character.BlendShape.__new__(torch_character.BlendShape)
    torch_character.BlendShapeBase.__init__(
        bs, torch.from_numpy(np.concatenate([a["identity_basis"], a["expression_basis"]])))
    bs.register_buffer("base_shape", torch.from_numpy(a["base_shape"]))
    model.character_torch.blend_shape = bs
    return model


def parameter_cases(rng, J):
    """(name, identity, model, expr) cases: zeros, moderate, large and
    near-gimbal-lock rotations, non-zero scales, translation."""
    rot_y = [4] + [6 + 3 * (j - 1) + 1 for j in range(1, J)]  # dedicated y-angle params
    scales = list(range(SCALE0, NP))
    cases = []

    def add(name, ident, model, expr):
        cases.append((name, f32(ident), f32(model), f32(expr)))

    add("zeros", np.zeros(NID), np.zeros(NP), np.zeros(NEXPR))
    m = rng.normal(0, 0.3, NP)
    m[scales] = rng.normal(0, 0.1, len(scales))
    add("moderate", rng.normal(0, 1, NID), m, rng.normal(0, 0.5, NEXPR))
    m = rng.uniform(-np.pi, np.pi, NP)
    m[:3] = rng.normal(0, 50, 3)
    m[scales] = 0
    add("large_rotations", rng.normal(0, 1, NID), m, np.zeros(NEXPR))
    m = rng.normal(0, 0.3, NP)
    m[scales] = 0
    m[rot_y] = np.pi / 2 * rng.choice([-1, 1], len(rot_y)) + rng.choice([0, 1e-6, -1e-4], len(rot_y))
    add("gimbal_lock", rng.normal(0, 1, NID), m, rng.normal(0, 0.5, NEXPR))
    m = rng.normal(0, 0.2, NP)
    m[scales] = rng.uniform(-1, 1, len(scales))
    add("scales", np.zeros(NID), m, np.zeros(NEXPR))
    add("identity_only", rng.normal(0, 2, NID), np.zeros(NP), np.zeros(NEXPR))
    m = rng.normal(0, 1, NP)
    m[:3] = [120, -40, 300]
    m[scales] = rng.normal(0, 0.3, len(scales))
    add("translated", rng.normal(0, 1, NID), m, rng.normal(0, 1, NEXPR))
    return cases


def main():
    rng = np.random.default_rng(20260524)
    torch.manual_seed(0)
    a = random_character(rng)
    model = reference_model(a)
    lbs = model.character_torch.linear_blend_skinning
    a["inverse_bind_pose"] = lbs.inverse_bind_pose.double().numpy()

    public = {k: v for k, v in a.items() if not k.startswith("_")}
    write_assets(os.path.join(OUT, "tiny"), public, NKP)

    cases = parameter_cases(rng, TINY.J)
    ident = torch.from_numpy(np.stack([c[1] for c in cases]))
    params = torch.from_numpy(np.stack([c[2] for c in cases]))
    expr = torch.from_numpy(np.stack([c[3] for c in cases]))
    with torch.no_grad():
        verts, skel = model(ident, params, expr, apply_correctives=True)
        verts_nc, _ = model(ident, params, expr, apply_correctives=False)
    verts = verts.double().numpy()
    skel = skel.double().numpy()

    kp = np.zeros((len(cases), NKP, 3))
    X = np.concatenate([verts, skel[:, :, :3]], axis=1)
    for r, c, w in zip(a["keypoint_row"], a["keypoint_col"], a["keypoint_weight"]):
        kp[:, r] += float(w) * X[:, c]

    np.savez(
        os.path.join(OUT, "golden.npz"),
        identity=ident.numpy(), model=params.numpy(), expr=expr.numpy(),
        verts=verts.astype(np.float32), verts_no_correctives=verts_nc.numpy().astype(np.float32),
        skel_state=skel, keypoints=kp.astype(np.float32),
    )
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump([c[0] for c in cases], f)
        f.write("\n")
    for i, c in enumerate(cases):
        print(f"{c[0]:16s} |verts|max {np.abs(verts[i]).max():9.3f}  scale range "
              f"[{skel[i, :, 7].min():.3f}, {skel[i, :, 7].max():.3f}]")


if __name__ == "__main__":
    main()
