#!/usr/bin/env python3
"""Check tools/export/fov/export.py without the real weights.

Needs tools/export/fov/requirements.txt and a MoGe checkout (MOGE_SRC);
run through check_random.sh. It builds MoGe-2 with the real classes
(moge.model.v2.MoGeModel, MoGe's DINOv2 ViT-S/14 backbone) at a small
config with random weights, exports it with export.py's code path, and
checks

  (a) onnxruntime against the PyTorch reference module, on grids other than
      the traced one (including the 37x37 grid where DINOv2 uses its
      position table unresized):
        --output input:  against MoGeModel.forward() itself;
        --output native: against forward()'s head maps captured before its
                         final resize, with forward()'s remap applied;
  (b) the engine's input/output names, dtypes and ranks against the Go
      contract (go run ./tools/contracts -json -stage fov), with Go's
      rule for dynamic dims (engine.Contract.Check);
  (c) with --doctor, `body4d doctor` on a copy of the tiny model directory
      in which fov/moge is the exported engine;
  (d) export.py's command line on a model.pt laid out as MoGe's
      checkpoints: manifest entry and checksum, same outputs.

Exit status 1 when a check fails.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # tools/export
import export as fov_export  # noqa: E402
from exportlib import check_contract, doctor, go_contracts, rel_err, sha256  # noqa: E402

TOL = 1e-5  # max |onnx - torch| / max(1, max |torch|) per output


def small_config():
    """MoGe-2's v2.json layout (configs/train/v2.json) at a small width:
    ViT-S/14 instead of ViT-L/14, 4 intermediate layers, narrow neck/heads."""
    res = [64, 32, 32, 16, 16]
    head = lambda out: {"dim_in": res, "dim_out": [None, None, None, None, out], "dim_res_blocks": res,
                        "num_res_blocks": [0, 1, 1, 1, 0], "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                        "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]}
    return {
        "encoder": {"backbone": "dinov2_vits14", "intermediate_layers": [2, 5, 8, 11], "dim_out": 64},
        "neck": {"dim_in": [66, 2, 2, 2, 2], "dim_out": None, "dim_res_blocks": res, "num_res_blocks": [0, 1, 1, 1, 0],
                 "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                 "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]},
        "points_head": head(3), "normal_head": head(3), "mask_head": head(1),
        "scale_head": {"dims": [384, 64, 1]},
        "remap_output": "exp", "num_tokens_range": [1200, 3600],
    }


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() <= 1:
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
            else:
                p.mul_(0.5 + torch.rand(p.shape, generator=g))
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor", action="store_true", help="also run body4d doctor on the exported engine")
    ap.add_argument("--keep", help="keep the exported engines in this directory")
    args = ap.parse_args()
    torch.manual_seed(0)
    MoGeModel = fov_export.import_moge()
    model = randomize(MoGeModel(**small_config()).eval(), 1)
    ok = True
    contract = go_contracts("fov")["moge"]
    work = args.keep or tempfile.mkdtemp(prefix="fov_check_")
    # (H, W, num_tokens): grids 6x8 (traced), 7x5, 37x37 (position table unresized).
    cases = [(84, 112, 48), (98, 70, 35), (518, 518, 1369)]
    import onnxruntime as ort
    for output in ["input", "native"]:
        out = os.path.join(work, output)
        path = fov_export.export(model, out, output=output, example_hw=(84, 112))
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        errs = check_contract(path, contract)
        print(f"fov/moge --output {output}: contract " + ("ok" if not errs else "FAIL: " + "; ".join(errs)))
        ok &= not errs
        for H, W, nt in cases:
            if output == "input" and H == 518:
                continue  # 592x592 maps resized: slow on CPU, nothing new
            g = torch.Generator().manual_seed(H * W)
            image = torch.rand(1, 3, H, W, generator=g)
            with torch.no_grad():
                if output == "input":
                    ref = model.forward(image, nt)
                    want = [ref[k] for k in fov_export.OUTPUTS]
                else:
                    raw = {}
                    hooks = [getattr(model, h).register_forward_hook(
                        lambda mod, i, o, h=h: raw.__setitem__(h, o[-1])) for h in ["points_head", "normal_head", "mask_head"]]
                    ref = model.forward(image, nt)
                    for hk in hooks:
                        hk.remove()
                    want = [model._remap_points(raw["points_head"].permute(0, 2, 3, 1)),
                            torch.nn.functional.normalize(raw["normal_head"].permute(0, 2, 3, 1), dim=-1),
                            raw["mask_head"].squeeze(1).sigmoid(), ref["metric_scale"]]
            got = sess.run(None, {"image": image.numpy(), "num_tokens": np.array(nt, np.int64)})
            for name, w, o in zip(fov_export.OUTPUTS, want, got):
                a, r = rel_err(w.numpy(), o)
                good = r <= TOL
                ok &= good
                print(f"  {H}x{W} tokens {nt} {name} {list(o.shape)}: max abs {a:.3g}, rel {r:.3g} {'ok' if good else 'FAIL'}")
        if args.doctor and output == "native":
            good = doctor("fov", {"moge": path})
            print("body4d doctor: " + ("ok" if good else "FAIL"))
            ok &= good
    # The command line as a user runs it, on a checkpoint file laid out as
    # MoGe's model.pt ({"model_config", "model"}).
    ckpt = os.path.join(work, "model.pt")
    torch.save({"model_config": small_config(), "model": model.state_dict()}, ckpt)
    cli = os.path.join(work, "cli")
    r = subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "--checkpoint", ckpt, "--out", cli],
                       capture_output=True, text=True)
    good = r.returncode == 0 and not check_contract(os.path.join(cli, "fov_moge.onnx"), contract)
    if good:
        import yaml
        with open(os.path.join(cli, "manifest.yaml")) as f:
            m = yaml.safe_load(f)
        e = [e for e in m["engines"] if (e["stage"], e["name"]) == ("fov", "moge")]
        good = len(e) == 1 and e[0]["sha256"] == sha256(os.path.join(cli, "fov_moge.onnx"))
        sess = ort.InferenceSession(os.path.join(cli, "fov_moge.onnx"), providers=["CPUExecutionProvider"])
        image = torch.rand(1, 3, 98, 70)
        got = sess.run(None, {"image": image.numpy(), "num_tokens": np.array(35, np.int64)})[0]
        sess2 = ort.InferenceSession(os.path.join(work, "native", "fov_moge.onnx"), providers=["CPUExecutionProvider"])
        good &= bool(np.array_equal(got, sess2.run(None, {"image": image.numpy(), "num_tokens": np.array(35, np.int64)})[0]))
    print("export.py command line on a model.pt: " + ("ok" if good else "FAIL\n" + r.stderr[-2000:]))
    ok &= good
    if not args.keep:
        shutil.rmtree(work)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
