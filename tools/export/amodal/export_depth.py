#!/usr/bin/env python3
"""Export Depth Anything V2 (ViT-L) to body4d's amodal/depth engine.

    pip install -r tools/export/amodal/requirements-depth.txt
    huggingface-cli download depth-anything/Depth-Anything-V2-Large depth_anything_v2_vitl.pth --local-dir ckpt/dav2
    DAV2_SRC=/path/to/Depth-Anything-V2 python tools/export/amodal/export_depth.py \
        --checkpoint ckpt/dav2/depth_anything_v2_vitl.pth --out models/real

DAV2_SRC is a checkout of github.com/DepthAnything/Depth-Anything-V2 (or the
copy vendored in diffusion-vas at models/Depth_Anything_V2, which
Diffusion-VAS and SAM-Body4D use); its DepthAnythingV2 class is imported
from there, nothing is copied. --encoder picks another size (vits, vitb,
vitg) with its published head config; the reference uses vitl.

Writes OUT/amodal_depth.onnx with amodal.Contracts()'s depth I/O and adds it
to OUT/manifest.yaml:

    image [B,3,H,W] float32  what infer_image feeds the network: the frame's
                             channels swapped (the reference passes RGB to a
                             BGR API), cv2 INTER_CUBIC resize to the
                             lower-bound-518 multiple-of-14 size, ImageNet
                             normalisation; all done by package amodal
                             (amodal/depth.go DepthTensor)
 -> depth [B,H,W] float32    DepthAnythingV2.forward(): relative inverse depth
                             at the input size, ReLU'd; infer_image's bilinear
                             (align_corners=True) resize to the frame is Go's

The network is DepthAnythingV2.forward() with two export rewrites that keep
its numerics: DINOv2's position-embedding interpolation (bicubic with
scale_factor (n + 0.1)/M, which torch.onnx would freeze to the traced size)
is rebuilt from torch's bicubic taps with dynamic sizes (exportable_pos_embed
in tools/export/exportlib.py, shared with fov/export.py), and DPTHead's last
resize takes its size from the input's shape instead of int(patch_h * 14)
(the same value for the multiple-of-14 sizes Go feeds; int() would freeze
it). Attention takes DINOv2's plain path, not xformers (which does not
export). The rest calls the reference modules as they are.

STATUS: run only on random weights at a small config (tools/export/amodal/check_random.sh);
never on the real checkpoints.

TensorRT (SAM-Body4D's 512x1024 frames give 518x1036):

    trtexec --onnx=amodal_depth.onnx --saveEngine=amodal_depth.plan --fp16 \\
        --minShapes=image:1x3x518x518 --optShapes=image:8x3x518x1036 --maxShapes=image:16x3x518x1036
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/export
from exportlib import OPSET, exportable_pos_embed, onnx_export, update_manifest  # noqa: E402

# The published head configs (Depth-Anything-V2 README / run.py).
CONFIGS = {
    "vits": {"encoder": "vits", "features": 64, "out_channels": [48, 96, 192, 384]},
    "vitb": {"encoder": "vitb", "features": 128, "out_channels": [96, 192, 384, 768]},
    "vitl": {"encoder": "vitl", "features": 256, "out_channels": [256, 512, 1024, 1024]},
    "vitg": {"encoder": "vitg", "features": 384, "out_channels": [1536, 1536, 1536, 1536]},
}


def import_dav2():
    src = os.environ.get("DAV2_SRC")
    if src:
        sys.path.insert(0, src)
    from depth_anything_v2.dpt import DepthAnythingV2
    # xformers' memory_efficient_attention does not export; the plain
    # Attention.forward it falls back to computes the same softmax attention.
    import depth_anything_v2.dinov2_layers.attention as attention
    attention.XFORMERS_AVAILABLE = False
    return DepthAnythingV2


class DepthEngine(nn.Module):
    """DepthAnythingV2.forward(image) -> [B,H,W]."""

    def __init__(self, model):
        super().__init__()
        self.m = model.eval()
        exportable_pos_embed(self.m.pretrained)

    def forward(self, image):
        m = self.m
        ph, pw = image.shape[-2] // 14, image.shape[-1] // 14
        feats = m.pretrained.get_intermediate_layers(image, m.intermediate_layer_idx[m.encoder], return_class_token=True)
        depth = self.head(m.depth_head, feats, ph, pw)
        return F.relu(depth).squeeze(1)

    @staticmethod
    def head(h, out_features, patch_h, patch_w):
        """DPTHead.forward, the final resize sized from patch_h, patch_w as
        tensors (the reference's int() would freeze them when traced)."""
        out = []
        for i, x in enumerate(out_features):
            if h.use_clstoken:
                x, cls_token = x[0], x[1]
                readout = cls_token.unsqueeze(1).expand_as(x)
                x = h.readout_projects[i](torch.cat((x, readout), -1))
            else:
                x = x[0]
            x = x.permute(0, 2, 1).reshape((x.shape[0], x.shape[-1], patch_h, patch_w))
            x = h.projects[i](x)
            x = h.resize_layers[i](x)
            out.append(x)
        layer_1, layer_2, layer_3, layer_4 = out
        s = h.scratch
        layer_1_rn, layer_2_rn = s.layer1_rn(layer_1), s.layer2_rn(layer_2)
        layer_3_rn, layer_4_rn = s.layer3_rn(layer_3), s.layer4_rn(layer_4)
        path_4 = s.refinenet4(layer_4_rn, size=layer_3_rn.shape[2:])
        path_3 = s.refinenet3(path_4, layer_3_rn, size=layer_2_rn.shape[2:])
        path_2 = s.refinenet2(path_3, layer_2_rn, size=layer_1_rn.shape[2:])
        path_1 = s.refinenet1(path_2, layer_1_rn)
        out = s.output_conv1(path_1)
        out = F.interpolate(out, (patch_h * 14, patch_w * 14), mode="bilinear", align_corners=True)
        return s.output_conv2(out)


def export(model, out, opset=OPSET, example_hw=(56, 112)):
    """Export a DepthAnythingV2 to out/amodal_depth.onnx; return (path, data or None)."""
    os.makedirs(out, exist_ok=True)
    eng = DepthEngine(model)
    path = os.path.join(out, "amodal_depth.onnx")
    data = onnx_export(eng, (torch.randn(1, 3, *example_hw),), path, ["image"], ["depth"],
                       {"image": {0: "B", 2: "H", 3: "W"}, "depth": {0: "B", 1: "H", 2: "W"}}, opset)
    return path, data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="depth_anything_v2_vitl.pth")
    ap.add_argument("--encoder", default="vitl", choices=sorted(CONFIGS))
    ap.add_argument("--out", required=True, help="model directory to write into")
    ap.add_argument("--opset", type=int, default=OPSET)
    args = ap.parse_args()
    DepthAnythingV2 = import_dav2()
    model = DepthAnythingV2(**CONFIGS[args.encoder])
    model.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=True))
    path, data = export(model.eval(), args.out, args.opset)
    files = [("depth_data", os.path.basename(data))] if data else []
    print(update_manifest(args.out, "amodal", [("depth", os.path.basename(path), "fp32")], files))


if __name__ == "__main__":
    main()
