#!/usr/bin/env python3
"""End-to-end parity goldens for package segment: the reference sam3
tracker (Sam3TrackerPredictor, PyPI sam3) with random weights, shrunk to
ship, runs on frames of the sample clip with fixed clicks; its networks
are exported to ONNX with tools/export/segment/export.py into
testdata/segment/parity/ (a model directory), and its masks, object
scores and memory frames are the goldens the Go tracker must reproduce.

Shrinking (documented "tiny dims"; the tracker code path is unchanged):
  - image encoder: a small conv net with the backbone's output contract
    (SAM-3's ViT cannot be shrunk to ship); the tracker's own conv_s0/s1
    are applied as in forward_image;
  - memory attention: 1 layer instead of 4, attention width 32
    (downsample_rate 8), feed-forward 16;
  - mask decoder: two-way transformer depth 1 with attention width 32,
    MLP hidden widths 16;
  - memory encoder: one ConvNeXt block with hidden width 16;
  - object-pointer MLP hidden width 16.
Channel sizes at every engine boundary are the real ones (256/64/32).

    .venv/segment/bin/pip install -r tools/golden/segment/requirements.txt
    .venv/segment/bin/python tools/golden/segment/make_parity.py

Re-running rewrites the engines (their bytes may differ with another
torch/onnx version; the manifest records their checksums) and the goldens.
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "export", "segment"))
import export as ex  # noqa: E402

ex.cpu_patch()
import sam3.model.sam3_tracking_predictor as stp  # noqa: E402
from sam3.model.sam3_tracker_base import MLP  # noqa: E402
from sam3.model_builder import build_tracker  # noqa: E402
from sam3.model.position_encoding import PositionEmbeddingSine  # noqa: E402
from sam3.model.utils.sam2_utils import _load_img_as_tensor  # noqa: E402
from sam3.sam.transformer import Attention, RoPEAttention  # noqa: E402

OUT = os.path.join(ROOT, "testdata", "segment", "parity")
FRAMES = os.path.join(ROOT, "testdata", "segment", "frames")
H = 16  # hidden width of the shrunk MLPs


def small_mlp(m):
    dims = [m.layers[0].in_features] + [H] * (m.num_layers - 1) + [m.layers[-1].out_features]
    m.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))


def shrink(t):
    enc = t.transformer.encoder
    enc.layers = enc.layers[:1]
    enc.num_layers = 1
    layer = enc.layers[0]
    layer.self_attn = RoPEAttention(embedding_dim=256, num_heads=1, downsample_rate=8, dropout=0.1,
                                    rope_theta=10000.0, feat_sizes=[72, 72])
    layer.cross_attn_image = RoPEAttention(embedding_dim=256, num_heads=1, downsample_rate=8, dropout=0.1,
                                           kv_in_dim=64, rope_theta=10000.0, feat_sizes=[72, 72], rope_k_repeat=True)
    layer.linear1, layer.linear2 = nn.Linear(256, H), nn.Linear(H, 256)
    md = t.sam_mask_decoder
    tw = md.transformer
    tw.layers = tw.layers[:1]
    tw.depth = 1
    blk = tw.layers[0]
    blk.self_attn = Attention(256, 8, downsample_rate=8)
    blk.cross_attn_token_to_image = Attention(256, 8, downsample_rate=8)
    blk.cross_attn_image_to_token = Attention(256, 8, downsample_rate=8)
    blk.mlp.lin1, blk.mlp.lin2 = nn.Linear(256, H), nn.Linear(H, 256)
    tw.final_attn_token_to_image = Attention(256, 8, downsample_rate=8)
    for m in list(md.output_hypernetworks_mlps) + [md.iou_prediction_head, md.pred_obj_score_head, t.obj_ptr_proj]:
        small_mlp(m)
    fu = t.maskmem_backbone.fuser
    fu.layers = fu.layers[:1]
    cx = fu.layers[0]
    cx.pwconv1, cx.pwconv2 = nn.Linear(256, H), nn.Linear(H, 256)
    # Mask downsampler: the same four stride-2 conv + LayerNorm2d + GELU
    # stages with 4/16/16/16 channels instead of 4/16/64/256, then 1×1 to 256.
    ds = t.maskmem_backbone.mask_downsampler.encoder
    chans = [1, 4, 16, 16, 16]
    for i in range(4):
        old = ds[3 * i]
        ds[3 * i] = nn.Conv2d(chans[i], chans[i + 1], old.kernel_size, old.stride, old.padding)
        ds[3 * i + 1] = type(ds[3 * i + 1])(chans[i + 1])
    ds[12] = nn.Conv2d(16, 256, 1)


class TinyBackbone(nn.Module):
    """forward_image with the SAM-3 backbone's sam2 output contract:
    three levels of 256 channels at 288², 144², 72² and sine positions."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 14, stride=14)
        self.p2 = nn.Conv2d(16, 256, 1)
        self.p1 = nn.Conv2d(256, 256, 1, groups=256)
        self.p0 = nn.Conv2d(256, 256, 1, groups=256)
        self.pos = PositionEmbeddingSine(num_pos_feats=256, normalize=True, scale=None, temperature=10000)

    def forward_image(self, img):
        f2 = torch.tanh(self.p2(torch.tanh(self.patch(img))))
        f1 = torch.tanh(self.p1(nn.functional.interpolate(f2, scale_factor=2.0, mode="bilinear", align_corners=False)))
        f0 = torch.tanh(self.p0(nn.functional.interpolate(f2, scale_factor=4.0, mode="bilinear", align_corners=False)))
        fpn = [f0, f1, f2]
        return {"sam2_backbone_out": {"backbone_fpn": fpn, "vision_pos_enc": [self.pos(x).to(x.dtype) for x in fpn]}}


def build():
    torch.manual_seed(4)
    t = build_tracker(apply_temporal_disambiguation=True)
    shrink(t)
    # Re-draw every weight so the shrunk network's outputs are not
    # dominated by one path, and scale the object score so that people
    # come and go.
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in t.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif "norm" not in name and "weight" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    t.backbone = TinyBackbone()
    with torch.no_grad():
        for p in t.backbone.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / (p[0].numel() ** 0.5 if p.dim() >= 2 else 10))
        # Centre the object score near 0 so that people come and go.
        t.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.add_(OBJ_SCORE_SHIFT)
        # The engines store weights in float16; give the reference the same.
        for p in list(t.parameters()) + list(t.backbone.parameters()):
            p.copy_(p.half().float())
    return t.eval()


OBJ_SCORE_SHIFT = 0.475

# Cases: (name, number of frames, prompts as [frame, obj_id, [[x,y,label], ...]] in
# frame pixels, correction prompts added after a first propagation).
CASES = [
    ("one_person", 4, [[0, 1, [[90, 175, 1]]]], []),
    ("two_people", 4, [[0, 1, [[90, 175, 1]]], [0, 2, [[520, 172, 1]]]], []),
    ("negative_click", 4, [[1, 2, [[520, 172, 1], [500, 100, 0]]]], []),
    ("correction", 5, [[0, 1, [[90, 175, 1]]]], [[3, 1, [[110, 175, 1], [300, 300, 0]]]]),
    # Person 1 is scored absent on its clicked frame 1 and present on the
    # tracked frames after it; frame 0, tracked backward, reads memories of
    # frames tracked forward. (With random weights no person leaves while
    # tracked: see the correction case for absent -> present across frames.)
    ("absent_then_present", 6, [[1, 2, [[520, 172, 1], [500, 100, 0]]], [1, 1, [[90, 175, 1], [300, 300, 0]]]], []),
]


def frames_size():
    img, h, w = _load_img_as_tensor(os.path.join(FRAMES, "000.png"), 1008)
    return h, w


def run_case(t, name, n, prompts, corrections):
    h, w = frames_size()

    def load(video_path, image_size, offload_video_to_cpu, async_loading_frames, compute_device):
        imgs = torch.zeros(n, 3, image_size, image_size, dtype=torch.float32)
        for i in range(n):
            imgs[i], _, _ = _load_img_as_tensor(os.path.join(FRAMES, f"{i:03d}.png"), image_size)
        imgs -= 0.5
        imgs /= 0.5
        return imgs, h, w

    stp.load_video_frames = load
    state = t.init_state(video_path=FRAMES, offload_state_to_cpu=True)
    # Record the memory frames each tracked frame reads.
    used = {}
    orig = t._prepare_memory_conditioned_features

    def spy(frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
            output_dict, num_frames, track_in_reverse=False, use_prev_mem_frame=True):
        if not is_init_cond_frame and use_prev_mem_frame:
            sel = t.frame_filter(output_dict, track_in_reverse, frame_idx, num_frames, 1)
            from sam3.model.sam3_tracker_utils import select_closest_cond_frames
            cs, us = select_closest_cond_frames(frame_idx, output_dict["cond_frame_outputs"], t.max_cond_frames_in_attn)
            recent = []
            for t_pos in range(1, t.num_maskmem):
                r = t.num_maskmem - t_pos
                if r > len(sel):
                    continue
                f = sel[-r]
                if f in output_dict["non_cond_frame_outputs"] or f in us:
                    recent.append(f)
            used[(frame_idx, track_in_reverse)] = {"cond": sorted(cs), "recent": recent}
        return orig(frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                    output_dict, num_frames, track_in_reverse, use_prev_mem_frame)

    t._prepare_memory_conditioned_features = spy
    results = []

    def add(ps):
        for frame, obj, pts in ps:
            pts = np.array(pts, dtype=np.float32)
            rel = pts[:, :2] / np.array([w, h], dtype=np.float32)
            t.add_new_points_or_box(state, frame_idx=frame, obj_id=obj, points=torch.from_numpy(rel),
                                    labels=torch.from_numpy(pts[:, 2].astype(np.int32)))

    def propagate(round_):
        out = {}
        for rev in [False, True]:
            for fidx, obj_ids, _, video_res, scores in t.propagate_in_video(
                    state, start_frame_idx=None, max_frame_num_to_track=None, reverse=rev, propagate_preflight=True):
                out[fidx] = (list(obj_ids), (video_res > 0).cpu().numpy()[:, 0], scores.float().cpu().numpy()[:, 0])
        return out

    add(prompts)
    rounds = [propagate(0)]
    if corrections:
        add(corrections)
        rounds.append(propagate(1))
    t._prepare_memory_conditioned_features = orig
    final = rounds[-1]
    frames = []
    for f in range(n):
        ids, masks, scores = final[f]
        frames.append({"frame": f, "people": ids, "scores": [float(s) for s in scores],
                       "masks": [np.packbits(m.reshape(-1)).tobytes().hex() for m in masks]})
    mem = [{"frame": f, "reverse": r, **v} for (f, r), v in sorted(used.items())]
    return {"name": name, "frames": n, "width": w, "height": h, "prompts": prompts, "corrections": corrections,
            "results": frames, "memory": mem if not corrections else None}


def main():
    torch.set_grad_enabled(False)
    t = build()
    os.makedirs(OUT, exist_ok=True)
    mods = {"_tracker": t, "image_encoder": ex.ImageEncoder(t, t.backbone), "memory_attention": ex.MemoryAttention(t),
            "mask_decoder": ex.MaskDecoder(t), "memory_encoder": ex.MemoryEncoder(t)}
    ex.export(mods, OUT, fp16_weights=True)
    ex.write_npz(os.path.join(OUT, "segment_constants.npz"), ex.constants(t))
    import hashlib
    sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    lines = ["# Written by tools/golden/segment/make_parity.py; do not edit.", "format: 1", "name: segment-parity",
             "description: The reference SAM-3 tracker with random weights, shrunk (see make_parity.py), as ONNX engines.",
             "engines:"]
    for e in ["image_encoder", "memory_attention", "mask_decoder", "memory_encoder"]:
        lines += [f"  - stage: segment", f"    name: {e}", f"    file: segment_{e}.onnx", "    backend: onnx",
                  "    precision: fp32", f"    sha256: {sha(os.path.join(OUT, f'segment_{e}.onnx'))}"]
    lines += ["files:", "  - stage: segment", "    name: constants", "    file: segment_constants.npz",
              f"    sha256: {sha(os.path.join(OUT, 'segment_constants.npz'))}"]
    with open(os.path.join(OUT, "manifest.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    cases = [run_case(t, *c) for c in CASES]
    import gzip
    with gzip.GzipFile(os.path.join(OUT, "golden.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps({"cases": cases}).encode() + b"\n")
    for c in cases:
        print(c["name"], [(r["frame"], [round(s, 2) for s in r["scores"]]) for r in c["results"]])


if __name__ == "__main__":
    main()
