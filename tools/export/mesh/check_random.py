#!/usr/bin/env python3
"""Check tools/export/mesh/export.py without the real weights.

Needs the reference's Python dependencies (tools/golden/mesh/requirements.txt,
plus onnx, onnxruntime, pyyaml and DINOv3's termcolor), a sam-3d-body
checkout (SAM3DB_SRC) and a facebookresearch/dinov3 checkout (DINOV3_SRC);
run through check_random.sh. It builds SAM3DBody with the reference's own
classes from the dinov3 release's model_config.yaml at a small config with
random weights:

  backbone   DINOv3 ViT-H+/16 as the hub builds it (embed 1280, 20 heads,
             SwiGLU, 4 storage tokens, RoPE) but 2 blocks and ffn_ratio 1
             instead of 32 and 6
  decoders   DIM 1024, DEPTH 6 as released (the contracts fix the token
             width and the five layer engines); HEADS 2, DIM_HEAD 16,
             MLP_DIM 64; MHR/camera head hidden width 128
  MHR        a TorchScript stand-in: the export never calls MHR (package
             mesh runs it in Go between the layer engines)
  head       buffers from sample/models/tiny/mesh_head.npz and
             mesh_hand_head.npz (what a checkpoint's state dict fills in)

saves it as a checkpoint directory (model.ckpt, model_config.yaml,
assets/mhr_model.pt), loads it back with export.load (load_sam_3d_body, the
DINOv3 hub call served from DINOV3_SRC, float32), exports every engine with
export.export, and checks

  (a) onnxruntime against the reference modules on inputs other than the
      traced ones (batch 3, other prompt counts, mask scores > 0 and 0):
        backbone       Dinov3Backbone.forward;
        decoder*,      SAM3DBody.forward_decoder / forward_decoder_hand
        *_layerI       themselves (mask conditioning by _get_mask_prompt, the
                       full 512x512 ray map through CameraEncoder), with
                       MHRHead.forward's MHR pass and camera_project stubbed
                       so that each intermediate prediction returns fixed
                       keypoints; those keypoints are what the layer
                       engines get (keypoints_valid and the pelvis-centred
                       keypoints_3d computed as package mesh does), and the
                       layer engines are chained on their own outputs as
                       package mesh runs them. Compared per layer: context,
                       tokens and augment (hooks on decoder.layers[i]), pose
                       (head proj + init), camera (PerspectiveHead.forward),
                       hand boxes (bbox_embed on the final tokens as
                       forward_pose_branch does; per layer on norm_final);
  (b) export.load refusing a checkpoint that lacks a tensor (the
      reference loads with strict=False); the engines' input/output names, dtypes and ranks against the Go
      contracts (go run ./tools/contracts -json -stage mesh), with Go's
      rule for dynamic dims (engine.Contract.Check); mesh_head.npz and
      mesh_hand_head.npz against the buffers; the manifest entries;
  (c) with --doctor, `body4d doctor` on a copy of the tiny model directory
      in which every mesh engine and both head files are the exported ones.

Exit status 1 when a check fails.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # tools/export
import export as mesh_export  # noqa: E402
from exportlib import ROOT, check_contract, doctor, go_contracts, rel_err, sha256  # noqa: E402

TOL = 1e-4  # max |onnx - torch| / max(1, max |torch|) per output
NUM_KP = mesh_export.NUM_KP
B = 3  # the engines were traced with 2

# The dinov3 release's model_config.yaml (Fast-SAM-3D-Body's copy of
# checkpoints/sam-3d-body-dinov3/model_config.yaml), decoder shrunk.
CONFIG = """\
TRAIN:
  USE_FP16: true
  FP16_TYPE: float16
MODEL:
  IMAGE_SIZE: [512, 512]
  IMAGE_MEAN: [0.485, 0.456, 0.406]
  IMAGE_STD: [0.229, 0.224, 0.225]
  BACKBONE:
    TYPE: dinov3_vith16plus
    PRETRAINED_WEIGHTS: ''
    FROZEN_STAGES: -1
    DROP_PATH_RATE: 0.1
  DECODER:
    TYPE: sam
    DIM: 1024
    DEPTH: 6
    HEADS: 2
    MLP_DIM: 64
    DIM_HEAD: 16
    LAYER_SCALE_INIT: 0.0
    DROP_RATE: 0.0
    ATTN_DROP_RATE: 0.0
    DROP_PATH_RATE: 0.0
    FFN_TYPE: origin
    ENABLE_TWOWAY: false
    REPEAT_PE: true
    FROZEN: false
    CONDITION_TYPE: cliff
    USE_INTRIN_CENTER: true
    DO_INTERM_PREDS: true
    DO_INTERM_SUP: true
    DO_KEYPOINT_TOKENS: true
    DO_HAND_DETECT_TOKENS: true
    KEYPOINT_TOKEN_UPDATE: v2
    KEYPOINT_TOKEN_UPDATE_COORD_EMB_USE_MLP: true
    DO_KEYPOINT3D_TOKENS: true
  PROMPT_ENCODER:
    ENABLE: true
    MAX_NUM_CLICKS: 2
    PROMPT_KEYPOINTS: mhr70
    FROZEN: false
    KEYPOINT_SAMPLER:
      TYPE: v1
      WORST_RATIO: 0.8
      KEYBODY_RATIO: 0.8
      NEGATIVE_RATIO: 0.1
      DUMMY_RATIO: 0.1
      DISTANCE_THRESH: 0.0001
    MASK_EMBED_TYPE: v2
    MASK_PROMPT: v1
  PERSON_HEAD:
    POSE_TYPE: mhr
    CAMERA_ENABLE: true
    CAMERA_TYPE: perspective
    ZERO_POSE_INIT: true
    ZERO_POSE_INIT_BODY_FACTOR: 1
  MHR_HEAD:
    MLP_DEPTH: 2
    MLP_CHANNEL_DIV_FACTOR: 8
  CAMERA_HEAD:
    MLP_DEPTH: 2
    MLP_CHANNEL_DIV_FACTOR: 8
    DEFAULT_SCALE_FACTOR_HAND: 10
  ENABLE_BODY: true
  ENABLE_HAND: true
"""
DINO_SMALL = dict(depth=2, ffn_ratio=1.0)


def shrink_dinov3(src):
    """The hub's dinov3_vith16plus passes depth and ffn_ratio itself, so the
    small backbone is made by overriding them in _make_dinov3_vit, which
    every hub ViT entry point calls (the module hubconf.py imports)."""
    if src not in sys.path:
        sys.path.insert(0, src)
    import dinov3.hub.backbones as hb
    make = hb._make_dinov3_vit

    def small(**kw):
        kw.update(DINO_SMALL)
        return make(**kw)

    hb._make_dinov3_vit = small


class NoMHR(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def randomize(model, seed):
    """Perturb every trainable parameter (several are zero-initialised:
    the mask embedding's last conv, no_mask_embed, init_camera, the head
    biases) so that no path hides; the head buffers are set separately."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if not p.requires_grad or not p.is_floating_point():
                continue
            r = torch.randn(p.shape, generator=g)
            if p.dim() <= 1:
                p.add_((r * 0.05).to(p.dtype))
            else:
                s = float(p.float().std()) if p.numel() > 1 else 0.0
                p.add_((r * (0.5 * s if s > 0 else 0.02)).to(p.dtype))
    return model


def set_head_buffers(m):
    """What the checkpoint fills in: the tiny model's head files."""
    tiny = os.path.join(ROOT, "sample", "models", "tiny")
    body = np.load(os.path.join(tiny, "mesh_head.npz"))
    hand = np.load(os.path.join(tiny, "mesh_hand_head.npz"))
    with torch.no_grad():
        for h, z in [(m.head_pose, body), (m.head_pose_hand, hand)]:
            for k in ["scale_mean", "scale_comps", "hand_pose_mean", "hand_pose_comps", "hand_joint_idxs_left",
                      "hand_joint_idxs_right"]:
                getattr(h, k).copy_(torch.from_numpy(z[k]))
        hh = m.head_pose_hand
        for k in ["local_to_world_wrist", "right_wrist_coords", "root_coords"]:
            getattr(hh, k).copy_(torch.from_numpy(hand[k]))
        g = np.random.default_rng(7)
        hh.nonhand_param_idxs.copy_(torch.from_numpy(np.sort(g.choice(204, hh.nonhand_param_idxs.numel(), replace=False))))
        m.head_pose.joint_rotation.copy_(torch.from_numpy(g.standard_normal((127, 3, 3)).astype(np.float32)))
        m.head_pose.joint_rotation[[77, 41]] = torch.from_numpy(hand["twist_joint_rotation"])


def random_model(ckpt_dir, config=CONFIG):
    """A random SAM3DBody built from config, with model_config.yaml and the
    MHR stand-in written into ckpt_dir as a checkpoint directory holds
    them (tools/export/realsize passes the released config)."""
    mesh_export.import_sam3db()
    from sam_3d_body.models.meta_arch import SAM3DBody
    from sam_3d_body.utils.config import get_config
    os.makedirs(os.path.join(ckpt_dir, "assets"), exist_ok=True)
    with open(os.path.join(ckpt_dir, "model_config.yaml"), "w") as f:
        f.write(config)
    torch.jit.script(NoMHR()).save(os.path.join(ckpt_dir, "assets", "mhr_model.pt"))
    cfg = get_config(os.path.join(ckpt_dir, "model_config.yaml"))
    cfg.defrost()
    cfg.MODEL.MHR_HEAD.MHR_MODEL_PATH = os.path.join(ckpt_dir, "assets", "mhr_model.pt")
    cfg.freeze()
    torch.manual_seed(0)
    m = SAM3DBody(cfg)
    randomize(m, 1)
    set_head_buffers(m)
    return m


def build(ckpt_dir):
    """A random small SAM3DBody saved as a checkpoint directory."""
    m = random_model(ckpt_dir)
    torch.save({"state_dict": m.state_dict()}, os.path.join(ckpt_dir, "model.ckpt"))
    return m


# ---- the reference, driven with fixed intermediate keypoints ----

def keypoints(seed):
    """Five layers' (crop keypoints in [-0.5, 0.5] with some outside, their
    depths with some behind the camera, 3D keypoints)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(5):
        kp2 = (torch.rand(B, NUM_KP, 2, generator=g) - 0.5) * 1.2
        depth = torch.randn(B, NUM_KP, generator=g) + 1.0
        kp3 = torch.randn(B, NUM_KP, 3, generator=g) * 0.5
        out.append((kp2, depth, kp3))
    return out


def layer_feeds(kp2, depth, kp3):
    """keypoints_2d, keypoints_valid and keypoints_3d as package mesh feeds
    them: valid where inside the crop and in front of the camera
    (keypoint_token_update_fn's invalid_mask), 3D centred on the pelvis
    (mean of keypoints 9 and 10, keypoint3d_token_update_fn)."""
    k01 = kp2 + 0.5
    invalid = (k01[..., 0] < 0) | (k01[..., 0] > 1) | (k01[..., 1] < 0) | (k01[..., 1] > 1) | (depth < 1e-5)
    pelvis = (kp3[:, [9]] + kp3[:, [10]]) / 2
    return kp2.numpy(), (~invalid).float().numpy(), (kp3 - pelvis).numpy()


def reference(m, hand, features, mask, score, cond, rays512, prompt, prev_estimate, kps):
    """forward_pose_branch's mask conditioning and forward_decoder(_hand)
    with MHR stubbed: per layer {context, tokens, augment, pose, camera,
    hand_boxes} as the engines output them."""
    head = m.head_pose_hand if hand else m.head_pose
    dec = m.decoder_hand if hand else m.decoder
    rec = {"pose": [], "cam": [], "tokens": [], "augment": [], "context": []}

    def head_forward(x, init_estimate=None, **kw):
        pred = head.proj(x)  # MHRHead.forward up to its MHR pass
        if init_estimate is not None:
            pred = pred + init_estimate
        j = len(rec["pose"])
        rec["pose"].append(pred)
        return {"pred_keypoints_3d": kps[j][2].clone() if j < len(kps) else torch.zeros(B, NUM_KP, 3)}

    def camera_project(po, batch):
        j = len(rec["cam"])
        rec["cam"].append(po["pred_cam"])
        kp2, depth, _ = kps[j] if j < len(kps) else (torch.zeros(B, NUM_KP, 2), torch.ones(B, NUM_KP), None)
        po["pred_keypoints_2d"] = kp2.clone()
        po["pred_keypoints_2d_depth"] = depth.clone()
        return po

    def pre(mod, args):
        rec["context"].append(args[1])
        rec["augment"].append(args[2])

    def post(mod, args, out):
        rec["tokens"].append(out[0])

    hooks = []
    for layer in dec.layers:
        hooks += [layer.register_forward_pre_hook(pre), layer.register_forward_hook(post)]
    head.forward = head_forward
    m.camera_project = m.camera_project_hand = camera_project
    m._full_to_crop = lambda batch, kp, idx=None: kp  # camera_project's keypoints are already the crop's
    m._max_num_person = 0
    m.body_batch_idx = m.hand_batch_idx = list(range(B))
    try:
        with torch.no_grad():
            feats = features + m._get_mask_prompt({"mask": mask, "mask_score": score[:, 0]}, features)
            fn = m.forward_decoder_hand if hand else m.forward_decoder
            key = "ray_cond_hand" if hand else "ray_cond"
            hand_tokens, _ = fn(feats, init_estimate=None, keypoints=prompt,
                                prev_estimate=None if prev_estimate is None else prev_estimate.view(B, 1, -1),
                                condition_info=cond, batch={key: rays512})
            hs = 2 + prompt.shape[1]
            layers = []
            for i in range(len(dec.layers)):
                o = {"tokens": rec["tokens"][i], "augment": rec["augment"][i], "pose": rec["pose"][i],
                     "camera": rec["cam"][i]}
                if not hand:
                    last = i == len(dec.layers) - 1
                    t = hand_tokens if last else dec.norm_final(rec["tokens"][i])[:, hs:hs + 2]
                    o["hand_boxes"] = m.bbox_embed(t).sigmoid()
                if i == 0:
                    C = features.shape[1]
                    o["context"] = rec["context"][0].permute(0, 2, 1).reshape(B, C, 32, 32)
                layers.append(o)
    finally:
        for h in hooks:
            h.remove()
        del head.forward, m.camera_project, m.camera_project_hand, m._full_to_crop
    assert len(rec["pose"]) == len(dec.layers), len(rec["pose"])
    return layers


def decoder_inputs(seed, hand):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(B, 1280, 32, 32, generator=g)
    if hand:  # a hand crop has no mask
        mask, score = torch.zeros(B, 1, 512, 512), torch.zeros(B, 1)
    else:
        mask = (torch.rand(B, 1, 512, 512, generator=g) > 0.5).float()
        score = torch.tensor([[0.9], [0.0], [0.4]])
    cond = torch.randn(B, 3, generator=g) * 0.3
    # get_ray_condition for crops of side S at (cx, cy) and K = (f, 320, 240).
    S = 150 + 200 * torch.rand(B, generator=g)
    c = torch.rand(B, 2, generator=g) * torch.tensor([640.0, 480.0])
    s = 512 / S
    pix = torch.arange(512, dtype=torch.float32)
    rx = ((pix[None, :] - (256 - s[:, None] * c[:, :1])) / s[:, None] - 320) / 500
    ry = ((pix[None, :] - (256 - s[:, None] * c[:, 1:])) / s[:, None] - 240) / 500
    rays512 = torch.stack([rx[:, None, :].expand(B, 512, 512), ry[:, :, None].expand(B, 512, 512)], dim=1)
    # CameraEncoder's downsampling, which package mesh computes in Go.
    rays32 = F.interpolate(rays512, scale_factor=(1 / 16, 1 / 16), mode="bilinear", align_corners=False,
                           antialias=True)
    return features, mask, score, cond, rays512, rays32


def run_chain(sess, name_dec, name_layer, feeds, kps):
    """The decoder engine, then each layer engine on the previous engine's
    tokens and augment and the decoder's context, as package mesh runs them."""
    out = sess[name_dec].run(None, feeds)
    names = [o.name for o in sess[name_dec].get_outputs()]
    first = dict(zip(names, out))
    layers = [first]
    prev = first
    for i in range(1, 6):
        kp2, valid, kp3 = layer_feeds(*kps[i - 1])
        s = sess[f"{name_layer}{i}"]
        o = s.run(None, {"prev_tokens": prev["tokens"], "prev_augment": prev["augment"], "context": first["context"],
                         "keypoints_2d": kp2, "keypoints_valid": valid, "keypoints_3d": kp3})
        prev = dict(zip([x.name for x in s.get_outputs()], o))
        layers.append(prev)
    return layers


def compare(label, names, ref, got):
    ok = True
    for i, (r, g) in enumerate(zip(ref, got)):
        eng = names[0] if i == 0 else f"{names[1]}{i}"
        parts = []
        for k in r:
            a, e = rel_err(r[k].numpy(), g[k])
            good = e <= TOL
            ok &= good
            parts.append(f"{k} {e:.2g}" + ("" if good else " FAIL"))
        print(f"  {label} {eng}: max rel " + ", ".join(parts))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor", action="store_true", help="also run body4d doctor on the exported engines")
    ap.add_argument("--keep", help="keep the checkpoint and exported engines in this directory")
    args = ap.parse_args()
    for v in ["SAM3DB_SRC", "DINOV3_SRC"]:
        if not os.environ.get(v):
            sys.exit(f"set {v}")
    work = args.keep or tempfile.mkdtemp(prefix="mesh_check_")
    ckpt, out = os.path.join(work, "checkpoint"), os.path.join(work, "out")
    shrink_dinov3(os.environ["DINOV3_SRC"])
    mesh_export.use_local_dinov3(os.environ["DINOV3_SRC"])
    built = build(ckpt)
    ok = True

    # The exporter's loader on the checkpoint directory.
    m, _ = mesh_export.load(ckpt)
    want = {k: v.float() for k, v in built.state_dict().items() if v.is_floating_point()}
    got = m.state_dict()
    bad = [k for k, v in want.items() if k not in got or not torch.equal(got[k], v)]
    print("export.load: " + ("ok" if not bad else f"FAIL: {len(bad)} tensors differ, e.g. {bad[:3]}"))
    ok &= not bad
    # A checkpoint lacking a tensor (here the hand decoder's random PE
    # matrix) must be refused, not exported with the initial values.
    part = os.path.join(work, "partial")
    shutil.copytree(ckpt, part)
    sd = built.state_dict()
    del sd["hand_pe_layer.positional_encoding_gaussian_matrix"]
    torch.save({"state_dict": sd}, os.path.join(part, "model.ckpt"))
    del built, sd
    try:
        mesh_export.load(part)
        good = False
    except ValueError as e:
        good = "hand_pe_layer.positional_encoding_gaussian_matrix" in str(e)
    print("export.load on a checkpoint lacking a tensor: " + ("refused, ok" if good else "FAIL: not refused"))
    ok &= good
    shutil.rmtree(part)

    # The backbone with its weights in mesh_backbone.onnx.data, as the
    # real one (3.4 GB) is written.
    manifest = mesh_export.export(m, out, external={"backbone"})
    live = [n for n, mod in m.named_modules() if mod.training]
    print("model still in eval mode after export: " + ("ok" if not live else f"FAIL: {live[:3]}"))
    ok &= not live
    import onnxruntime as ort
    import yaml
    contracts = go_contracts("mesh")
    with open(manifest) as f:
        man = yaml.safe_load(f)
    engines = {e["name"]: e for e in man["engines"] if e["stage"] == "mesh"}
    paths = {n: os.path.join(out, e["file"]) for n, e in engines.items()}
    good = set(engines) == set(contracts) and all(e["sha256"] == sha256(paths[n]) for n, e in engines.items())
    files = {e["name"]: e for e in man.get("files", []) if e["stage"] == "mesh"}
    good &= set(files) == {"head", "hand_head", "backbone_data"} and \
        all(e["sha256"] == sha256(os.path.join(out, e["file"])) for e in files.values()) and \
        files["backbone_data"]["file"] == "mesh_backbone.onnx.data"
    print("manifest: " + ("ok" if good else f"FAIL: engines {sorted(engines)}, files {sorted(files)}"))
    ok &= good

    # (b) contracts.
    for name in sorted(contracts):
        errs = check_contract(paths[name], contracts[name]) if name in paths else ["not exported"]
        size = sum(os.path.getsize(p) for p in [paths.get(name, ""), paths.get(name, "") + ".data"]
                   if os.path.exists(p)) / 2**20
        print(f"mesh/{name} ({size:.0f} MiB): contract " + ("ok" if not errs else "FAIL: " + "; ".join(errs)))
        ok &= not errs
    tiny = os.path.join(ROOT, "sample", "models", "tiny")
    for f, h in [("mesh_head.npz", m.head_pose), ("mesh_hand_head.npz", m.head_pose_hand)]:
        z, t = np.load(os.path.join(out, f)), np.load(os.path.join(tiny, f))
        errs = [k for k in t if k not in z or z[k].dtype != t[k].dtype or z[k].ndim != t[k].ndim]
        errs += [k for k in ["scale_mean", "scale_comps", "hand_pose_mean", "hand_pose_comps", "hand_joint_idxs_left",
                             "hand_joint_idxs_right"] if not np.array_equal(z[k], getattr(h, k).detach().numpy())]
        if f == "mesh_hand_head.npz":
            hh = m.head_pose_hand
            errs += [k for k in ["local_to_world_wrist", "right_wrist_coords", "root_coords", "nonhand_param_idxs"]
                     if not np.array_equal(z[k], getattr(hh, k).detach().numpy())]
            errs += [] if np.array_equal(z["twist_joint_rotation"], t["twist_joint_rotation"]) else ["twist_joint_rotation"]
            errs += [] if list(z["joints"]) == [76, 77, 78, 40, 41, 42] else ["joints"]
        print(f"{f}: " + ("ok" if not errs else "FAIL: " + ", ".join(errs)))
        ok &= not errs

    # (a) onnxruntime against the reference.
    sess = {n: ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for n, p in paths.items()}
    g = torch.Generator().manual_seed(3)
    image = torch.randn(B, 3, 512, 512, generator=g)
    with torch.no_grad():
        want = m.backbone(image, extra_embed=None)
    a, e = rel_err(want.numpy(), sess["backbone"].run(None, {"image": image.numpy()})[0])
    print(f"  backbone: max abs {a:.3g}, rel {e:.3g} " + ("ok" if e <= TOL else "FAIL"))
    ok &= e <= TOL

    dummy = torch.zeros(B, 1, 3)
    dummy[..., 2] = -2
    prompt3 = torch.tensor([[[0.3, 0.6, 41], [0.7, 0.2, 62], [0.5, 0.5, 8]],
                            [[0.1, 0.9, 7], [0.0, 0.0, -2], [0.4, 0.4, -1]],
                            [[0.2, 0.3, 41], [0.9, 0.8, 62], [0.0, 0.0, -2]]])
    prev = torch.randn(B, 522, generator=g) * 0.1
    cases = [("body", False, "decoder", "decoder_layer", dummy, None),
             ("prompted", False, "decoder_prompt", "decoder_layer", prompt3, prev),
             ("hand", True, "hand_decoder", "hand_decoder_layer", dummy, None)]
    for seed, (label, hand, dec, lay, prompt, prev_est) in enumerate(cases):
        features, mask, score, cond, rays512, rays32 = decoder_inputs(10 + seed, hand)
        kps = keypoints(20 + seed)
        ref = reference(m, hand, features, mask, score, cond, rays512, prompt, prev_est, kps)
        feeds = {"features": features.numpy(), "mask": mask.numpy(), "mask_score": score.numpy(),
                 "condition": cond.numpy(), "rays": rays32.numpy(), "prompt": prompt.numpy()}
        if prev_est is not None:
            feeds["prev_estimate"] = prev_est.numpy()
        got = run_chain(sess, dec, lay, feeds, kps)
        ok &= compare(f"{label} (N={prompt.shape[1]})", (dec, lay), ref, got)
        if label == "body":
            # The comparison must see the keypoint refresh: layer 1 fed all
            # keypoints as valid, or the 3D keypoints not pelvis-centred,
            # has to be far off.
            kp2, valid, kp3 = layer_feeds(*kps[0])
            base = {"prev_tokens": got[0]["tokens"], "prev_augment": got[0]["augment"], "context": got[0]["context"],
                    "keypoints_2d": kp2, "keypoints_valid": valid, "keypoints_3d": kp3}
            errs = []
            for k, v in [("keypoints_valid", np.ones_like(valid)), ("keypoints_3d", kps[0][2].numpy())]:
                o = sess["decoder_layer1"].run(["tokens", "augment"], dict(base, **{k: v}))
                errs.append(max(rel_err(ref[1]["tokens"].numpy(), o[0])[1], rel_err(ref[1]["augment"].numpy(), o[1])[1]))
            good = min(errs) > 100 * TOL
            print(f"  decoder_layer1 with wrong keypoints_valid / keypoints_3d: rel {errs[0]:.2g} / {errs[1]:.2g} "
                  + ("(detected) ok" if good else "FAIL: not detected"))
            ok &= good

    # export.py's command line (main) on the checkpoint directory, body only.
    cli = os.path.join(work, "cli")
    argv = sys.argv
    sys.argv = ["export.py", ckpt, cli, "--body-only"]
    try:
        mesh_export.main()
        good = True
    except Exception as e:  # noqa: BLE001
        print(e)
        good = False
    finally:
        sys.argv = argv
    if good:
        with open(os.path.join(cli, "manifest.yaml")) as f:
            cman = yaml.safe_load(f)
        body = {"backbone", "decoder"} | {f"decoder_layer{i}" for i in range(1, 6)}
        good = {e["name"] for e in cman["engines"]} == body and \
            {e["name"] for e in cman["files"]} == {"head", "hand_head"}
        s2 = ort.InferenceSession(os.path.join(cli, "mesh_decoder_layer3.onnx"), providers=["CPUExecutionProvider"])
        feeds = {i.name: np.random.default_rng(0).standard_normal([B if d == "B" else 145 if d == "T" else d
                                                                   for d in i.shape]).astype(np.float32)
                 for i in s2.get_inputs()}
        good &= all(np.array_equal(a, b) for a, b in zip(s2.run(None, feeds), sess["decoder_layer3"].run(None, feeds)))
    print("export.py command line (--body-only): " + ("ok" if good else "FAIL"))
    ok &= good

    # (c) body4d doctor.
    if args.doctor:
        good = doctor("mesh", paths, files={"head": os.path.join(out, "mesh_head.npz"),
                                            "hand_head": os.path.join(out, "mesh_hand_head.npz")})
        print("body4d doctor: " + ("ok" if good else "FAIL"))
        ok &= good
    if not args.keep:
        shutil.rmtree(work)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
