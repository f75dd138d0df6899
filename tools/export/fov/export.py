#!/usr/bin/env python3
"""Export MoGe-2 (microsoft/MoGe, moge/model/v2.py) to body4d's fov engine.

    pip install -r tools/export/fov/requirements.txt
    huggingface-cli download Ruicheng/moge-2-vitl-normal model.pt --local-dir ckpt/moge-2-vitl-normal
    MOGE_SRC=/path/to/MoGe python tools/export/fov/export.py \
        --checkpoint ckpt/moge-2-vitl-normal/model.pt --out models/real

MOGE_SRC is a checkout of github.com/microsoft/MoGe (the model classes are
imported from it; nothing is copied). Any MoGe-2 checkpoint works
(Ruicheng/moge-2-vitl-normal is SAM-3D-Body's default; -vitl, -vitb-normal,
-vits-normal too). Writes OUT/fov_moge.onnx (+ OUT/fov_moge.onnx.data when the
weights pass 2 GB) and adds the engine to OUT/manifest.yaml (created if
missing; other entries are kept).

The engine has fov.Contracts()'s I/O (fov/contract.go, fov/estimator.go):

    image        [1,3,h,w] float32  RGB in [0,1], already resized by package fov
                                    (antialiased bilinear, exactly MoGe's encoder
                                    resize) to h = 14*base_h, w = 14*base_w
    num_tokens   [] int64           the token budget (see below)
 -> points       [1,H,W,3] float32  after the exp remap (xy*e^z, e^z)
    normal       [1,H,W,3] float32  L2-normalised
    mask         [1,H,W]   float32  sigmoid probability
    metric_scale [1]       float32  exp(scale_head(cls))

It is MoGeModel.forward() with three deliberate differences, each because
package fov already did the step or does it exactly:

 1. The token grid is the input's: base_h = h/14, base_w = w/14. forward()
    re-derives it from num_tokens and the input's aspect ratio, which for an
    already-resized input can round to a different grid. num_tokens stays an
    input (the contract feeds it) but does not change the result.
 2. The encoder's resize to 14*base is skipped: on an input of exactly that
    size the antialiased bilinear resize is the identity.
 3. By default (--output native) the outputs are the heads' own maps at
    16*base_h x 16*base_w, before forward()'s final bilinear resize to the
    frame: package fov samples the engine map bilinearly (align_corners=False)
    at the frame's pixel centres, which is that resize (fov/estimator.go,
    mogeMap.samples). --output input resizes to the input size h x w as
    forward() does (the official ONNX export's behaviour); fov then resizes a
    second time, which the reference does not.

DINOv2's position-embedding interpolation is rewritten so that it exports
with dynamic h, w and keeps the reference's numerics: MoGe's PyTorch path
(not onnx_compatible_mode) calls bicubic interpolate with
scale_factor = (n + 0.1)/M, which torch.onnx would freeze to the traced size;
here the same bicubic taps (A = -0.75, torch's index/weight rules) are built
as matrices from the dynamic grid size (exportable_pos_embed in
tools/export/exportlib.py, shared with amodal/export_depth.py).
XFORMERS_DISABLED=1 is set, so MoGe's DINOv2 attention calls
F.scaled_dot_product_attention, not xformers.

moge-2-vitl has no normal head; its engine still has the contract's normal
output, filled with the normalised raw points-head output (package fov does
not read normals).

What the engine cannot reproduce (reported to the Go side): the UV channels
of the neck use the aspect ratio of the input tensor (w/h = base_w/base_h),
not the frame's W/H, which the contract does not pass; forward() on a
full-size frame uses W/H. The exp remap, sigmoid and normalisation are applied
before package fov interpolates, the reference applies them after.

STATUS: run only on random weights at a small config (tools/export/fov/check_random.sh);
never on the real checkpoints.

TensorRT (dynamic h, w need a profile; num_tokens is unused by the plan):

    trtexec --onnx=fov_moge.onnx --saveEngine=fov_moge.plan --fp16 \\
        --minShapes=image:1x3x476x644 --optShapes=image:1x3x630x826 --maxShapes=image:1x3x840x1120
"""
import argparse
import os
import sys
import types

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/export
from exportlib import OPSET, exportable_pos_embed, onnx_export, update_manifest  # noqa: E402

INPUTS = ["image", "num_tokens"]
OUTPUTS = ["points", "normal", "mask", "metric_scale"]


def import_moge():
    """MoGeModel from $MOGE_SRC. utils3d (a git-only dependency of MoGe) is
    only used by infer(); a stub stands in when it is not installed."""
    src = os.environ.get("MOGE_SRC")
    if src:
        sys.path.insert(0, src)
    os.environ.setdefault("XFORMERS_DISABLED", "1")
    try:
        import utils3d  # noqa: F401
    except ImportError:
        sys.modules["utils3d"] = types.ModuleType("utils3d")
    from moge.model.v2 import MoGeModel
    return MoGeModel


# ---- the engine ----

def view_plane_uv(width, height, aspect):
    """normalized_view_plane_uv as [2, height, width] (u, v): pixel centres
    span_x*(2i+1-w)/w with span_x = a/sqrt(1+a^2), span_y = 1/sqrt(1+a^2)."""
    sx = aspect / torch.sqrt(1 + aspect * aspect)
    sy = 1 / torch.sqrt(1 + aspect * aspect)
    wf, hf = width.to(torch.float32), height.to(torch.float32)
    u = sx * (2 * torch.arange(width, dtype=torch.float32) + 1 - wf) / wf
    v = sy * (2 * torch.arange(height, dtype=torch.float32) + 1 - hf) / hf
    return torch.stack([u[None, :].expand(height, width), v[:, None].expand(height, width)], dim=0)


class MoGeEngine(nn.Module):
    def __init__(self, model, output="native"):
        super().__init__()
        self.m = model.eval()
        self.output = output
        exportable_pos_embed(self.m.encoder.backbone)

    def forward(self, image, num_tokens):
        m, enc = self.m, self.m.encoder
        B = image.shape[0]
        H, W = torch.as_tensor(image.shape[2]), torch.as_tensor(image.shape[3])
        bh, bw = H // 14, W // 14
        aspect = W.to(torch.float32) / H.to(torch.float32)
        x = (image - enc.image_mean) / enc.image_std
        layers = enc.backbone.get_intermediate_layers(x, n=enc.intermediate_layers, return_class_token=True)
        feat = torch.stack([
            proj(f.permute(0, 2, 1).reshape(B, f.shape[2], bh, bw).contiguous())
            for proj, (f, _) in zip(enc.output_projections, layers)
        ], dim=1).sum(dim=1)
        cls = layers[-1][1]
        feats = []
        for level in range(5):
            uv = view_plane_uv(bw * 2 ** level, bh * 2 ** level, aspect)[None].expand(B, -1, -1, -1)
            feats.append(uv if level else torch.cat([feat, uv], dim=1))
        feats = m.neck(feats)
        points, normal, mask = (getattr(m, h)(feats)[-1] for h in ["points_head", "normal_head", "mask_head"])
        if self.output == "input":
            points, normal, mask = (F.interpolate(v, (image.shape[2], image.shape[3]), mode="bilinear",
                                                  align_corners=False, antialias=False) for v in (points, normal, mask))
        points = m._remap_points(points.permute(0, 2, 3, 1))
        normal = F.normalize(normal.permute(0, 2, 3, 1), dim=-1)
        mask = mask.squeeze(1).sigmoid()
        scale = m.scale_head(cls).squeeze(1).exp()
        return points, normal, mask, scale


def add_normal_head_if_missing(model):
    """moge-2-vitl has no normal head; the contract wants a normal output.
    Then the engine returns the points' direction as a stand-in (the stage
    does not read normals)."""
    if hasattr(model, "normal_head"):
        return

    class PointsAsNormal(nn.Module):
        def __init__(self, head):
            super().__init__()
            self.head = head

        def forward(self, feats):
            return self.head(feats)

    model.normal_head = PointsAsNormal(model.points_head)


def export(model, out, output="native", opset=OPSET, example_hw=(14 * 6, 14 * 8)):
    """Export model (a MoGeModel) to out/fov_moge.onnx; return its path."""
    os.makedirs(out, exist_ok=True)
    add_normal_head_if_missing(model)
    eng = MoGeEngine(model, output).eval()
    path = os.path.join(out, "fov_moge.onnx")
    image = torch.rand(1, 3, *example_hw)
    nt = torch.tensor(example_hw[0] * example_hw[1] // 196, dtype=torch.int64)
    dyn = {"image": {2: "h", 3: "w"}, "points": {1: "H", 2: "W"}, "normal": {1: "H", 2: "W"}, "mask": {1: "H", 2: "W"}}
    onnx_export(eng, (image, nt), path, INPUTS, OUTPUTS, dyn, opset, edit=keep_num_tokens)
    return path


def keep_num_tokens(m):
    """torch.onnx drops unused inputs; the contract feeds num_tokens."""
    from onnx import TensorProto, helper
    if "num_tokens" not in [i.name for i in m.graph.input]:
        m.graph.input.append(helper.make_tensor_value_info("num_tokens", TensorProto.INT64, []))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="MoGe-2 model.pt (or a Hugging Face repo id, downloaded by MoGe)")
    ap.add_argument("--out", required=True, help="model directory to write into")
    ap.add_argument("--output", choices=["native", "input"], default="native",
                    help="output maps at the heads' resolution (default) or resized to the input, as forward()")
    ap.add_argument("--opset", type=int, default=OPSET)
    args = ap.parse_args()
    MoGeModel = import_moge()
    model = MoGeModel.from_pretrained(args.checkpoint).eval()
    path = export(model, args.out, args.output, args.opset)
    files = [("moge_weights", os.path.basename(path) + ".data")] if os.path.exists(path + ".data") else []
    print(update_manifest(args.out, "fov", [("moge", os.path.basename(path), "fp32")], files))


if __name__ == "__main__":
    main()
