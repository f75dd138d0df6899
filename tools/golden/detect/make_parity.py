#!/usr/bin/env python3
"""End-to-end parity goldens for SAM-3's concept detector (segment.Detector
then detect.Postprocess): the reference detector (Sam3ImageOnVideoMultiGPU
from PyPI sam3 0.1.4, built as build_sam3_video_model builds it) with
random weights, shrunk to ship, runs its own detection path on frames of
the sample clip for the text "person"; its network is exported with
tools/export/segment/export.py (Detector, concept_embedding) into
testdata/detect/parity/ (a model directory), and the kept detections'
boxes, scores and masks are the goldens the Go detector must reproduce.

The reference path, per frame (sam3/model/sam3_video_base.py,
Sam3VideoBase.run_backbone_and_detection):
  - backbone.forward_text(["person"]) (the padded 32 tokens and their mask);
  - detector.forward_video_grounding_multigpu(..., run_nms=True,
    nms_prob_thresh=0.5, nms_iou_thresh=0.1): forward_grounding, then
    nms_masks (sam3/perflib/nms.py) with the NMS losers' logits lowered by 1e4;
  - pred_logits.sigmoid() > score_threshold_detection (0.5): the kept
    detections, with pred_boxes_xyxy and pred_masks;
  - masks upsampled to the frame (F.interpolate bilinear,
    align_corners=False) and binarised at 0, boxes times the frame size,
    as tools/golden/detect/make_golden.py does.
The frames are loaded as the tracker parity does (_load_img_as_tensor to
1008², then (x - 0.5) / 0.5, the video model's image_mean/std).

Shrinking ("tiny dims"; the detector's code path is unchanged, every
module is sam3's own class):
  - ViT: embed_dim 32, depth 2 (block 1 global, block 0 windowed 24),
    2 heads, mlp_ratio 2; the neck's 3×3 convolutions depthwise
    (groups 256); channels at the neck's output are the real 256;
  - text encoder: width 64, 1 layer, 2 heads (d_model 256 as real);
  - fusion encoder, geometry encoder and decoder: 1 layer each, feed-forward 16;
  - 50 queries instead of 200; the dot-product scorer's prompt MLP hidden 16;
  - pixel decoder: depthwise 3×3 convolutions.
Random weights: every weight re-drawn (fan-in scaled), rounded to float16
(the engine stores float16 weights). Random weights give no detection
above 0.5, so the script biases two heads (here, not in Go):
PRESENCE_BIAS on the presence head's last bias and CLASS_SCALE on the
dot-product scorer's scale, and CLASS_SHIFT on its query projection's
bias (along the projected prompt), so that 17 of the 50 queries score
above 0.5 on each frame. The random network's masks all overlap the top
query's (IoU > 0.1), so NMS keeps one detection per frame and drops 16;
the other 33 fall below the threshold.

    .venv/segment/bin/pip install -r tools/golden/segment/requirements.txt open_clip_torch
    python tools/golden/detect/make_parity.py

Re-running rewrites the engine (its bytes may differ with another
torch/onnx version; the manifest records its checksum) and the goldens.
"""
import gzip
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "export", "segment"))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
import export as ex  # noqa: E402

ex.cpu_patch()
from sam3.model.decoder import TransformerDecoder, TransformerDecoderLayer  # noqa: E402
from sam3.model.encoder import TransformerEncoderFusion, TransformerEncoderLayer  # noqa: E402
from sam3.model.geometry_encoders import SequenceGeometryEncoder  # noqa: E402
from sam3.model.maskformer_segmentation import PixelDecoder, UniversalSegmentationHead  # noqa: E402
from sam3.model.model_misc import MLP, DotProductScoring, TransformerWrapper  # noqa: E402
from sam3.model.model_misc import MultiheadAttentionWrapper as MultiheadAttention  # noqa: E402
from sam3.model.necks import Sam3DualViTDetNeck  # noqa: E402
from sam3.model.position_encoding import PositionEmbeddingSine  # noqa: E402
from sam3.model.sam3_image import Sam3ImageOnVideoMultiGPU  # noqa: E402
from sam3.model.text_encoder_ve import VETextEncoder  # noqa: E402
from sam3.model.tokenizer_ve import SimpleTokenizer  # noqa: E402
from sam3.model.utils.sam2_utils import _load_img_as_tensor  # noqa: E402
from sam3.model.vitdet import ViT  # noqa: E402
from sam3.model.vl_combiner import SAM3VLBackbone  # noqa: E402

OUT = os.path.join(ROOT, "testdata", "detect", "parity")
FRAMES = os.path.join(ROOT, "testdata", "segment", "frames")
NUM_FRAMES = 3
QUERIES = 50
FF = 16  # feed-forward width of the shrunk layers
PRESENCE_BIAS = 3.0
CLASS_SCALE = 4.0
CLASS_SHIFT = 1.6
SCORE_THRESHOLD, NMS_IOU = 0.5, 0.1  # build_sam3_video_model's score_threshold_detection, det_nms_thresh


def mha(batch_first):
    return MultiheadAttention(num_heads=8, dropout=0.1, embed_dim=256, batch_first=batch_first)


def build():
    """build_sam3_video_model's detector, shrunk (module docstring)."""
    torch.manual_seed(17)
    pos = PositionEmbeddingSine(num_pos_feats=256, normalize=True, scale=None, temperature=10000,
                                precompute_resolution=1008)
    vit = ViT(img_size=1008, pretrain_img_size=336, patch_size=14, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0,
              norm_layer="LayerNorm", drop_path_rate=0.0, qkv_bias=True, use_abs_pos=True, tile_abs_pos=True,
              global_att_blocks=(1,), rel_pos_blocks=(), use_rope=True, use_interp_rope=True, window_size=24,
              pretrain_use_cls_token=True, retain_cls_token=False, ln_pre=True, ln_post=False,
              return_interm_layers=False, bias_patch_embed=False)
    neck = Sam3DualViTDetNeck(position_encoding=pos, d_model=256, scale_factors=[4.0, 2.0, 1.0, 0.5], trunk=vit,
                              add_sam2_neck=False)
    for c in neck.convs:
        c.conv_3x3 = nn.Conv2d(256, 256, 3, padding=1, groups=256)
    text = VETextEncoder(tokenizer=SimpleTokenizer(bpe_path=ex.bpe_vocab()), d_model=256, width=64, heads=2, layers=1)
    backbone = SAM3VLBackbone(scalp=1, visual=neck, text=text)
    enc_layer = TransformerEncoderLayer(activation="relu", d_model=256, dim_feedforward=FF, dropout=0.1,
                                        pos_enc_at_attn=True, pos_enc_at_cross_attn_keys=False,
                                        pos_enc_at_cross_attn_queries=False, pre_norm=True,
                                        self_attention=mha(True), cross_attention=mha(True))
    encoder = TransformerEncoderFusion(layer=enc_layer, num_layers=1, d_model=256, num_feature_levels=1, frozen=False,
                                       use_act_checkpoint=False, add_pooled_text_to_img_feat=False,
                                       pool_text_with_mask=True)
    dec_layer = TransformerDecoderLayer(activation="relu", d_model=256, dim_feedforward=FF, dropout=0.1,
                                        cross_attention=MultiheadAttention(num_heads=8, dropout=0.1, embed_dim=256),
                                        n_heads=8, use_text_cross_attention=True)
    decoder = TransformerDecoder(layer=dec_layer, num_layers=1, num_queries=QUERIES, return_intermediate=True,
                                 box_refine=True, num_o2m_queries=0, dac=True, boxRPB="log", d_model=256,
                                 frozen=False, interaction_layer=None, dac_use_selfatt_ln=True, resolution=1008,
                                 stride=14, use_act_checkpoint=False, presence_token=True)
    transformer = TransformerWrapper(encoder=encoder, decoder=decoder, d_model=256)
    pixel = PixelDecoder(num_upsampling_stages=3, interpolation_mode="nearest", hidden_dim=256)
    pixel.conv_layers = nn.ModuleList(nn.Conv2d(256, 256, 3, 1, 1, groups=256) for _ in range(3))
    seg = UniversalSegmentationHead(hidden_dim=256, upsampling_stages=3, aux_masks=False, presence_head=False,
                                    dot_product_scorer=None, act_ckpt=False,
                                    cross_attend_prompt=MultiheadAttention(num_heads=8, dropout=0, embed_dim=256),
                                    pixel_decoder=pixel)
    geo_layer = TransformerEncoderLayer(activation="relu", d_model=256, dim_feedforward=FF, dropout=0.1,
                                        pos_enc_at_attn=False, pre_norm=True, self_attention=mha(False),
                                        pos_enc_at_cross_attn_queries=False, pos_enc_at_cross_attn_keys=True,
                                        cross_attention=mha(False))
    geo = SequenceGeometryEncoder(pos_enc=PositionEmbeddingSine(num_pos_feats=256, normalize=True, scale=None,
                                                                temperature=10000, precompute_resolution=1008),
                                  encode_boxes_as_points=False, points_direct_project=True, points_pool=True,
                                  points_pos_enc=True, boxes_direct_project=True, boxes_pool=True,
                                  boxes_pos_enc=True, d_model=256, num_layers=1, layer=geo_layer,
                                  use_act_ckpt=False, add_cls=True, add_post_encode_proj=True)
    scoring = DotProductScoring(d_model=256, d_proj=256, prompt_mlp=MLP(
        input_dim=256, hidden_dim=FF, output_dim=256, num_layers=2, dropout=0.1, residual=True,
        out_norm=nn.LayerNorm(256)))
    det = Sam3ImageOnVideoMultiGPU(num_feature_levels=1, backbone=backbone, transformer=transformer,
                                   segmentation_head=seg, semantic_segmentation_head=None,
                                   input_geometry_encoder=geo, use_early_fusion=True, use_dot_prod_scoring=True,
                                   dot_prod_scoring=scoring, supervise_joint_box_scores=True)
    # Only the SAM-3 neck is built (the tracker's SAM-2 neck is not the
    # detector's), so there are no tracker features to gather.
    det.gather_backbone_out = False
    g = torch.Generator().manual_seed(18)
    with torch.no_grad():
        for name, p in det.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
            elif "norm" not in name and "weight" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        decoder.presence_token_head.layers[-1].bias.add_(PRESENCE_BIAS)
        scoring.scale *= CLASS_SCALE
        # Raise every query's class logit by about CLASS_SHIFT: move the
        # query projection's bias along the projected "person" prompt (the
        # scorer's pooled prompt also holds the geometry CLS token, so the
        # shift is not exact, and need not be).
        t = det.backbone.forward_text(["person"], device="cpu")
        pooled = scoring.mean_pool_text(scoring.prompt_mlp(t["language_features"]), t["language_mask"])
        pp = scoring.prompt_proj(pooled)[0]
        scoring.hs_proj.bias.add_(CLASS_SHIFT * pp / (pp @ pp) / scoring.scale)
        for p in det.parameters():
            p.copy_(p.half().float())
    return det.eval()


def load_frames():
    imgs, sizes = [], None
    for i in range(NUM_FRAMES):
        img, h, w = _load_img_as_tensor(os.path.join(FRAMES, f"{i:03d}.png"), 1008)
        imgs.append((img - 0.5) / 0.5)
        sizes = (h, w)
    return torch.stack(imgs).float(), sizes


def reference(det, imgs, h, w):
    """Sam3VideoBase.run_backbone_and_detection's detection steps, frame by frame."""
    text = det.backbone.forward_text(["person"], device="cpu")
    backbone_out = {"img_batch_all_stages": imgs, **text}
    n = imgs.shape[0]
    finds = [SimpleNamespace(img_ids=torch.tensor([i]), text_ids=torch.tensor([0])) for i in range(n)]
    buf, frames = {}, []
    for i in range(n):
        out, backbone_out = det.forward_video_grounding_multigpu(
            backbone_out=backbone_out, find_inputs=finds, geometric_prompt=det._get_dummy_prompt(), frame_idx=i,
            num_frames=n, multigpu_buffer=buf, track_in_reverse=False, run_nms=True,
            nms_prob_thresh=SCORE_THRESHOLD, nms_iou_thresh=NMS_IOU)
        probs = out["pred_logits"].squeeze(-1).sigmoid()[0]
        kept = torch.where(probs > SCORE_THRESHOLD)[0]
        xyxy = out["pred_boxes_xyxy"][0][kept] * torch.tensor([w, h, w, h])
        up = F.interpolate(out["pred_masks"][0][kept][:, None], size=(h, w), mode="bilinear",
                           align_corners=False)[:, 0] > 0
        # All queries' scores before NMS, to see how far from 0.5 the
        # nearest dropped one was (the test's margin).
        raw = torch.where(out["pred_logits"][0, :, 0] < -1e3, out["pred_logits"][0, :, 0] + 1e4,
                          out["pred_logits"][0, :, 0]).sigmoid()
        frames.append({"frame": i, "queries": kept.tolist(), "scores": probs[kept].tolist(),
                       "boxes": xyxy.tolist(), "areas": up.sum((1, 2)).tolist(),
                       "masks": [np.packbits(m.numpy().reshape(-1)).tobytes().hex() for m in up],
                       "above": int((raw > SCORE_THRESHOLD).sum()),
                       # The nearest any query's score came to the threshold.
                       "margin": float((raw - SCORE_THRESHOLD).abs().min())})
        print(f"frame {i}: {int((raw > SCORE_THRESHOLD).sum())} above {SCORE_THRESHOLD}, kept {kept.tolist()} "
              f"scores {[round(s, 3) for s in probs[kept].tolist()]} areas {up.sum((1, 2)).tolist()} "
              f"margin {frames[-1]['margin']:.4f}")
    return frames


def main():
    torch.set_grad_enabled(False)
    det = build()
    imgs, (h, w) = load_frames()
    frames = reference(det, imgs, h, w)
    os.makedirs(OUT, exist_ok=True)
    ex.write_npy(os.path.join(OUT, "segment_concept_person.npy"), ex.concept_embedding(det))
    ex.export({"_tracker": SimpleNamespace(image_size=1008, backbone_stride=14), "detector": ex.Detector(det)}, OUT,
              fp16_weights=True)
    from exportlib import update_manifest
    update_manifest(OUT, "segment", [("detector", "segment_detector.onnx", "fp32")],
                    [("concept_person", "segment_concept_person.npy")], name="detect-parity",
                    description="The reference SAM-3 detector with random weights, shrunk "
                                "(tools/golden/detect/make_parity.py), as an ONNX engine.")
    with gzip.GzipFile(os.path.join(OUT, "golden.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps({"concept": "person", "width": w, "height": h, "frames": frames}).encode() + b"\n")


if __name__ == "__main__":
    main()
