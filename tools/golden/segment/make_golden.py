#!/usr/bin/env python3
"""Goldens for package segment's host logic, computed by the reference
tracker's own code (PyPI sam3, Sam3TrackerPredictor as build_tracker makes
it; random weights), not by a re-implementation.

What is checked against the reference, each with inputs the Go test can
rebuild exactly (integer patterns, no RNG):
  memory   _prepare_memory_conditioned_features with a stub encoder that
           captures the assembled memory: conditioning-frame selection,
           memory selection (frame_filter), temporal rows, object
           pointers, their sine/projection position encoding and 4-token
           split, for SAM-3 (selection on, 4 cond frames) and SAM-2.1
           settings (selection off, all cond frames), forward and backward.
  heads    _forward_sam_heads with a stub predict_masks: multimask choice,
           stability fallback, object-score gating, pointer choice.
  memenc   the consolidation's non-overlap + binarised mask and the
           tracking path's sigmoid mask for the memory encoder, and the
           no-object embedding + bfloat16 storage of its output.
  image    frame loading: PIL bicubic resize to 1008² and [-1,1] norm.
  resize   288² logits -> frame size (bilinear, align_corners=False).

The networks are not involved (their ONNX export is not done; see the
package doc), so these goldens are independent of the tiny engines.
The constants (temporal table, no-object embeddings, pointer projection)
are sample/models/tiny/segment_constants.npz.

    python3 -m venv .venv/segment
    .venv/segment/bin/pip install -r tools/golden/segment/requirements.txt
    .venv/segment/bin/python tools/golden/segment/make_golden.py

The sam3 package assumes CUDA in a few constructors and .cuda() calls;
cpu_patch() maps those to the CPU. The reference's bf16 autocast context
is for CUDA only, so everything here runs in float32 as on a CPU.
"""
import hashlib
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "testdata", "segment")


sys.path.insert(0, os.path.join(ROOT, "tools", "export", "segment"))
import export as ex  # noqa: E402

ex.cpu_patch()
from sam3.model_builder import build_tracker  # noqa: E402
from sam3.model.utils.sam2_utils import _load_img_as_tensor  # noqa: E402


def pattern(n, seed):
    """x[i] = float32(((i*7919 + seed) mod 2003) / 1001.5 - 1), as
    engine/ort's tiny goldens and segment's tests compute it."""
    i = np.arange(n, dtype=np.int64)
    return (((i * 7919 + seed) % 2003) / 1001.5 - 1.0).astype(np.float32)


def load_constants(m):
    z = np.load(os.path.join(ROOT, "sample", "models", "tiny", "segment_constants.npz"))
    with torch.no_grad():
        m.maskmem_tpos_enc.copy_(torch.from_numpy(z["maskmem_tpos_enc"]))
        m.no_mem_embed.copy_(torch.from_numpy(z["no_mem_embed"]))
        m.no_obj_ptr.copy_(torch.from_numpy(z["no_obj_ptr"]))
        m.no_obj_embed_spatial.copy_(torch.from_numpy(z["no_obj_embed_spatial"]))
        m.obj_ptr_tpos_proj.weight.copy_(torch.from_numpy(z["obj_ptr_tpos_proj_weight"]))
        m.obj_ptr_tpos_proj.bias.copy_(torch.from_numpy(z["obj_ptr_tpos_proj_bias"]))


B, HW = 2, (1, 2)  # objects; spatial size of the test memories


def frame_output(f, eff=None):
    """One batched output as the predictor stores it; values are patterns
    of the frame index so the Go test rebuilds them."""
    n = B * 64 * HW[0] * HW[1]
    out = {
        "maskmem_features": torch.from_numpy(pattern(n, 1000 + f)).view(B, 64, *HW).to(torch.bfloat16),
        "maskmem_pos_enc": [torch.from_numpy(pattern(64 * HW[0] * HW[1], 7)).view(1, 64, *HW).expand(B, -1, -1, -1)],
        "obj_ptr": torch.from_numpy(pattern(B * 256, 5000 + f)).view(B, 256),
    }
    if eff is not None:
        out["eff_iou_score"] = torch.tensor(eff, dtype=torch.float32)
    return out


# Memory scenarios: (name, selection, max_cond, t, reverse, num_frames,
# cond frames in insertion order, {tracked frame: effective IoU}).
def effs(frames, absent=()):
    return {f: (0.0 if f in absent else 0.5 + 0.01 * (f % 7)) for f in frames}


MEMORY = [
    ("fwd_absent", True, 4, 12, False, 100, [0, 4], effs([1, 2, 3, 5, 6, 7, 8, 9, 10, 11], absent=(3, 5))),
    ("fwd_first", True, 4, 1, False, 100, [0], {}),
    ("fwd_many_valid", True, 4, 40, False, 100, [0], effs(range(1, 40), absent=(20, 21))),
    ("fwd_6cond", True, 4, 30, False, 60, [0, 10, 20, 25, 40, 50], effs([f for f in range(1, 30) if f not in (10, 20, 25)], absent=(29,))),
    ("bwd", True, 4, 3, True, 20, [5, 15], effs([4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16], absent=(6,))),
    ("short_video", True, 4, 4, False, 5, [0], effs([1, 2, 3])),
    ("fwd_threshold", True, 4, 5, False, 50, [0], {1: 0.5, 2: 0.01, 3: 0.0100001, 4: 0.0}),
    ("sam21_fwd", False, -1, 20, False, 30, [0, 5, 18], effs([f for f in range(1, 20) if f not in (5, 18)], absent=(10,))),
    ("sam21_bwd", False, -1, 2, True, 30, [9, 25], effs(range(3, 30))),
]


def memory_golden(m, arrays):
    meta = []
    for name, sel, maxc, t, reverse, nframes, cond, tracked in MEMORY:
        m.use_memory_selection = sel
        m.max_cond_frames_in_attn = maxc
        od = {
            "cond_frame_outputs": {f: frame_output(f) for f in cond},
            "non_cond_frame_outputs": {f: frame_output(f, e) for f, e in tracked.items()},
        }
        cap = {}

        def fake_encoder(src, src_key_padding_mask, src_pos, prompt, prompt_pos,
                         prompt_key_padding_mask, feat_sizes, num_obj_ptr_tokens):
            cap.update(prompt=prompt.float(), pos=prompt_pos.float(), n=num_obj_ptr_tokens)
            return {"memory": src[-1]}

        m.transformer.encoder.forward = fake_encoder
        feats = [torch.zeros(HW[0] * HW[1], B, 256)]
        m._prepare_memory_conditioned_features(
            frame_idx=t, is_init_cond_frame=False, current_vision_feats=feats,
            current_vision_pos_embeds=feats, feat_sizes=[HW], output_dict=od,
            num_frames=nframes, track_in_reverse=reverse)
        arrays[f"{name}_prompt"] = cap["prompt"].numpy().astype(np.float32)
        arrays[f"{name}_pos"] = cap["pos"].numpy().astype(np.float32)
        valid = m.frame_filter(od, reverse, t, nframes, 1) if sel else None
        meta.append({"name": name, "selection": sel, "max_cond": maxc, "t": t, "reverse": reverse,
                     "num_frames": nframes, "cond": cond,
                     "tracked": [[f, e] for f, e in tracked.items()],
                     "num_obj_ptr_tokens": int(cap["n"]), "frame_filter": valid})
    m.use_memory_selection, m.max_cond_frames_in_attn = True, 4
    return meta


def heads_golden(m, arrays):
    """_forward_sam_heads with predict_masks stubbed to fixed outputs."""
    L = 16
    cases = []
    # Object 0: unstable single mask (many logits within ±0.05), object 1
    # stable, object 2 scored absent.
    masks = torch.from_numpy(pattern(3 * 4 * L * L, 11)).view(3, 4, L, L) * 4
    masks[0, 0] = torch.from_numpy(pattern(L * L, 12)).view(L, L) * 0.06
    masks[1, 0] = torch.where(masks[1, 0] > 0, 3.0, -3.0)
    iou = torch.tensor([[0.9, 0.2, 0.7, 0.7], [0.1, 0.3, 0.8, 0.5], [0.5, 0.6, 0.2, 0.9]])
    tokens = torch.from_numpy(pattern(3 * 4 * 256, 13)).view(3, 4, 256)
    score = torch.tensor([[2.0], [0.5], [-1.0]])
    with torch.no_grad():
        ptr_all = m.obj_ptr_proj(tokens)
    m.sam_mask_decoder.predict_masks = lambda **kw: (masks, iou, tokens, score)
    arrays["heads_masks"] = masks.numpy()
    arrays["heads_iou"] = iou.numpy()
    arrays["heads_ptr_all"] = ptr_all.numpy()
    arrays["heads_score"] = score.numpy()
    for mm in [True, False]:
        with torch.no_grad():
            out = m._forward_sam_heads(
                backbone_features=torch.zeros(3, 256, 72, 72),
                point_inputs={"point_coords": torch.zeros(3, 2, 2), "point_labels": torch.ones(3, 2, dtype=torch.int32)},
                high_res_features=[torch.zeros(3, 32, 288, 288), torch.zeros(3, 64, 144, 144)],
                multimask_output=mm)
        _, _, ious, low, _, ptr, sc = out
        key = "multi" if mm else "single"
        arrays[f"heads_{key}_low"] = low.numpy()
        arrays[f"heads_{key}_ptr"] = ptr.numpy()
        arrays[f"heads_{key}_iou"] = ious.max(-1)[0].numpy()
        cases.append(key)
    return {"low_res": L, "cases": cases}


def memenc_golden(m, arrays):
    """Mask preparation for the memory encoder and its output handling."""
    S, L = 56, 16
    logits = torch.from_numpy(pattern(3 * L * L, 21)).view(3, 1, L, L) * 8
    logits[2] = -1024.0
    score = torch.tensor([[3.0], [1.0], [-2.0]])
    feats = torch.from_numpy(pattern(3 * 64 * 4 * 4, 22)).view(3, 64, 4, 4)
    cap = {}

    def fake_backbone(pix_feat, mask_for_mem, skip_mask_sigmoid):
        cap["mask"] = mask_for_mem.clone()
        return {"vision_features": feats.clone(), "vision_pos_enc": [feats[:1].clone()]}

    m.maskmem_backbone.forward = fake_backbone
    hr = torch.nn.functional.interpolate(logits, size=(S, S), mode="bilinear", align_corners=False)
    cur = [torch.zeros(16, 3, 256)]
    for key, from_pts in [("binarised", True), ("sigmoid", False)]:
        masks = m._apply_non_overlapping_constraints(hr) if from_pts else hr
        with torch.no_grad():
            mem, _ = m._encode_new_memory(image=None, current_vision_feats=cur, feat_sizes=[(4, 4)],
                                          pred_masks_high_res=masks, object_score_logits=score,
                                          is_mask_from_pts=from_pts)
        arrays[f"memenc_{key}_mask"] = cap["mask"].numpy()
        # The predictor stores memories as bfloat16; keep the bits.
        arrays[f"memenc_{key}_mem_bf16"] = mem.to(torch.bfloat16).view(torch.int16).numpy().astype(np.int32)
    arrays["memenc_logits"] = logits.numpy()
    arrays["memenc_score"] = score.numpy()
    arrays["memenc_feats"] = feats.numpy()
    return {"size": S, "low_res": L}


def image_golden(arrays):
    path = os.path.join(OUT, "frames", "000.png")
    img, h, w = _load_img_as_tensor(path, 1008)
    x = torch.zeros(3, 1008, 1008, dtype=torch.float32)
    x[:] = img  # float64 -> float32, as the frame loader's preallocated tensor
    x -= torch.tensor([0.5, 0.5, 0.5]).view(3, 1, 1)
    x /= torch.tensor([0.5, 0.5, 0.5]).view(3, 1, 1)
    return {"frame": "frames/000.png", "sha256_float32": hashlib.sha256(x.numpy().tobytes()).hexdigest(),
            "height": h, "width": w}


def resize_golden(arrays):
    lo = torch.from_numpy(pattern(288 * 288, 31)).view(1, 1, 288, 288) * 3
    out = {}
    for H, W in [(360, 640), (1008, 1008)]:
        v = torch.nn.functional.interpolate(lo, size=(H, W), mode="bilinear", align_corners=False)[0, 0]
        flat = v.reshape(-1).numpy()
        idx = (np.arange(4096, dtype=np.int64) * flat.size) // 4096
        arrays[f"resize_{H}x{W}_index"] = idx
        arrays[f"resize_{H}x{W}_value"] = flat[idx]
        out[f"{H}x{W}"] = int((v > 0).sum())
    return out


def write_npz(path, arrays):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue())


@torch.no_grad()
def main():
    torch.manual_seed(0)
    m = build_tracker(apply_temporal_disambiguation=True).eval()
    load_constants(m)
    arrays = {}
    meta = {
        "reference": "sam3 (PyPI) Sam3TrackerPredictor from model_builder.build_tracker",
        "memory": memory_golden(m, arrays),
        "heads": heads_golden(m, arrays),
        "memenc": memenc_golden(m, arrays),
        "image": image_golden(arrays),
        "resize_positive": resize_golden(arrays),
    }
    import sam3
    meta["sam3_version"] = getattr(sam3, "__version__", "unknown")
    meta["torch_version"] = torch.__version__
    write_npz(os.path.join(OUT, "host_golden.npz"), arrays)
    with open(os.path.join(OUT, "host_golden.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
