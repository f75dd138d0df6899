#!/usr/bin/env python3
"""Export Diffusion-VAS (Kaihua-Chen/diffusion-vas, CVPR'25) to body4d's
amodal engines. Depth Anything V2, the stage's fifth engine, has its own
exporter next to this one (export_depth.py); both write into one directory.

    pip install -r tools/export/amodal/requirements.txt
    huggingface-cli download kaihuac/diffusion-vas-amodal-segmentation --local-dir ckpt/dvas-amodal
    huggingface-cli download kaihuac/diffusion-vas-content-completion --local-dir ckpt/dvas-completion
    DVAS_SRC=/path/to/diffusion-vas python tools/export/amodal/export.py \
        --amodal-segmentation ckpt/dvas-amodal --content-completion ckpt/dvas-completion --out models/real

DVAS_SRC is a checkout of github.com/Kaihua-Chen/diffusion-vas: its
UNetSpatioTemporalConditionModel (models/diffusion_vas/unet_diffusion_vas.py,
SVD's UNet with the 12-channel conv_in2 and no repeat of
encoder_hidden_states over frames) is imported from there; nothing is
copied. The checkpoints are diffusers pipeline folders (model_index.json,
unet/, vae/, image_encoder/, scheduler/, feature_extractor/); a Hugging Face
repo id works in place of a folder (downloaded by from_pretrained).

Writes, with amodal.Contracts()'s I/O (amodal/contract.go; what package
amodal feeds each engine is in amodal/pipeline.go and amodal/sampler.go):

  amodal_clip_vision.onnx  pixel_values[B,3,224,224] (CLIP-normalised by Go)
                           -> image_embeds[B,1024]   CLIPVisionModelWithProjection
  amodal_vae_encoder.onnx  sample[B,3,H,W] in [-1,1]
                           -> latent[B,4,H/8,W/8]    vae.encode(x).latent_dist.mode(), unscaled
  amodal_unet.onnx         sample[2,F,12,h,w], timestep[1], encoder_hidden_states[2F,1,1024],
                           added_time_ids[2,3] -> noise_pred[2,F,4,h,w]
                           the amodal-segmentation UNet, called as DiffusionVASPipeline
                           calls it (batch [uncond; cond], the interleaved embeddings as given)
  amodal_unet_completion.onnx  the same for the content-completion UNet
  amodal_vae_decoder.onnx  latent[F,4,h,w] (already divided by 0.18215)
                           -> sample[F,3,8h,8w]      vae.decode(z, num_frames=F), one temporal chunk

and adds them to OUT/manifest.yaml (created if missing; other entries
kept). Engines over 2 GB (the UNets) keep their weights in one
NAME.onnx.data file next to them, listed under files: so that the checksum
covers it.

Package amodal runs unet for the amodal-segmentation pass and
unet_completion for the content-completion pass (amodal.Engines). The VAE
and the CLIP encoder were frozen in
training (train/train_diffusion_vas_*.py requires_grad_(False)), so both
pipelines share them; the exporter checks that the two checkpoints' weights
are identical and exports them once.

The exporter also compares the checkpoints' scheduler, VAE and feature
extractor configs with the constants package amodal hard-codes
(DefaultSampler, vaeScale, CLIP mean/std) and prints every difference.

STATUS: run only on random weights at a small config (tools/export/amodal/check_random.sh);
never on the real checkpoints.

TensorRT (dynamic F, h, w need profiles; SAM-Body4D runs 64-frame windows at
512x1024, i.e. latents 64x128, and decodes chunks of 8):

    trtexec --onnx=amodal_unet.onnx --saveEngine=amodal_unet.plan --fp16 \\
        --minShapes=sample:2x1x12x64x128,encoder_hidden_states:2x1x1024 \\
        --optShapes=sample:2x64x12x64x128,encoder_hidden_states:128x1x1024 \\
        --maxShapes=sample:2x64x12x64x128,encoder_hidden_states:128x1x1024
    (likewise amodal_unet_completion; the VAE in FP32: SVD's config sets force_upcast)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/export
from exportlib import OPSET, onnx_export, update_manifest  # noqa: E402

# What package amodal hard-codes (amodal/sampler.go DefaultSampler,
# amodal/pipeline.go vaeScale and the CLIP mean/std).
GO_SCHEDULER = {"prediction_type": "v_prediction", "timestep_type": "continuous", "use_karras_sigmas": True,
                "sigma_min": 0.002, "sigma_max": 700.0}
GO_VAE_SCALE = 0.18215
GO_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
GO_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def import_unet_class():
    """The Diffusion-VAS UNet class from $DVAS_SRC."""
    src = os.environ.get("DVAS_SRC")
    if src:
        sys.path.insert(0, src)
    from models.diffusion_vas.unet_diffusion_vas import UNetSpatioTemporalConditionModel
    return UNetSpatioTemporalConditionModel


# ---- engine wrappers: each is the reference call the pipeline makes ----

class ClipVision(nn.Module):
    """DiffusionVASPipeline._encode_image after its preprocessing (done in Go):
    image_encoder(pixel_values).image_embeds."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, pixel_values):
        return self.enc(pixel_values=pixel_values).image_embeds


class VaeEncoder(nn.Module):
    """_encode_vae_image: vae.encode(x).latent_dist.mode(), unscaled."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encode(sample).latent_dist.mode()


class UNet(nn.Module):
    """unet(latent_model_input, t, encoder_hidden_states, added_time_ids) as
    __call__ makes it: the batch is [uncond; cond] over F frames, t the
    continuous timestep 0.25*ln(sigma)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, added_time_ids):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                         added_time_ids=added_time_ids, return_dict=False)[0]


class VaeDecoder(nn.Module):
    """decode_latents for one chunk: vae.decode(z, num_frames=F).sample with
    z already divided by the scaling factor (Go does it)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent):
        return self.vae.decode(latent, num_frames=latent.shape[0]).sample


# name: (inputs, outputs, dynamic axes)
NAMES = {
    "clip_vision": (["pixel_values"], ["image_embeds"], {"pixel_values": {0: "B"}, "image_embeds": {0: "B"}}),
    "vae_encoder": (["sample"], ["latent"], {"sample": {0: "B", 2: "H", 3: "W"}, "latent": {0: "B", 2: "h", 3: "w"}}),
    "unet": (["sample", "timestep", "encoder_hidden_states", "added_time_ids"], ["noise_pred"],
             {"sample": {1: "F", 3: "h", 4: "w"}, "encoder_hidden_states": {0: "F2"}, "noise_pred": {1: "F", 3: "h", 4: "w"}}),
    "vae_decoder": (["latent"], ["sample"], {"latent": {0: "F", 2: "h", 3: "w"}, "sample": {0: "F", 2: "H", 3: "W"}}),
}
NAMES["unet_completion"] = NAMES["unet"]


def example_inputs(name, F=2, h=8, w=16, B=2, emb=1024, time_ids=(7.0, 127.0, 0.02)):
    """Inputs as package amodal builds them (values in the ranges it feeds)."""
    g = torch.Generator().manual_seed(F * 100 + h * 10 + w)
    if name == "clip_vision":
        return (torch.randn(B, 3, 224, 224, generator=g),)
    if name == "vae_encoder":
        return (torch.rand(B, 3, 8 * h, 8 * w, generator=g) * 2 - 1,)
    if name in ("unet", "unet_completion"):
        x = torch.randn(2, F, 12, h, w, generator=g)
        x[0, :, 4:] = 0  # the unconditional half has zero condition latents
        e = torch.zeros(2 * F, 1, emb)
        e[1::2] = torch.randn(F, 1, emb, generator=g)  # [neg0, pos0, neg1, pos1, ...]
        t = torch.tensor([0.25 * np.log(700.0)], dtype=torch.float32)
        ids = torch.tensor([list(time_ids)] * 2, dtype=torch.float32)
        return (x, t, e, ids)
    if name == "vae_decoder":
        return (torch.randn(F, 4, h, w, generator=g) / 0.18215,)
    raise KeyError(name)


def wrap(name, m):
    return {"clip_vision": ClipVision, "vae_encoder": VaeEncoder, "vae_decoder": VaeDecoder,
            "unet": UNet, "unet_completion": UNet}[name](m).eval()


def export_engine(name, module, out, opset=OPSET, example=None, external=False):
    """Export one wrapper to out/amodal_NAME.onnx (weights in one
    amodal_NAME.onnx.data when over 2 GB, or always with external);
    return (onnx path, data path or None)."""
    ins, outs, dyn = NAMES[name]
    path = os.path.join(out, f"amodal_{name}.onnx")
    data = onnx_export(module, example or example_inputs(name), path, ins, outs, dyn, opset, external=external)
    return path, data


# ---- checkpoints ----

def read_json(folder, *parts):
    p = os.path.join(folder, *parts)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def check_configs(folder, label):
    """Print where a pipeline folder's configs differ from what package
    amodal hard-codes; return the number of differences."""
    diffs = []
    sch = read_json(folder, "scheduler", "scheduler_config.json")
    if sch is None:
        diffs.append("scheduler/scheduler_config.json not found")
    else:
        for k, v in GO_SCHEDULER.items():
            if sch.get(k) != v:
                diffs.append(f"scheduler {k} = {sch.get(k)!r}, package amodal assumes {v!r}")
        if sch.get("timestep_spacing") not in (None, "leading"):
            diffs.append(f"scheduler timestep_spacing = {sch.get('timestep_spacing')!r} (Karras sigmas ignore it)")
    vae = read_json(folder, "vae", "config.json")
    if vae is not None and abs(vae.get("scaling_factor", GO_VAE_SCALE) - GO_VAE_SCALE) > 1e-9:
        diffs.append(f"vae scaling_factor = {vae['scaling_factor']}, package amodal uses {GO_VAE_SCALE}")
    fe = read_json(folder, "feature_extractor", "preprocessor_config.json")
    if fe is not None:
        if fe.get("image_mean") != GO_CLIP_MEAN or fe.get("image_std") != GO_CLIP_STD:
            diffs.append(f"feature_extractor mean/std {fe.get('image_mean')}/{fe.get('image_std')} differ from package amodal's")
    unet = read_json(folder, "unet", "config.json")
    if unet is not None and unet.get("cross_attention_dim", 1024) != 1024:
        diffs.append(f"unet cross_attention_dim = {unet['cross_attention_dim']}, the contract has 1024")
    for d in diffs:
        print(f"{label}: {d}")
    if not diffs:
        print(f"{label}: configs match package amodal's constants")
    return len(diffs)


def load_pipeline_parts(folder, with_encoders=True):
    """unet (and vae, image_encoder) of a Diffusion-VAS pipeline folder, fp32."""
    from diffusers import AutoencoderKLTemporalDecoder
    from transformers import CLIPVisionModelWithProjection
    Unet = import_unet_class()
    parts = {"unet": Unet.from_pretrained(folder, subfolder="unet", torch_dtype=torch.float32).eval()}
    if with_encoders:
        parts["vae"] = AutoencoderKLTemporalDecoder.from_pretrained(folder, subfolder="vae", torch_dtype=torch.float32).eval()
        parts["image_encoder"] = CLIPVisionModelWithProjection.from_pretrained(
            folder, subfolder="image_encoder", torch_dtype=torch.float32).eval()
    return parts


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def export_all(parts, out, unet_completion=None, opset=OPSET, external=()):
    """Export clip_vision, vae_encoder, unet, vae_decoder (and
    unet_completion when given) into out; update out/manifest.yaml. Engines
    named in external keep their weights in a .data file whatever their size."""
    os.makedirs(out, exist_ok=True)
    mods = {"clip_vision": parts["image_encoder"], "vae_encoder": parts["vae"], "unet": parts["unet"],
            "vae_decoder": parts["vae"]}
    if unet_completion is not None:
        mods["unet_completion"] = unet_completion
    engines, files = [], []
    for name, m in mods.items():
        path, data = export_engine(name, wrap(name, m), out, opset, external=name in external)
        print(f"amodal/{name}: {path}" + (f" (+ {os.path.basename(data)})" if data else ""))
        engines.append((name, os.path.basename(path), "fp32"))
        if data:
            files.append((name + "_data", os.path.basename(data)))
    return update_manifest(out, "amodal", engines, files)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--amodal-segmentation", required=True,
                    help="pipeline folder (or HF id) of kaihuac/diffusion-vas-amodal-segmentation")
    ap.add_argument("--content-completion",
                    help="pipeline folder (or HF id) of kaihuac/diffusion-vas-content-completion")
    ap.add_argument("--out", required=True, help="model directory to write into")
    ap.add_argument("--opset", type=int, default=OPSET)
    args = ap.parse_args()
    for folder, label in [(args.amodal_segmentation, "amodal-segmentation"), (args.content_completion, "content-completion")]:
        if folder and os.path.isdir(folder):
            check_configs(folder, label)
    seg = load_pipeline_parts(args.amodal_segmentation)
    comp_unet = None
    if args.content_completion:
        comp = load_pipeline_parts(args.content_completion)
        for k in ["vae", "image_encoder"]:
            if not same_weights(seg[k], comp[k]):
                print(f"WARNING: the two checkpoints' {k} weights differ; package amodal runs one {k} for both "
                      f"passes, exported from the amodal-segmentation checkpoint")
        comp_unet = comp["unet"]
    print(export_all(seg, args.out, comp_unet, args.opset))


if __name__ == "__main__":
    main()
