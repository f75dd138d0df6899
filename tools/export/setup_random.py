#!/usr/bin/env python3
"""By hand (needs torch, the exporters' packages and source checkouts; not in
CI): tools/export/setup.sh's whole chain with random-weight checkpoints
saved in the reference layout, standing in for the downloads.

    SAM3DB_SRC=... DINOV3_SRC=... MOGE_SRC=... DVAS_SRC=... DAV2_SRC=... \
        python tools/export/setup_random.py WORK [--only segment,mesh,mhr,fov,amodal,depth]
        [--mhr-python PY]

Builds, with the real classes, in WORK/checkpoints (only what the steps
run need; each step asks only for its own checkouts):
  sam3/sam3.pt                         SAM-3 (sam3 0.1.4) at its real size, default
                                       random init, {"model": state_dict} (3.45 GB)
  sam-3d-body-dinov3/                  SAM-3D-Body at mesh/check_random.py's small config
                                       (model.ckpt, model_config.yaml, assets/mhr_model.pt)
  mhr-assets/                          MHR's release assets at LOD1's sizes, random
                                       (mhr/standin.py, run by --mhr-python: FBX rig,
                                       .model, corrective .npz files)
  moge-2-vitl-normal/model.pt          MoGe-2 at fov/check_random.py's small config
  diffusion-vas-amodal-segmentation/   Diffusion-VAS pipeline folders (save_pretrained)
  diffusion-vas-content-completion/    at amodal/check_random.py's small config
  depth_anything_v2_vitl.pth           Depth Anything V2 ViT-L at its real size

and for mesh WORK/dinov3-small, a DINOV3_SRC stand-in whose hub entry
points build the same cut-down DINOv3 as model.ckpt holds (check_random.py
does this in its own process; the mesh exporter runs in another). It copies
the tiny model set into WORK/models (stages not run, and the MHR body
model, keep their tiny files, so that doctor checks every stage), then runs
setup.py --only STEPS three times and checks:
  1. every step exports, body4d doctor passes on WORK/models;
  2. a second run exports nothing;
  3. after one checkpoint is rewritten (other random weights; fov's
     model.pt when fov runs, else the first step's), only its step exports.

The mhr step (and its builder, mhr/standin.py) runs under --mhr-python, a
Python 3.12 or 3.13 with mhr/requirements-mhr.txt; its keypoint mapping
comes from the mesh step's model.ckpt, so it also needs that step's
checkouts.

Measured (README, "Whole chain, by hand"): mesh, fov, amodal and depth;
segment with fov (--only segment,fov: SAM-3's full-size export, its
onnxruntime check included, through setup.py in 266.5 s); mhr with fov.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def build_fov(ckpt, seed):
    sys.path[:0] = [os.path.join(HERE, "fov"), HERE]
    import torch
    import check_random as cr
    import export as fov_export
    model = cr.randomize(fov_export.import_moge()(**cr.small_config()).eval(), seed)
    d = os.path.join(ckpt, "moge-2-vitl-normal")
    os.makedirs(d, exist_ok=True)
    torch.save({"model_config": cr.small_config(), "model": model.state_dict()}, os.path.join(d, "model.pt"))


DINO_STANDIN = """# A stand-in DINOV3_SRC (made by tools/export/setup_random.py): the real
# checkout's hub entry points, with the ViT cut to mesh/check_random.py's
# small size, as the random-weight model.ckpt was built.
import os, runpy, sys
REAL = {real!r}
sys.path.insert(0, REAL)
import dinov3.hub.backbones as _hb
_make = _hb._make_dinov3_vit
def _small(**kw):
    kw.update({small!r})
    return _make(**kw)
_hb._make_dinov3_vit = _small
globals().update({{k: v for k, v in runpy.run_path(os.path.join(REAL, "hubconf.py")).items() if not k.startswith("__")}})
"""


def build_mesh(ckpt, work):
    """A random SAM-3D-Body at mesh/check_random.py's small config saved as
    sam-3d-body-dinov3/ (model.ckpt, model_config.yaml, assets/mhr_model.pt),
    and a DINOV3_SRC stand-in that builds the same small backbone."""
    sys.path[:0] = [os.path.join(HERE, "mesh"), HERE]
    import check_random as cr
    import export as mesh_export
    real = os.environ["DINOV3_SRC"]
    cr.shrink_dinov3(real)
    mesh_export.use_local_dinov3(real)
    cr.build(os.path.join(ckpt, "sam-3d-body-dinov3"))
    d = os.path.join(work, "dinov3-small")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hubconf.py"), "w") as f:
        f.write(DINO_STANDIN.format(real=real, small=cr.DINO_SMALL))


def build_amodal(ckpt):
    sys.path[:0] = [os.path.join(HERE, "amodal"), HERE]
    import torch
    import check_random as cr
    import export_depth
    parts = cr.small_models()
    for label, unet in [("amodal-segmentation", parts["unet"]), ("content-completion", parts["unet_completion"])]:
        d = os.path.join(ckpt, "diffusion-vas-" + label)
        unet.save_pretrained(os.path.join(d, "unet"))
        parts["vae"].save_pretrained(os.path.join(d, "vae"))
        parts["image_encoder"].save_pretrained(os.path.join(d, "image_encoder"))
        for sub, cfg, name in [("scheduler", cr.SVD_SCHEDULER, "scheduler_config.json"),
                               ("feature_extractor", cr.SVD_FEATURES, "preprocessor_config.json")]:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            with open(os.path.join(d, sub, name), "w") as f:
                json.dump(cfg, f)
        with open(os.path.join(d, "model_index.json"), "w") as f:
            json.dump({"_class_name": "DiffusionVASPipeline", "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
                       "vae": ["diffusers", "AutoencoderKLTemporalDecoder"],
                       "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
                       "scheduler": ["diffusers", "EulerDiscreteScheduler"],
                       "feature_extractor": ["transformers", "CLIPImageProcessor"]}, f)
    # Depth Anything V2 at the size the reference uses (ViT-L, 335M
    # parameters): the depth step exports with --encoder vitl.
    torch.manual_seed(5)
    depth = export_depth.import_dav2()(**export_depth.CONFIGS["vitl"])
    cr.randomize(depth, 5)
    torch.save(depth.state_dict(), os.path.join(ckpt, "depth_anything_v2_vitl.pth"))


def build_segment(ckpt, seed):
    """SAM-3 (sam3 0.1.4's builder, full size: it has no small config) with
    its default random initialisation, saved as the reference's sam3/sam3.pt
    ({"model": state_dict}, the keys build_sam3_video_model loads strictly)."""
    sys.path[:0] = [os.path.join(HERE, "segment"), HERE]
    import torch
    import export as seg_export
    from sam3.model_builder import build_sam3_video_model
    seg_export.cpu_patch()
    torch.manual_seed(seed)
    model = build_sam3_video_model(checkpoint_path=None, load_from_HF=False, bpe_path=seg_export.bpe_vocab(),
                                   device="cpu")
    seg_export.random_text_init(model.detector, seed)
    d = os.path.join(ckpt, "sam3")
    os.makedirs(d, exist_ok=True)
    torch.save({"model": model.state_dict()}, os.path.join(d, "sam3.pt"))


def build_mhr(ckpt, mhr_python, seed):
    """MHR's release assets at LOD1's sizes, random, by mhr/standin.py
    (which loads them back with MHR.from_files and checks every array)."""
    subprocess.run([mhr_python, os.path.join(HERE, "mhr", "standin.py"), os.path.join(ckpt, "mhr-assets"),
                    "--seed", str(seed)], check=True)


STEPS = ["segment", "mesh", "mhr", "fov", "amodal", "depth"]
# What each step's checkpoint builder needs (source checkouts); mhr reads
# the keypoint mapping from the mesh step's model.ckpt.
NEEDS = {"segment": [], "mesh": ["SAM3DB_SRC", "DINOV3_SRC"], "mhr": ["SAM3DB_SRC", "DINOV3_SRC"],
         "fov": ["MOGE_SRC"], "amodal": ["DVAS_SRC", "DAV2_SRC"], "depth": ["DVAS_SRC", "DAV2_SRC"]}


def setup(work, steps, mhr_python):
    cmd = [sys.executable, os.path.join(HERE, "setup.py"), "--checkpoints", os.path.join(work, "checkpoints"),
           "--out", os.path.join(work, "models"), "--python", sys.executable, "--only", ",".join(steps),
           "--no-size-check"] + (["--mhr-python", mhr_python] if "mhr" in steps else [])
    env = dict(os.environ)
    if "mesh" in steps:
        env["DINOV3_SRC"] = os.path.join(work, "dinov3-small")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    with open(os.path.join(work, "setup.log"), "a") as f:
        f.write(r.stdout + r.stderr)
    return r.returncode, r.stdout + r.stderr


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "build-fov":
        return build_fov(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "build-segment":
        return build_segment(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) == 3 and sys.argv[1] == "build-amodal":
        return build_amodal(sys.argv[2])
    if len(sys.argv) == 4 and sys.argv[1] == "build-mesh":
        return build_mesh(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(usage="setup_random.py WORK [--only " + ",".join(STEPS) + "] [--mhr-python PY]")
    ap.add_argument("work")
    ap.add_argument("--only", default=",".join(STEPS))
    ap.add_argument("--mhr-python", help="Python 3.12 or 3.13 with mhr/requirements-mhr.txt (for the mhr step)")
    a = ap.parse_args()
    steps = a.only.split(",")
    bad = [s for s in steps if s not in STEPS]
    if bad:
        sys.exit(f"setup_random: --only {','.join(bad)}: no such step (steps: {', '.join(STEPS)})")
    steps = [s for s in STEPS if s in steps]  # setup.py runs them in this order
    if "mhr" in steps and not a.mhr_python:
        sys.exit("setup_random: the mhr step needs --mhr-python (Python 3.12 or 3.13 with mhr/requirements-mhr.txt)")
    work = os.path.abspath(a.work)
    ckpt = os.path.join(work, "checkpoints")
    for v in sorted({v for s in steps for v in NEEDS[s]}):
        if not os.environ.get(v):
            sys.exit(f"set {v}")
    # Each builder in its own process: fov/, amodal/ and segment/ each have an export.py.
    if "segment" in steps:
        subprocess.run([sys.executable, __file__, "build-segment", ckpt, "3"], check=True)
    if "fov" in steps:
        subprocess.run([sys.executable, __file__, "build-fov", ckpt, "1"], check=True)
    if "amodal" in steps or "depth" in steps:
        subprocess.run([sys.executable, __file__, "build-amodal", ckpt], check=True)
    if "mesh" in steps or "mhr" in steps:
        subprocess.run([sys.executable, __file__, "build-mesh", ckpt, work], check=True)
    if "mhr" in steps:
        build_mhr(ckpt, a.mhr_python, 1)
    ok = True
    # doctor checks every stage: the stages not exported here keep the tiny
    # model set's files, copied in first; the exporters replace their entries.
    models = os.path.join(work, "models")
    if not os.path.exists(models):
        shutil.copytree(os.path.join(HERE, "..", "..", "sample", "models", "tiny"), models)

    rc, out = setup(work, steps, a.mhr_python)
    exported = re.findall(r"^== (\w+): exporting", out, re.M)
    good = rc == 0 and exported == steps and re.search(r"body4d doctor\s+[0-9.]+ s  passed", out)
    print(f"1. first run: exported {exported}, exit {rc}: " + ("ok" if good else "FAIL"))
    print("\n".join(line for line in out.splitlines() if re.match(r"^(ok|FAIL|info|\S+\.(onnx|npz|data))\b", line)
                    or re.match(r"^(export \w+|body4d doctor|engines build|pre-flight)\s", line)))
    ok &= bool(good)

    rc, out = setup(work, steps, a.mhr_python)
    up = re.findall(r"^== (\w+): up to date", out, re.M)
    good = rc == 0 and up == steps and "exporting" not in out
    print(f"2. second run: up to date {up}, exit {rc}: " + ("ok" if good else "FAIL"))
    ok &= good

    # One checkpoint rewritten with other random weights (fov's, the
    # cheapest, when it runs): only its step exports again.
    changed = "fov" if "fov" in steps else steps[0]
    build = {"fov": ["build-fov", ckpt, "2"], "segment": ["build-segment", ckpt, "4"],
             "mesh": ["build-mesh", ckpt, work], "amodal": ["build-amodal", ckpt], "depth": ["build-amodal", ckpt]}
    if changed == "mhr":
        build_mhr(ckpt, a.mhr_python, 2)
    else:
        subprocess.run([sys.executable, __file__] + build[changed], check=True)
    rc, out = setup(work, steps, a.mhr_python)
    exported = re.findall(r"^== (\w+): exporting", out, re.M)
    up = re.findall(r"^== (\w+): up to date", out, re.M)
    good = rc == 0 and exported == [changed] and up == [s for s in steps if s != changed]
    print(f"3. {changed}'s checkpoint rewritten: exported {exported}, up to date {up}, exit {rc}: "
          + ("ok" if good else "FAIL"))
    ok &= good
    print("setup_random: " + ("all ok" if ok else "FAILED") + f" (log: {os.path.join(work, 'setup.log')})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
