#!/usr/bin/env python3
"""Export SAM-3D-Body (body and hand decoders) to the engines package mesh runs.

    SAM3DB_SRC=/path/to/sam-3d-body python tools/export/mesh/export.py \
        CHECKPOINT_DIR OUT_DIR [--opset 17]

CHECKPOINT_DIR holds model.ckpt, model_config.yaml and assets/mhr_model.pt
as in the gated facebook/sam-3d-body-dinov3 repository. SAM3DB_SRC is a
checkout of facebookresearch/sam-3d-body; the model is built with its own
load_sam_3d_body (note: the DINOv3 backbone is created through torch.hub,
which needs the hub cache or network access once).

Writes, for the mesh stage's contract (mesh/contract.go):

    mesh_backbone.onnx        image[B,3,512,512] -> features[B,1280,32,32]
    mesh_decoder.onnx         features, mask[B,1,512,512], mask_score[B,1],
                              condition[B,3], rays[B,2,32,32], prompt[B,N,3]
                              -> context, tokens, augment, pose, camera, hand_boxes
    mesh_decoder_layerI.onnx  prev_tokens, prev_augment, context,
                              keypoints_2d[B,70,2], keypoints_valid[B,70],
                              keypoints_3d[B,70,3]
                              -> tokens, augment, pose, camera, hand_boxes
    mesh_head.npz             the MHR head's buffers (mesh.ReadHead)

and for "full" mode (optional in a model directory; mesh.FullEngines):

    mesh_decoder_prompt.onnx       the decoder's inputs + prev_estimate[B,522]
                                   (run_keypoint_prompt: the previous pass's
                                   519 head outputs, face zeroed, and its raw
                                   camera) -> as mesh_decoder
    mesh_hand_decoder.onnx         decoder_hand's token construction, its
                                   hand_pe_layer, ray_cond_emb_hand, layer 0
                                   and the hand heads (mask 0 and mask_score 0
                                   select the no-mask embedding)
                                   -> context, tokens, augment, pose, camera
    mesh_hand_decoder_layerI.onnx  keypoint_token_update_fn_hand +
                                   keypoint3d_token_update_fn_hand, layer I,
                                   the hand heads -> tokens, augment, pose, camera
    mesh_hand_head.npz             head_pose_hand's buffers (mesh.ReadHandHead)
                                   plus local_to_world_wrist, right_wrist_coords,
                                   root_coords, nonhand_param_idxs, joints
                                   [76,77,78,40,41,42] and twist_joint_rotation =
                                   head_pose.joint_rotation[[77, 41]]

The hand path reuses mesh_backbone.onnx on the hand crops.

The decoder is cut after each layer because the reference refreshes the
keypoint tokens from a full MHR pass between layers; package mesh runs MHR
in Go there (see mesh/doc.go). Each wrapper below re-traces the reference's
forward_decoder / keypoint_token_update_fn / keypoint3d_token_update_fn
with the reference's own modules; the slices it assigns in place are
rebuilt with torch.cat, which exports cleanly. The ray map comes in
already at the 32x32 token grid (package mesh computes torch's antialias
downsampling exactly), so CameraEncoder's interpolate is skipped and its
Fourier features, 1x1 conv and LayerNorm2d are kept.

The MHR asset comes from tools/export/mhr/convert.py (with --sam3db-ckpt for
the keypoint mapping); zip that directory's files at its root into
mesh_mhr.npz and list mesh_mhr.npz, mesh_head.npz and mesh_hand_head.npz
under `files:` of the manifest (stage mesh, names mhr, head and hand_head),
with the engines under `engines:`.

STATUS: NEVER RUN on the real weights: this was written against the public
code (b5c765a) without the gated checkpoint; expect to fix details on first
contact. The hand decoder wrappers (Decoder(hand=True), Layer(hand=True),
the prompted Decoder) and mesh_hand_head.npz are as untested against real
weights as the body ones; package mesh's full mode is checked only on tiny
engines with the same I/O (tools/export/make_tiny.py).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.environ.get("SAM3DB_SRC", "."))
from sam_3d_body.build_models import load_sam_3d_body  # noqa: E402

NUM_KP = 70


class Backbone(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.backbone = m.backbone

    def forward(self, image):
        x = self.backbone(image, extra_embed=None)
        if isinstance(x, tuple):
            x = x[-1]
        return x.float()


def ray_condition(enc, feats, rays):
    """CameraEncoder.forward without the downsampling (rays are at the grid)."""
    B, _, h, w = feats.shape
    r = rays.permute(0, 2, 3, 1)
    r = torch.cat([r, torch.ones_like(r[..., :1])], dim=-1)
    emb = enc.camera(pos=r.reshape(B, -1, 3)).reshape(B, h, w, -1).permute(0, 3, 1, 2)
    return enc.norm(enc.conv(torch.cat([feats, emb], dim=1)))


def parts(m, hand):
    """The body decoder's modules, or decoder_hand's own (forward_decoder_hand)."""
    if not hand:
        return dict(decoder=m.decoder, init_pose=m.init_pose, init_camera=m.init_camera,
                    init_to_token=m.init_to_token_mhr, prev_to_token=m.prev_to_token_mhr,
                    dense_pe=lambda hw: m.prompt_encoder.get_dense_pe(hw), ray=m.ray_cond_emb,
                    kp=m.keypoint_embedding, kp3=m.keypoint3d_embedding, head_pose=m.head_pose,
                    head_camera=m.head_camera, posemb=m.keypoint_posemb_linear, feat=m.keypoint_feat_linear,
                    posemb3=m.keypoint3d_posemb_linear)
    return dict(decoder=m.decoder_hand, init_pose=m.init_pose_hand, init_camera=m.init_camera_hand,
                init_to_token=m.init_to_token_mhr_hand, prev_to_token=m.prev_to_token_mhr_hand,
                dense_pe=lambda hw: m.hand_pe_layer(hw).unsqueeze(0), ray=m.ray_cond_emb_hand,
                kp=m.keypoint_embedding_hand, kp3=m.keypoint3d_embedding_hand, head_pose=m.head_pose_hand,
                head_camera=m.head_camera_hand, posemb=m.keypoint_posemb_linear_hand,
                feat=m.keypoint_feat_linear_hand, posemb3=m.keypoint3d_posemb_linear_hand)


def heads(m, tokens, hand_start, hand=False):
    p = parts(m, hand)
    out = p["decoder"].norm_final(tokens)
    B = tokens.shape[0]
    pose = p["head_pose"].proj(out[:, 0]) + p["init_pose"].weight.expand(B, -1)
    cam = p["head_camera"].proj(out[:, 0]) + p["init_camera"].weight.expand(B, -1)
    if hand:  # the hand decoder's hand boxes are never read
        return pose, cam
    hands = m.bbox_embed(out[:, hand_start:hand_start + 2]).sigmoid()
    return pose, cam, hands


def flat(x):
    return x.flatten(2).permute(0, 2, 1)


class Decoder(nn.Module):
    """forward_pose_branch's mask conditioning + forward_decoder's (or,
    with hand, forward_decoder_hand's) token construction + layer 0 + the
    heads. With prompted, the previous-estimate token comes from a
    prev_estimate input (run_keypoint_prompt) instead of the initial
    estimate."""

    def __init__(self, m, hand=False, prompted=False):
        super().__init__()
        self.m, self.hand, self.prompted = m, hand, prompted

    def forward(self, features, mask, mask_score, condition, rays, prompt, prev_estimate=None):
        m = self.m
        p = parts(m, self.hand)
        B = features.shape[0]
        memb, no_memb = m.prompt_encoder.get_mask_embeddings(mask, B, features.shape[2:])
        s = mask_score.view(-1, 1, 1, 1)
        feats = features + torch.where(s > 0, s * memb, no_memb)
        init_pose = p["init_pose"].weight.expand(B, -1).unsqueeze(1)
        init_cam = p["init_camera"].weight.expand(B, -1).unsqueeze(1)
        init_est = torch.cat([init_pose, init_cam], dim=-1)
        tok = p["init_to_token"](torch.cat([condition.view(B, 1, -1), init_est], dim=-1)).view(B, 1, -1)
        prev_est = init_est if prev_estimate is None else prev_estimate.view(B, 1, -1)
        prev = p["prev_to_token"](prev_est).view(B, 1, -1)
        image_augment = p["dense_pe"](features.shape[-2:])
        context = ray_condition(p["ray"], feats, rays)
        pemb, _ = m.prompt_encoder(keypoints=prompt)
        pemb = m.prompt_to_token(pemb)
        hand = m.hand_box_embedding.weight[None].expand(B, -1, -1)
        kp = p["kp"].weight[None].expand(B, -1, -1)
        kp3 = p["kp3"].weight[None].expand(B, -1, -1)
        tokens = torch.cat([tok, prev, pemb, hand, kp, kp3], dim=1)
        augment = torch.cat([torch.zeros_like(tok), prev, pemb, torch.zeros_like(hand),
                             torch.zeros_like(kp), torch.zeros_like(kp3)], dim=1)
        hand_start = 2 + prompt.shape[1]
        tokens, _ = p["decoder"].layers[0](tokens, flat(context), augment,
                                           flat(image_augment).expand(B, -1, -1), None)
        return (context, tokens, augment) + heads(m, tokens, hand_start, self.hand)


class Layer(nn.Module):
    """keypoint_token_update_fn + keypoint3d_token_update_fn with the
    keypoints of the previous layer's MHR pass, then layer i and the heads."""

    def __init__(self, m, i, hand=False):
        super().__init__()
        self.m, self.i, self.hand = m, i, hand

    def forward(self, prev_tokens, prev_augment, context, keypoints_2d, keypoints_valid, keypoints_3d):
        m = self.m
        p = parts(m, self.hand)
        B, T = prev_tokens.shape[:2]
        k2, k3 = T - 2 * NUM_KP, T - NUM_KP
        valid = keypoints_valid.unsqueeze(-1)
        pos2 = p["posemb"](keypoints_2d) * valid
        feats = F.grid_sample(context, (keypoints_2d * 2).unsqueeze(2), mode="bilinear",
                              padding_mode="zeros", align_corners=False).squeeze(3).permute(0, 2, 1)
        upd = p["feat"](feats * valid)
        pos3 = p["posemb3"](keypoints_3d)
        tokens = torch.cat([prev_tokens[:, :k2], prev_tokens[:, k2:k3] + upd, prev_tokens[:, k3:]], dim=1)
        augment = torch.cat([prev_augment[:, :k2], pos2, pos3], dim=1)
        image_augment = p["dense_pe"](context.shape[-2:])
        tokens, _ = p["decoder"].layers[self.i](tokens, flat(context), augment,
                                                flat(image_augment).expand(B, -1, -1), None)
        return (tokens, augment) + heads(m, tokens, k2 - 2, self.hand)


def export(module, args, names_in, names_out, dynamic, path, opset):
    torch.onnx.export(module, args, path, input_names=names_in, output_names=names_out,
                      dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)
    print(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    m, cfg = load_sam_3d_body(os.path.join(a.checkpoint_dir, "model.ckpt"), device="cpu",
                              mhr_path=os.path.join(a.checkpoint_dir, "assets", "mhr_model.pt"))
    m = m.float().eval()
    assert cfg.MODEL.BACKBONE.TYPE not in ("vit_hmr_512_384",), "the ViT-H release crops 512x384; only dinov3 is supported"
    B, N = 2, 1
    feats = torch.randn(B, 1280, 32, 32)
    with torch.no_grad():
        export(Backbone(m), (torch.randn(B, 3, 512, 512),), ["image"], ["features"],
               {"image": {0: "B"}, "features": {0: "B"}}, os.path.join(a.out_dir, "mesh_backbone.onnx"), a.opset)
        prompt = torch.zeros(B, N, 3)
        prompt[..., 2] = -2
        dec_in = (feats, torch.zeros(B, 1, 512, 512), torch.ones(B, 1), torch.randn(B, 3) * 0.1,
                  torch.randn(B, 2, 32, 32) * 0.1, prompt)
        outs = ["context", "tokens", "augment", "pose", "camera", "hand_boxes"]
        dyn = {n: {0: "B"} for n in ["features", "mask", "mask_score", "condition", "rays", "context", "pose", "camera", "hand_boxes"]}
        dyn.update(prompt={0: "B", 1: "N"}, tokens={0: "B", 1: "T"}, augment={0: "B", 1: "T"})
        export(Decoder(m), dec_in, ["features", "mask", "mask_score", "condition", "rays", "prompt"], outs, dyn,
               os.path.join(a.out_dir, "mesh_decoder.onnx"), a.opset)
        ctx, tokens, augment, _, _, _ = Decoder(m)(*dec_in)
        for i in range(1, len(m.decoder.layers)):
            lin = (tokens, augment, ctx, torch.rand(B, NUM_KP, 2) - 0.5, torch.ones(B, NUM_KP), torch.randn(B, NUM_KP, 3) * 0.3)
            names = ["prev_tokens", "prev_augment", "context", "keypoints_2d", "keypoints_valid", "keypoints_3d"]
            dyn = {n: {0: "B"} for n in names + ["pose", "camera", "hand_boxes"]}
            for n in ["prev_tokens", "prev_augment", "tokens", "augment"]:
                dyn[n] = {0: "B", 1: "T"}
            export(Layer(m, i), lin, names, ["tokens", "augment", "pose", "camera", "hand_boxes"], dyn,
                   os.path.join(a.out_dir, f"mesh_decoder_layer{i}.onnx"), a.opset)
        # Full mode: the prompted body decoder (4 prompts at export; N is
        # dynamic), the hand decoder and its layers.
        prompt4 = torch.zeros(B, 4, 3)
        prompt4[..., 2] = -2
        din = ["features", "mask", "mask_score", "condition", "rays", "prompt"]
        dyn = {n: {0: "B"} for n in din + ["prev_estimate", "context", "pose", "camera", "hand_boxes"]}
        dyn.update(prompt={0: "B", 1: "N"}, tokens={0: "B", 1: "T"}, augment={0: "B", 1: "T"})
        export(Decoder(m, prompted=True), dec_in[:5] + (prompt4, torch.randn(B, 522) * 0.1), din + ["prev_estimate"],
               outs, dyn, os.path.join(a.out_dir, "mesh_decoder_prompt.onnx"), a.opset)
        hin = dec_in[:1] + (torch.zeros(B, 1, 512, 512), torch.zeros(B, 1)) + dec_in[3:]
        hdyn = {k: v for k, v in dyn.items() if k not in ("prev_estimate", "hand_boxes")}
        export(Decoder(m, hand=True), hin, din, outs[:5], hdyn,
               os.path.join(a.out_dir, "mesh_hand_decoder.onnx"), a.opset)
        hctx, htok, haug, _, _ = Decoder(m, hand=True)(*hin)
        for i in range(1, len(m.decoder_hand.layers)):
            lin = (htok, haug, hctx, torch.rand(B, NUM_KP, 2) - 0.5, torch.ones(B, NUM_KP), torch.randn(B, NUM_KP, 3) * 0.3)
            names = ["prev_tokens", "prev_augment", "context", "keypoints_2d", "keypoints_valid", "keypoints_3d"]
            ldyn = {n: {0: "B"} for n in names + ["pose", "camera"]}
            for n in ["prev_tokens", "prev_augment", "tokens", "augment"]:
                ldyn[n] = {0: "B", 1: "T"}
            export(Layer(m, i, hand=True), lin, names, ["tokens", "augment", "pose", "camera"], ldyn,
                   os.path.join(a.out_dir, f"mesh_hand_decoder_layer{i}.onnx"), a.opset)
    h = m.head_pose
    hh = m.head_pose_hand
    np.savez(os.path.join(a.out_dir, "mesh_hand_head.npz"),
             scale_mean=hh.scale_mean.detach().float().numpy(), scale_comps=hh.scale_comps.detach().float().numpy(),
             hand_pose_mean=hh.hand_pose_mean.detach().float().numpy(),
             hand_pose_comps=hh.hand_pose_comps.detach().float().numpy(),
             hand_joint_idxs_left=hh.hand_joint_idxs_left.detach().long().numpy(),
             hand_joint_idxs_right=hh.hand_joint_idxs_right.detach().long().numpy(),
             local_to_world_wrist=hh.local_to_world_wrist.detach().float().numpy(),
             right_wrist_coords=hh.right_wrist_coords.detach().float().numpy(),
             root_coords=hh.root_coords.detach().float().numpy(),
             nonhand_param_idxs=hh.nonhand_param_idxs.detach().long().numpy(),
             joints=np.array([76, 77, 78, 40, 41, 42], np.int64),
             twist_joint_rotation=h.joint_rotation.detach()[[77, 41]].float().numpy())
    print(os.path.join(a.out_dir, "mesh_hand_head.npz"))
    np.savez(os.path.join(a.out_dir, "mesh_head.npz"),
             scale_mean=h.scale_mean.detach().float().numpy(), scale_comps=h.scale_comps.detach().float().numpy(),
             hand_pose_mean=h.hand_pose_mean.detach().float().numpy(),
             hand_pose_comps=h.hand_pose_comps.detach().float().numpy(),
             hand_joint_idxs_left=h.hand_joint_idxs_left.detach().long().numpy(),
             hand_joint_idxs_right=h.hand_joint_idxs_right.detach().long().numpy())
    print(os.path.join(a.out_dir, "mesh_head.npz"))


if __name__ == "__main__":
    main()
