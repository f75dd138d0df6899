"""Writer for body4d's MHR asset directory (format "body4d-mhr" v1).

The layout is documented in mesh/mhr/doc.go; the Go loader checks every
array's dtype and shape against header.json. convert.py (real MHR assets) and
make_tiny.py (test characters) both go through write_assets so the two can
not drift apart.
"""

import json
import os

import numpy as np

FORMAT = "body4d-mhr"
VERSION = 1

# name -> dtype; shapes are checked by the Go loader against the header.
DTYPES = {
    "parents": np.int32,
    "translation_offsets": np.float64,
    "pre_rotations": np.float64,
    "inverse_bind_pose": np.float64,
    "parameter_transform": np.float32,
    "base_shape": np.float32,
    "identity_basis": np.float32,
    "expression_basis": np.float32,
    "faces": np.int32,
    "skin_vertex": np.int32,
    "skin_joint": np.int32,
    "skin_weight": np.float32,
    "keypoint_row": np.int32,
    "keypoint_col": np.int32,
    "keypoint_weight": np.float32,
    "corrective_indices": np.int64,
    "corrective_weights": np.float32,
    "corrective_blendshapes": np.float32,
}
CORRECTIVES = ("corrective_indices", "corrective_weights", "corrective_blendshapes")


def write_assets(out_dir, arrays, num_keypoints, joint_names=None):
    """Write arrays (dict name -> ndarray) and header.json into out_dir.
    joint_names (optional, one per joint) go into the header."""
    os.makedirs(out_dir, exist_ok=True)
    has_corr = all(k in arrays for k in CORRECTIVES)
    if any(k in arrays for k in CORRECTIVES) and not has_corr:
        raise ValueError("corrective arrays must be given all together")
    V = arrays["base_shape"].shape[0]
    J = arrays["parents"].shape[0]
    header = {
        "format": FORMAT,
        "version": VERSION,
        "num_vertices": int(V),
        "num_joints": int(J),
        "num_faces": int(arrays["faces"].shape[0]),
        "num_model_params": int(arrays["parameter_transform"].shape[1]),
        "num_identity": int(arrays["identity_basis"].shape[0]),
        "num_expression": int(arrays["expression_basis"].shape[0]),
        "num_skin": int(arrays["skin_vertex"].shape[0]),
        "num_keypoints": int(num_keypoints),
        "num_keypoint_entries": int(arrays["keypoint_row"].shape[0]),
        "correctives": bool(has_corr),
        "corrective_hidden": int(arrays["corrective_blendshapes"].shape[0]) if has_corr else 0,
        "corrective_nnz": int(arrays["corrective_weights"].shape[0]) if has_corr else 0,
    }
    if joint_names is not None:
        if len(joint_names) != J:
            raise ValueError(f"{len(joint_names)} joint names for {J} joints")
        header["joint_names"] = [str(n) for n in joint_names]
    for name, dtype in DTYPES.items():
        if name not in arrays:
            continue
        np.save(os.path.join(out_dir, name + ".npy"), np.ascontiguousarray(arrays[name], dtype=dtype))
    with open(os.path.join(out_dir, "header.json"), "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    return header
