#!/usr/bin/env python3
"""Export SAM-3D-Body (body and hand decoders) to the engines package mesh runs.

    SAM3DB_SRC=/path/to/sam-3d-body DINOV3_SRC=/path/to/dinov3 \
        python tools/export/mesh/export.py CHECKPOINT_DIR OUT_DIR \
        [--opset 17] [--body-only] [--external NAME ...]

CHECKPOINT_DIR holds model.ckpt, model_config.yaml and assets/mhr_model.pt
as in the gated facebook/sam-3d-body-dinov3 repository. SAM3DB_SRC is a
checkout of facebookresearch/sam-3d-body; the model is built with its own
load_sam_3d_body. The reference creates the DINOv3 backbone with
torch.hub.load("facebookresearch/dinov3", ..., source="github"), which
needs GitHub or a hub cache; with DINOV3_SRC set to a checkout of
facebookresearch/dinov3 that call is served from it (source="local"; its
hubconf.py needs termcolor besides torch). MOMENTUM_ENABLED is set unless
already set, so that MHRHead loads the given mhr_model.pt even where the
`mhr` package is installed (the export never runs MHR).

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

The hand path reuses mesh_backbone.onnx on the hand crops. --body-only
skips the full-mode engines. An engine over protobuf's 2 GB (the real
backbone, about 3.4 GB in float32) or named by --external keeps its
weights in mesh_NAME.onnx.data. All engines are float32 (the reference
runs the backbone in float16 on the GPU: TRAIN.USE_FP16).

The decoder is cut after each layer because the reference refreshes the
keypoint tokens from a full MHR pass between layers; package mesh runs MHR
in Go there (see mesh/doc.go). Each wrapper below re-traces the reference's
forward_decoder / keypoint_token_update_fn / keypoint3d_token_update_fn
with the reference's own modules; the slices it assigns in place are
rebuilt with torch.cat, which exports cleanly. The ray map comes in
already at the 32x32 token grid (package mesh computes torch's antialias
downsampling exactly), so CameraEncoder's interpolate is skipped and its
Fourier features (computed for the whole batch: the reference loops over
the batch in Python, which traces to the example's size), 1x1 conv and
LayerNorm2d are kept.

OUT_DIR/manifest.yaml gets the engines (stage mesh) under `engines:` and
mesh_head.npz, mesh_hand_head.npz (names head, hand_head) and any .data
file (name NAME_data) under `files:`, other entries kept. The MHR asset
comes from tools/export/mhr/convert.py (with --sam3db-ckpt for the
keypoint mapping); zip that directory's files at its root into
mesh_mhr.npz and add it under `files:` (stage mesh, name mhr).

STATUS: run only on random weights at a small config (check_random.sh);
never on the real checkpoint. check_random.py builds SAM3DBody from the
reference code (the dinov3 release's model_config.yaml with DINOv3-H+ cut
to 2 blocks and the decoder to 2 heads of 16, MLP 64, depth 6 and widths
1024/1280 as released), loads it back through load(), exports every
engine and compares each with onnxruntime against the reference's own
forward_decoder / forward_decoder_hand path (MHR stubbed with fixed
keypoints, which the layer engines get) to about 1e-6, checks the Go
contracts and runs body4d doctor. Not verified: the real checkpoint's
state dict loading into this build (load_sam_3d_body loads with
strict=False, so a key mismatch would only be printed), the full-size
backbone's export (32 blocks; its external-data path is exercised on the
small one), and real-weight numerics (float32 against the reference's
float16 backbone).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tools/export
from exportlib import OPSET, onnx_export, update_manifest  # noqa: E402

NUM_KP = 70


def import_sam3db():
    """load_sam_3d_body from the checkout at SAM3DB_SRC. MOMENTUM_ENABLED is
    set (unless it already is) so that MHRHead loads the given mhr_model.pt
    and not the `mhr` package's default assets when that package happens
    to be installed; the export reads no MHR either way."""
    src = os.environ.get("SAM3DB_SRC", ".")
    if src not in sys.path:
        sys.path.insert(0, src)
    os.environ.setdefault("MOMENTUM_ENABLED", "0")
    from sam_3d_body.build_models import load_sam_3d_body
    return load_sam_3d_body


def use_local_dinov3(src):
    """Make the reference's torch.hub.load("facebookresearch/dinov3", name,
    source="github", ...) load from a local checkout of
    facebookresearch/dinov3 (source="local") instead of GitHub."""
    orig = getattr(torch.hub.load, "_mesh_orig", torch.hub.load)

    def load(repo_or_dir, model, *args, source="github", **kwargs):
        if repo_or_dir == "facebookresearch/dinov3" and source == "github":
            return orig(src, model, *args, source="local", **kwargs)
        return orig(repo_or_dir, model, *args, source=source, **kwargs)

    load._mesh_orig = orig
    torch.hub.load = load


def checkpoint_keys(path):
    try:
        ck = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except RuntimeError:  # not in the zip format mmap needs
        ck = torch.load(path, map_location="cpu", weights_only=False)
    return set(ck.get("state_dict", ck))


def load(checkpoint_dir, allow_missing=False):
    """The model of CHECKPOINT_DIR (model.ckpt, model_config.yaml,
    assets/mhr_model.pt) in float32, eval mode; with DINOV3_SRC set, the
    DINOv3 code comes from that checkout. load_sam_3d_body loads with
    strict=False, so a tensor the checkpoint lacks would keep its random
    initial value; that is an error here unless allow_missing (the MHR
    module, loaded from mhr_model.pt, excepted)."""
    if os.environ.get("DINOV3_SRC"):
        use_local_dinov3(os.environ["DINOV3_SRC"])
    load_sam_3d_body = import_sam3db()
    ckpt = os.path.join(checkpoint_dir, "model.ckpt")
    m, cfg = load_sam_3d_body(ckpt, device="cpu", mhr_path=os.path.join(checkpoint_dir, "assets", "mhr_model.pt"))
    assert cfg.MODEL.BACKBONE.TYPE.startswith("dinov3"), \
        "only the dinov3 release is supported (the ViT-H one crops 512x384)"
    keys = checkpoint_keys(ckpt)
    missing = [k for k in m.state_dict() if k not in keys and not k.startswith(("head_pose.mhr.", "head_pose_hand.mhr."))]
    if missing:
        msg = (f"{len(missing)} tensors of the model are not in {ckpt} and keep their initial values: "
               + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
        if not allow_missing:
            raise ValueError(msg + " (--allow-missing exports anyway)")
        print("warning: " + msg, file=sys.stderr)
    return m.float().eval(), cfg


class Backbone(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.backbone = m.backbone

    def forward(self, image):
        x = self.backbone(image, extra_embed=None)
        if isinstance(x, tuple):
            x = x[-1]
        return x.float()


def fourier(enc, pos):
    """FourierPositionEncoding.forward (_generate_fourier_features) without
    its Python loop over the batch, which traces to the example's batch size."""
    freqs = torch.stack([torch.linspace(1.0, r / 2, enc.num_bands) for r in enc.max_resolution], dim=0)
    f = (pos[..., None] * freqs).flatten(2)
    return torch.cat([pos, torch.sin(np.pi * f), torch.cos(np.pi * f)], dim=-1)


def ray_condition(enc, feats, rays):
    """CameraEncoder.forward without the downsampling (rays are at the grid)."""
    B, _, h, w = feats.shape
    r = rays.permute(0, 2, 3, 1)
    r = torch.cat([r, torch.ones_like(r[..., :1])], dim=-1)
    emb = fourier(enc.camera, r.reshape(B, -1, 3)).reshape(B, h, w, -1).permute(0, 3, 1, 2)
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


LAYER_IN = ["prev_tokens", "prev_augment", "context", "keypoints_2d", "keypoints_valid", "keypoints_3d"]
DECODER_IN = ["features", "mask", "mask_score", "condition", "rays", "prompt"]
HEADS_OUT = ["tokens", "augment", "pose", "camera", "hand_boxes"]


def example_inputs(B=2, N=1, seed=0):
    """Decoder inputs of the export trace: B crops, N dummy prompts."""
    g = torch.Generator().manual_seed(seed)
    prompt = torch.zeros(B, N, 3)
    prompt[..., 2] = -2
    return (torch.randn(B, 1280, 32, 32, generator=g), torch.zeros(B, 1, 512, 512), torch.ones(B, 1),
            torch.randn(B, 3, generator=g) * 0.1, torch.randn(B, 2, 32, 32, generator=g) * 0.1, prompt)


def layer_inputs(tokens, augment, context, seed=0):
    g = torch.Generator().manual_seed(seed)
    B = tokens.shape[0]
    return (tokens, augment, context, torch.rand(B, NUM_KP, 2, generator=g) - 0.5, torch.ones(B, NUM_KP),
            torch.randn(B, NUM_KP, 3, generator=g) * 0.3)


def dynamic(names, tokens=()):
    d = {n: {0: "B"} for n in names}
    for n in tokens:
        d[n] = {0: "B", 1: "T"}
    if "prompt" in d:
        d["prompt"] = {0: "B", 1: "N"}
    return d


def export_engines(m, out, opset=OPSET, full=True, external=()):
    """Export the mesh engines of model m (float32, eval) into out:
    [(engine name, file, .data file or None)]. An engine over protobuf's
    2 GB (the real backbone: DINOv3-H+, 840M parameters, 3.4 GB in
    float32), or named in external, keeps its weights in mesh_NAME.onnx.data."""
    done = []

    def one(name, module, args, names_in, names_out, dyn):
        # A new wrapper is in training mode, and torch.onnx.export restores
        # that mode afterwards, recursively, into m (DINOv3's drop path
        # and RoPE jitter would then be live); keep everything in eval.
        module.eval()
        path = os.path.join(out, f"mesh_{name}.onnx")
        data = onnx_export(module, args, path, names_in, names_out, dyn, opset=opset, external=name in external)
        print(path)
        done.append((name, path, data))

    B = 2
    with torch.no_grad():
        one("backbone", Backbone(m), (torch.randn(B, 3, 512, 512),), ["image"], ["features"],
            dynamic(["image", "features"]))
        dec_in = example_inputs(B)
        outs = ["context"] + HEADS_OUT
        one("decoder", Decoder(m), dec_in, DECODER_IN, outs,
            dynamic(DECODER_IN + ["context", "pose", "camera", "hand_boxes"], ["tokens", "augment"]))
        ctx, tokens, augment = Decoder(m).eval()(*dec_in)[:3]
        for i in range(1, len(m.decoder.layers)):
            one(f"decoder_layer{i}", Layer(m, i), layer_inputs(tokens, augment, ctx, i), LAYER_IN, HEADS_OUT,
                dynamic(LAYER_IN + ["pose", "camera", "hand_boxes"], ["prev_tokens", "prev_augment", "tokens", "augment"]))
        if not full:
            return done
        # Full mode: the prompted body decoder (4 prompts at export; N is
        # dynamic), the hand decoder and its layers.
        prompt4 = torch.zeros(B, 4, 3)
        prompt4[..., 2] = -2
        one("decoder_prompt", Decoder(m, prompted=True), dec_in[:5] + (prompt4, torch.randn(B, 522) * 0.1),
            DECODER_IN + ["prev_estimate"], outs,
            dynamic(DECODER_IN + ["prev_estimate", "context", "pose", "camera", "hand_boxes"], ["tokens", "augment"]))
        hin = dec_in[:1] + (torch.zeros(B, 1, 512, 512), torch.zeros(B, 1)) + dec_in[3:]
        one("hand_decoder", Decoder(m, hand=True), hin, DECODER_IN, outs[:5],
            dynamic(DECODER_IN + ["context", "pose", "camera"], ["tokens", "augment"]))
        hctx, htok, haug = Decoder(m, hand=True).eval()(*hin)[:3]
        for i in range(1, len(m.decoder_hand.layers)):
            one(f"hand_decoder_layer{i}", Layer(m, i, hand=True), layer_inputs(htok, haug, hctx, i), LAYER_IN,
                HEADS_OUT[:4], dynamic(LAYER_IN + ["pose", "camera"], ["prev_tokens", "prev_augment", "tokens", "augment"]))
    return done


def write_heads(m, out):
    """mesh_head.npz (mesh.ReadHead) and mesh_hand_head.npz (mesh.ReadHandHead)."""
    f32 = lambda t: t.detach().float().numpy()
    i64 = lambda t: t.detach().long().numpy()

    def head(h):
        return dict(scale_mean=f32(h.scale_mean), scale_comps=f32(h.scale_comps),
                    hand_pose_mean=f32(h.hand_pose_mean), hand_pose_comps=f32(h.hand_pose_comps),
                    hand_joint_idxs_left=i64(h.hand_joint_idxs_left),
                    hand_joint_idxs_right=i64(h.hand_joint_idxs_right))

    h, hh = m.head_pose, m.head_pose_hand
    body = os.path.join(out, "mesh_head.npz")
    np.savez(body, **head(h))
    hand = os.path.join(out, "mesh_hand_head.npz")
    np.savez(hand, **head(hh), local_to_world_wrist=f32(hh.local_to_world_wrist),
             right_wrist_coords=f32(hh.right_wrist_coords), root_coords=f32(hh.root_coords),
             nonhand_param_idxs=i64(hh.nonhand_param_idxs), joints=np.array([76, 77, 78, 40, 41, 42], np.int64),
             twist_joint_rotation=f32(h.joint_rotation[[77, 41]]))
    print(body)
    print(hand)
    return body, hand


def export(m, out, opset=OPSET, full=True, external=()):
    """Engines, head files and their manifest.yaml entries (stage mesh) in
    out; returns the manifest's path. A .data file is listed under files:
    as NAME_data."""
    os.makedirs(out, exist_ok=True)
    done = export_engines(m, out, opset=opset, full=full, external=external)
    body, hand = write_heads(m, out)
    engines = [(n, os.path.basename(p), "fp32") for n, p, _ in done]
    files = [(n + "_data", os.path.basename(d)) for n, _, d in done if d]
    files += [("head", os.path.basename(body)), ("hand_head", os.path.basename(hand))]
    return update_manifest(out, "mesh", engines, files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--opset", type=int, default=OPSET)
    ap.add_argument("--body-only", action="store_true", help="skip the full-mode engines")
    ap.add_argument("--external", nargs="*", default=[], metavar="NAME",
                    help="engines (e.g. backbone) whose weights go to a .data file whatever their size")
    ap.add_argument("--allow-missing", action="store_true",
                    help="export even when model.ckpt lacks some of the model's tensors")
    a = ap.parse_args()
    m, _ = load(a.checkpoint_dir, allow_missing=a.allow_missing)
    print(export(m, a.out_dir, opset=a.opset, full=not a.body_only, external=set(a.external)))


if __name__ == "__main__":
    main()
