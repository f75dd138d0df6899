#!/usr/bin/env python3
"""Real-size mesh, fov and amodal networks with random weights (issue #20).

Each network is built with the reference's own classes at its released
configuration, randomly initialised and perturbed as the check_random
scripts do (so that no zero-initialised path hides), and exported with
that stage's exporter code path into a model directory (manifest entries
replaced, others kept). The outputs are for loading, contract and cost
checks only.

    python tools/export/realsize/networks.py --out MODELDIR [--only fov,depth,mesh,amodal]

  fov     MoGe-2 ViT-L (MoGe's configs/train/v2.json model: DINOv2 ViT-L/14,
          neck, points/normal/mask heads, scale head)        needs MOGE_SRC
  depth   Depth Anything V2 ViT-L (export_depth's "vitl")    needs DAV2_SRC
  mesh    SAM-3D-Body, the dinov3 release's model_config.yaml (DINOv3 ViT-H+/16
          at 512², decoder DIM 1024 DEPTH 6 HEADS 8 DIM_HEAD 64 MLP_DIM 1024,
          heads' channel divisor 1) with every engine of full mode
                                              needs SAM3DB_SRC, DINOV3_SRC
  amodal  Diffusion-VAS: CLIP ViT-H/14 image encoder, SVD's temporal-decoder
          VAE and two UNets at SVD's configuration (diffusers' and
          Diffusion-VAS's class defaults)                    needs DVAS_SRC

Each network is exported in its own process step and freed before the next,
so that peak memory is the largest network's, not their sum.
"""
import argparse
import gc
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.dirname(HERE)
sys.path.insert(0, EXPORT)
from exportlib import update_manifest  # noqa: E402


def stage_path(stage):
    """Make tools/export/STAGE's modules (export.py, check_random.py) the
    ones `import export` finds: every stage folder has an export.py, so the
    previous step's are dropped from sys.modules and sys.path."""
    for k in ["export", "check_random", "export_depth"]:
        sys.modules.pop(k, None)
    sys.path[:] = [p for p in sys.path if os.path.dirname(p) != EXPORT or p == EXPORT]
    sys.path.insert(0, os.path.join(EXPORT, stage))


def build_fov(out, work):
    stage_path("fov")
    import json
    import check_random as cr
    import export as fov_export
    src = os.environ["MOGE_SRC"]
    with open(os.path.join(src, "configs", "train", "v2.json")) as f:
        config = json.load(f)["model"]
    torch.manual_seed(0)
    model = cr.randomize(fov_export.import_moge()(**config).eval(), 1)
    path = fov_export.export(model, out)
    files = [("moge_weights", os.path.basename(path) + ".data")] if os.path.exists(path + ".data") else []
    update_manifest(out, "fov", [("moge", os.path.basename(path), "fp32")], files, name="realsize")


def build_depth(out, work):
    stage_path("amodal")
    import check_random as cr
    import export_depth
    torch.manual_seed(5)
    model = cr.randomize(export_depth.import_dav2()(**export_depth.CONFIGS["vitl"]), 5)
    path, data = export_depth.export(model, out)
    files = [("depth_data", os.path.basename(data))] if data else []
    update_manifest(out, "amodal", [("depth", os.path.basename(path), "fp32")], files, name="realsize")


# The released decoder and heads (sam-3d-body-dinov3/model_config.yaml);
# check_random.CONFIG is the same file with these shrunk.
MESH_REAL = {"HEADS: 2": "HEADS: 8", "MLP_DIM: 64": "MLP_DIM: 1024", "DIM_HEAD: 16": "DIM_HEAD: 64",
             "MLP_CHANNEL_DIV_FACTOR: 8": "MLP_CHANNEL_DIV_FACTOR: 1"}


def build_mesh(out, work):
    stage_path("mesh")
    import check_random as cr
    import export as mesh_export
    config = cr.CONFIG
    for small, real in MESH_REAL.items():
        assert config.count(small) >= 1, small
        config = config.replace(small, real)
    mesh_export.use_local_dinov3(os.environ["DINOV3_SRC"])
    m = cr.random_model(work, config).float().eval()
    mesh_export.export(m, out, external={"backbone"})


def build_amodal(out, work):
    stage_path("amodal")
    from diffusers import AutoencoderKLTemporalDecoder
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    import check_random as cr
    import export as vas_export
    torch.manual_seed(0)
    # SVD-xt's image_encoder/config.json (OpenCLIP ViT-H/14, projection 1024).
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=1280, intermediate_size=5120, projection_dim=1024, num_hidden_layers=32, num_attention_heads=16,
        image_size=224, patch_size=14, hidden_act="gelu", layer_norm_eps=1e-5))
    # SVD-xt's vae/config.json.
    vae = AutoencoderKLTemporalDecoder(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                                       block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                                       latent_channels=4, sample_size=768, scaling_factor=0.18215)
    parts = {"image_encoder": cr.randomize(clip, 1), "vae": cr.randomize(vae, 2)}
    # The UNets one at a time (6.1 GB each in float32): the class defaults
    # are SVD's UNet configuration, which Diffusion-VAS fine-tunes.
    Unet = vas_export.import_unet_class()
    engines, files = [], []
    for name, seed in [("clip_vision", 1), ("vae_encoder", 2), ("vae_decoder", 2), ("unet", 3),
                       ("unet_completion", 4)]:
        t0 = time.monotonic()
        if name.startswith("unet"):
            torch.manual_seed(seed)
            module = cr.randomize(Unet(), seed)
        else:
            module = parts["image_encoder" if name == "clip_vision" else "vae"]
        path, data = vas_export.export_engine(name, vas_export.wrap(name, module), out, external=name.startswith("unet"))
        print(f"amodal/{name}: {path} {time.monotonic() - t0:.0f} s, "
              f"{sum(p.numel() for p in module.parameters()) / 1e6:.0f} M parameters", flush=True)
        engines.append((name, os.path.basename(path), "fp32"))
        if data:
            files.append((name + "_data", os.path.basename(data)))
        del module
        gc.collect()
    update_manifest(out, "amodal", engines, files, name="realsize")


STEPS = {"fov": build_fov, "depth": build_depth, "mesh": build_mesh, "amodal": build_amodal}


def missing_sources(steps):
    """One line per checkout the steps need (setup.py's step of the same
    name lists them) that is not set or not there, with the command that
    fetches it; checked before any export starts."""
    import setup
    needs = {env for st in setup.STEPS if st.name in steps for env in st.sources}
    lines = []
    for src in setup.SOURCES:
        if src.env not in needs:
            continue
        path = os.environ.get(src.env, "")
        if not path or not os.path.exists(os.path.join(path, src.marker)):
            where = f"{src.env}={path} lacks {src.marker}" if path else f"{src.env} is not set"
            lines.append(f"realsize: {where}: point it at a checkout of {src.name} ({src.how(src.name)})")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="model directory to write into")
    ap.add_argument("--only", default=",".join(STEPS), help="comma-separated steps: " + ", ".join(STEPS))
    ap.add_argument("--work", help="scratch folder for the mesh step's config and MHR stand-in "
                    "(default OUT/.realsize-work)")
    ap.add_argument("--check", action="store_true", help="only check that the steps' source checkouts are there")
    a = ap.parse_args()
    steps = a.only.split(",")
    bad = [s for s in steps if s not in STEPS]
    if bad:
        sys.exit(f"unknown step(s) {', '.join(bad)}; steps are {', '.join(STEPS)}")
    problems = missing_sources(steps)
    if problems:
        sys.exit("\n".join(problems))
    if a.check:
        return
    with torch.no_grad():
        for s in steps:
            t0 = time.monotonic()
            STEPS[s](a.out, a.work or os.path.join(a.out, ".realsize-work"))
            gc.collect()
            print(f"realsize {s}: {time.monotonic() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
