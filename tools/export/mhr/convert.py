"""Convert the official MHR assets to body4d's MHR asset directory.

    python tools/export/mhr/convert.py ASSET_FOLDER OUT_DIR [--lod 1]
        [--sam3db-ckpt model.ckpt] [--no-correctives]

ASSET_FOLDER is the unzipped `assets/` of MHR's release (lod{N}.fbx,
compact_v6_1.model, corrective_blendshapes_lod{N}.npz,
corrective_activation.npz; see mhr-download-assets). The character is
loaded with the `mhr` package itself (MHR.from_files, pymomentum), so the
arrays are exactly those its torch forward uses. The 308-row keypoint
mapping is not an MHR asset: it is a buffer of SAM-3D-Body's MHR head
(`...keypoint_mapping`, 308 x (V+J)); pass the SAM-3D-Body checkpoint to
keep its first 70 rows (MHR-70), else the directory has no keypoints.

Not run in this repository: the MHR assets are not downloadable here. The
same array layout is exercised end to end by make_tiny.py, which builds a
character with pymomentum and writes it with the same writer.
Format: see mesh/mhr/doc.go.
"""

import argparse
import os
import pathlib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onestdcxx  # noqa: E402

onestdcxx.ensure()  # before torch and pymomentum are loaded

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mhr.mhr import MHR, NUM_FACE_EXPRESSION_BLENDSHAPES, NUM_IDENTITY_BLENDSHAPES  # noqa: E402

from assetfmt import write_assets  # noqa: E402

NUM_MODEL_PARAMS = 204
NUM_KEYPOINTS = 70


def keypoint_mapping(ckpt_path):
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    state = state.get("state_dict", state)
    keys = [k for k in state if k.endswith("keypoint_mapping")]
    if not keys:
        raise SystemExit(f"{ckpt_path}: no '*keypoint_mapping' tensor")
    # The body and hand heads each carry an MHR head with its own copy of
    # the mapping; copies that agree are one mapping, else the body's.
    first = state[keys[0]]
    if any(state[k].shape != first.shape or not torch.equal(state[k], first) for k in keys[1:]):
        body = [k for k in keys if "hand" not in k]
        if len(body) != 1:
            raise SystemExit(f"{ckpt_path}: {len(keys)} different '*keypoint_mapping' tensors and no single body one: {keys}")
        first = state[body[0]]
    return first.double().numpy()[:NUM_KEYPOINTS]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assets")
    ap.add_argument("out")
    ap.add_argument("--lod", type=int, default=1)
    ap.add_argument("--sam3db-ckpt")
    ap.add_argument("--no-correctives", action="store_true")
    args = ap.parse_args()

    # from_files joins paths with "/": it needs a Path, not a str.
    model = MHR.from_files(folder=pathlib.Path(args.assets), device=torch.device("cpu"), lod=args.lod,
                           wants_pose_correctives=not args.no_correctives)
    ct = model.character_torch
    sk = ct.skeleton
    J = len(sk.joint_names)

    pt = ct.parameter_transform.parameter_transform.double().numpy()
    n_blend = NUM_IDENTITY_BLENDSHAPES + NUM_FACE_EXPRESSION_BLENDSHAPES
    if pt.shape != (7 * J, NUM_MODEL_PARAMS + n_blend):
        raise SystemExit(f"parameter transform is {pt.shape}, want {(7 * J, NUM_MODEL_PARAMS + n_blend)}")
    # Blendshape columns always meet MHR.forward's zero padding; keep the
    # model-parameter columns only, and say so if they were not zero.
    if np.abs(pt[:, NUM_MODEL_PARAMS:]).max() > 0:
        print("note: blendshape columns of the parameter transform are non-zero; "
              "MHR.forward multiplies them by zero, so they are dropped", file=sys.stderr)

    shapes = ct.blend_shape.shape_vectors.numpy()  # [45+72, V, 3]
    sw_index = ct.linear_blend_skinning.skin_indices.numpy()
    sw_weight = ct.linear_blend_skinning.skin_weights.numpy()
    v_idx, slot = np.nonzero(sw_weight)

    arrays = {
        "parents": sk.joint_parents.numpy(),
        "translation_offsets": sk.joint_translation_offsets.double().numpy(),
        "pre_rotations": sk.joint_prerotations.double().numpy(),
        "inverse_bind_pose": ct.linear_blend_skinning.inverse_bind_pose.double().numpy(),
        "parameter_transform": pt[:, :NUM_MODEL_PARAMS],
        "base_shape": ct.blend_shape.base_shape.numpy(),
        "identity_basis": shapes[:NUM_IDENTITY_BLENDSHAPES],
        "expression_basis": shapes[NUM_IDENTITY_BLENDSHAPES:],
        "faces": ct.mesh.faces.numpy() if hasattr(ct.mesh, "faces") else np.asarray(model.character.mesh.faces),
        "skin_vertex": v_idx,
        "skin_joint": sw_index[v_idx, slot],
        "skin_weight": sw_weight[v_idx, slot],
    }

    n_kp = 0
    if args.sam3db_ckpt:
        km = keypoint_mapping(args.sam3db_ckpt)
        rows, cols = np.nonzero(km)
        arrays.update(keypoint_row=rows, keypoint_col=cols, keypoint_weight=km[rows, cols])
        n_kp = NUM_KEYPOINTS
    else:
        print("note: no --sam3db-ckpt, writing no keypoint mapping", file=sys.stderr)
        arrays.update(keypoint_row=np.zeros(0), keypoint_col=np.zeros(0), keypoint_weight=np.zeros(0))

    if model.pose_correctives_model is not None:
        seq = model.pose_correctives_model.pose_dirs_predictor
        dense = seq[2].weight.detach().numpy()  # [V*3, hidden]
        arrays.update(
            corrective_indices=seq[0].sparse_indices.detach().numpy(),
            corrective_weights=seq[0].sparse_weight.detach().numpy(),
            corrective_blendshapes=dense.T.reshape(dense.shape[1], -1, 3),
        )

    header = write_assets(args.out, arrays, n_kp, joint_names=list(sk.joint_names))
    print({k: v for k, v in header.items() if k != "joint_names"})


if __name__ == "__main__":
    main()
