#!/usr/bin/env python3
"""Real-size SAM-3 engines with random weights (issue #20).

Builds the full SAM-3 video model (sam3's build_sam3_video_model, its real
configuration: ViT backbone at 1008², tracker, memory modules, the concept
detector) without a checkpoint, so every weight is the modules' own random
initialisation, and exports it with tools/export/segment/export.py's code
path: the tracker's four engines (the image encoder is the ViT, 1.85 GB),
the concept detector (1.95 GB: ViT and DETR heads; a network over
protobuf's 2 GB would keep its weights in segment_<name>.onnx.data) and the
"person" embedding. The outputs are for loading, contract and cost checks
only.

    python tools/export/realsize/segment.py --out MODELDIR
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "segment"))
import export as seg  # noqa: E402

sys.path.insert(1, os.path.join(HERE, ".."))  # tools/export
from exportlib import update_manifest  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="model directory to write into")
    ap.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-torch comparison")
    ap.add_argument("--tracker-only", action="store_true",
                    help="only the tracker's memory attention, mask decoder and memory encoder (no ViT: "
                    "about 9 GB less peak memory and a few minutes instead of tens)")
    ap.add_argument("--bpe", help="CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) for sam3's text encoder, "
                    "which PyPI sam3 0.1.4 does not ship; default: export.py's bpe_vocab (open_clip's copy). "
                    "The text encoder is not exported.")
    args = ap.parse_args()
    bpe = args.bpe or seg.bpe_vocab()
    seg.cpu_patch()
    from sam3.model_builder import build_sam3_video_model

    torch.manual_seed(0)
    model = build_sam3_video_model(checkpoint_path=None, load_from_HF=False, bpe_path=bpe, device="cpu")
    print("segment realsize: random text encoder", ", ".join(seg.random_text_init(model.detector)))
    tracker = model.tracker.eval()
    modules = {"_tracker": tracker, "memory_attention": seg.MemoryAttention(tracker),
               "mask_decoder": seg.MaskDecoder(tracker), "memory_encoder": seg.MemoryEncoder(tracker),
               }
    files = [("constants", "segment_constants.npz")]
    with torch.no_grad():
        if not args.tracker_only:
            vit, vit_files = seg.vit_engines(model, args.out)
            modules.update(vit)
            files += vit_files
        files += seg.export(modules, args.out, check=not args.no_check)
    seg.write_npz(os.path.join(args.out, "segment_constants.npz"), seg.constants(tracker))
    names = [n for n in modules if not n.startswith("_")]
    update_manifest(args.out, "segment", [(n, f"segment_{n}.onnx", "fp32") for n in names],
                    files=files, name="realsize")


if __name__ == "__main__":
    main()
