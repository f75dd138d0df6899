#!/usr/bin/env python3
"""Check tools/export/amodal/export.py and export_depth.py without the real
weights.

Needs tools/export/amodal/requirements.txt and requirements-depth.txt, a
diffusion-vas checkout (DVAS_SRC) and a Depth-Anything-V2 checkout
(DAV2_SRC); run through check_random.sh. It builds every network with the
real classes at a small config with random weights:

  clip_vision      transformers CLIPVisionModelWithProjection (2 layers, width 64, projection 1024)
  vae_encoder/     diffusers AutoencoderKLTemporalDecoder (4 blocks: factor 8, width 32-64)
  vae_decoder
  unet             diffusion-vas UNetSpatioTemporalConditionModel (2 blocks, width 32-64,
                   cross-attention 1024, addition_time_embed_dim 8)
  depth            Depth-Anything-V2 DepthAnythingV2 (the published vits config)

exports each with the exporters' code path, and checks

  (a) onnxruntime against the reference module called as the reference
      pipeline calls it, on sizes other than the traced ones (other F, h,
      w, batch; the depth net also at 518x518, where DINOv2 uses its
      position table unresized);
  (b) the engines' input/output names, dtypes and ranks against the Go
      contract (go run ./tools/contracts -json -stage amodal), with
      Go's rule for dynamic dims (engine.Contract.Check);
  (c) the external-weights path the real UNets take (amodal_unet.onnx +
      amodal_unet.onnx.data, listed under files: in the manifest);
  (d) export.py and export_depth.py's command lines on checkpoints saved in
      the Hugging Face layout (save_pretrained; SVD-xt's scheduler and
      feature-extractor configs): manifest entries, checksums, outputs;
  (e) with --doctor, `body4d doctor` on a copy of the tiny model directory
      in which the six amodal engines are the exported ones.

Exit status 1 when a check fails.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # tools/export
import export as vas_export  # noqa: E402
import export_depth  # noqa: E402
from exportlib import check_contract, doctor, go_contracts, rel_err, sha256, update_manifest  # noqa: E402

TOL = 1e-4  # max |onnx - torch| / max(1, max |torch|) per output


def randomize(model, seed):
    """Perturb every parameter so that no zero-initialised layer (diffusers
    zero-inits some projections) hides a path."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def small_models():
    from diffusers import AutoencoderKLTemporalDecoder
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    Unet = vas_export.import_unet_class()
    torch.manual_seed(0)
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, projection_dim=1024, num_hidden_layers=2, num_attention_heads=2,
        image_size=224, patch_size=32, hidden_act="gelu"))
    vae = AutoencoderKLTemporalDecoder(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                                       block_out_channels=(32, 32, 64, 64), layers_per_block=1, latent_channels=4,
                                       sample_size=64, scaling_factor=0.18215)

    def unet():
        return Unet(sample_size=None, in_channels=8, out_channels=4,
                    down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
                    up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
                    block_out_channels=(32, 64), addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
                    layers_per_block=1, cross_attention_dim=1024, num_attention_heads=(2, 4), num_frames=4)
    DepthAnythingV2 = export_depth.import_dav2()
    depth = DepthAnythingV2(**export_depth.CONFIGS["vits"])
    return {"image_encoder": randomize(clip, 1), "vae": randomize(vae, 2), "unet": randomize(unet(), 3),
            "unet_completion": randomize(unet(), 4), "depth": randomize(depth, 5)}


def reference(name, parts, args):
    """The reference call, as DiffusionVASPipeline / infer_image make it."""
    with torch.no_grad():
        if name == "clip_vision":
            return parts["image_encoder"](args[0]).image_embeds
        if name == "vae_encoder":
            return parts["vae"].encode(args[0]).latent_dist.mode()
        if name in ("unet", "unet_completion"):
            x, t, e, ids = args
            # the pipeline passes t as a 0-dim tensor from scheduler.timesteps
            return parts[name](x, t[0], encoder_hidden_states=e, added_time_ids=ids, return_dict=False)[0]
        if name == "vae_decoder":
            return parts["vae"].decode(args[0], num_frames=args[0].shape[0]).sample
        if name == "depth":
            return parts["depth"].forward(args[0])
    raise KeyError(name)


# per engine: check-time input sizes (the traced ones are the defaults of example_inputs)
CASES = {
    "clip_vision": [dict(B=3)],
    "vae_encoder": [dict(B=3, h=6, w=10)],
    "unet": [dict(F=3, h=6, w=10), dict(F=5, h=8, w=8)],
    "unet_completion": [dict(F=3, h=6, w=10)],
    "vae_decoder": [dict(F=5, h=6, w=10), dict(F=1, h=8, w=16)],
}


# stable-video-diffusion-img2vid-xt's scheduler and feature-extractor configs
SVD_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                 "beta_start": 0.00085, "interpolation_type": "linear", "num_train_timesteps": 1000,
                 "prediction_type": "v_prediction", "set_alpha_to_one": False, "sigma_max": 700.0, "sigma_min": 0.002,
                 "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading",
                 "timestep_type": "continuous", "trained_betas": None, "use_karras_sigmas": True}
SVD_FEATURES = {"crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_normalize": True,
                "do_rescale": True, "do_resize": True, "image_mean": vas_export.GO_CLIP_MEAN,
                "image_processor_type": "CLIPImageProcessor", "image_std": vas_export.GO_CLIP_STD,
                "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}}


def check_cli(parts, out, contracts):
    """export.py and export_depth.py as a user runs them, on pipeline
    folders written with save_pretrained (the Hugging Face layout) and a
    depth state dict: manifest entries, checksums, same outputs as above."""
    import json
    import yaml
    import onnxruntime as ort
    work = os.path.join(out, "cli")
    folders = {}
    for label, unet in [("seg", parts["unet"]), ("comp", parts["unet_completion"])]:
        d = os.path.join(work, label)
        unet.save_pretrained(os.path.join(d, "unet"))
        parts["vae"].save_pretrained(os.path.join(d, "vae"))
        parts["image_encoder"].save_pretrained(os.path.join(d, "image_encoder"))
        for sub, cfg, name in [("scheduler", SVD_SCHEDULER, "scheduler_config.json"),
                               ("feature_extractor", SVD_FEATURES, "preprocessor_config.json")]:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            with open(os.path.join(d, sub, name), "w") as f:
                json.dump(cfg, f)
        folders[label] = d
    torch.save(parts["depth"].state_dict(), os.path.join(work, "dav2.pth"))
    res = os.path.join(work, "out")
    logs = []
    for cmd in [[sys.executable, os.path.join(HERE, "export.py"), "--amodal-segmentation", folders["seg"],
                 "--content-completion", folders["comp"], "--out", res],
                [sys.executable, os.path.join(HERE, "export_depth.py"), "--checkpoint", os.path.join(work, "dav2.pth"),
                 "--encoder", "vits", "--out", res]]:
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        logs.append(r.stdout + r.stderr[-3000:])
        if r.returncode != 0:
            print("export command line: FAIL\n" + logs[-1])
            return False
    print("\n".join(l for l in logs[0].splitlines() if "configs" in l or "WARNING" in l or "scheduler" in l))
    with open(os.path.join(res, "manifest.yaml")) as f:
        m = yaml.safe_load(f)
    good = "configs match" in logs[0]
    engines = {e["name"]: e for e in m["engines"] if e["stage"] == "amodal"}
    files = {e["name"]: e for e in m.get("files", []) if e["stage"] == "amodal"}
    good &= sorted(engines) == sorted(contracts)
    for e in list(engines.values()) + list(files.values()):
        good &= e["sha256"] == sha256(os.path.join(res, e["file"]))
    for name in contracts:
        good &= not check_contract(os.path.join(res, f"amodal_{name}.onnx"), contracts[name])
    for name in ["unet", "unet_completion", "depth"]:
        a = (torch.randn(1, 3, 70, 126),) if name == "depth" else vas_export.example_inputs(name, F=3, h=6, w=10)
        feeds = lambda s: {i.name: x.numpy() for i, x in zip(s.get_inputs(), a)}
        s1 = ort.InferenceSession(os.path.join(res, f"amodal_{name}.onnx"), providers=["CPUExecutionProvider"])
        s2 = ort.InferenceSession(os.path.join(out, f"amodal_{name}.onnx"), providers=["CPUExecutionProvider"])
        good &= rel_err(s2.run(None, feeds(s2))[0], s1.run(None, feeds(s1))[0])[1] < 1e-6
    print("export.py / export_depth.py command lines on saved checkpoints: " + ("ok" if good else "FAIL"))
    shutil.rmtree(work)
    return good


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor", action="store_true", help="also run body4d doctor on the exported engines")
    ap.add_argument("--keep", help="keep the exported engines in this directory")
    args = ap.parse_args()
    import onnxruntime as ort
    parts = small_models()
    contracts = go_contracts("amodal")
    out = args.keep or tempfile.mkdtemp(prefix="amodal_check_")
    os.makedirs(out, exist_ok=True)
    ok = True
    # unet with its weights in a .data file, as the real (6 GB) UNets are
    manifest = vas_export.export_all(parts, out, parts["unet_completion"], external={"unet"})
    dpath, _ = export_depth.export(parts["depth"], out)
    update_manifest(out, "amodal", [("depth", os.path.basename(dpath), "fp32")])
    print(f"exported into {out}: {manifest}")
    with open(manifest) as f:
        print(f.read().rstrip())
    if not os.path.exists(os.path.join(out, "amodal_unet.onnx.data")):
        print("FAIL: amodal_unet.onnx.data (external weights) was not written")
        ok = False
    paths = {n: os.path.join(out, f"amodal_{n}.onnx") for n in list(CASES) + ["depth"]}
    for name, path in paths.items():
        errs = check_contract(path, contracts[name])
        print(f"amodal/{name}: contract " + ("ok" if not errs else "FAIL: " + "; ".join(errs)))
        ok &= not errs
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        if name == "depth":
            g = torch.Generator().manual_seed(7)
            inputs = [(torch.randn(2, 3, 70, 126, generator=g),), (torch.randn(1, 3, 518, 518, generator=g),)]
        else:
            inputs = [vas_export.example_inputs(name, **c) for c in CASES[name]]
        for a in inputs:
            want = reference(name, parts, a)
            got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), a)})[0]
            e_abs, e_rel = rel_err(want.numpy(), got)
            good = e_rel <= TOL
            ok &= good
            shapes = " ".join(str(list(x.shape)) for x in a)
            print(f"  {shapes} -> {list(got.shape)}: max abs {e_abs:.3g}, rel {e_rel:.3g} "
                  f"(|ref| max {float(want.abs().max()):.3g}) {'ok' if good else 'FAIL'}")
    ok &= check_cli(parts, out, contracts)
    if args.doctor:
        good = doctor("amodal", paths)
        print("body4d doctor: " + ("ok" if good else "FAIL"))
        ok &= good
    if not args.keep:
        shutil.rmtree(out)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
