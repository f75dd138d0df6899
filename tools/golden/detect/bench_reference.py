#!/usr/bin/env python3
"""By hand: the reference detector's cost per frame on the CPU at the real
size (sam3's build_sam3_image_model, random weights: no checkpoint),
through Sam3Processor: set_image (backbone) and set_text_prompt("person")
(text encoder, encoder, decoder, heads, post-processing), one frame of the
sample clip, float32, after one warm-up. The text encoder's share is
timed apart, since body4d ships the embedding instead.

    VENV/bin/pip install -r tools/golden/segment/requirements.txt
    VENV/bin/pip install --no-deps open_clip_torch   # the BPE vocabulary sam3's wheel lacks
    VENV/bin/python tools/golden/detect/bench_reference.py
"""
import importlib.util
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main():
    sys.path.insert(0, os.path.join(ROOT, "tools", "export", "segment"))
    from export import cpu_patch  # sam3 makes a few buffers on "cuda" unconditionally

    cpu_patch()
    torch.manual_seed(0)
    bpe = os.path.join(os.path.dirname(importlib.util.find_spec("open_clip").origin), "bpe_simple_vocab_16e6.txt.gz")
    from sam3.model.sam3_image_processor import Sam3Processor
    from sam3.model_builder import build_sam3_image_model

    model = build_sam3_image_model(bpe_path=bpe, device="cpu", checkpoint_path=None, load_from_HF=False).eval()
    proc = Sam3Processor(model, device="cpu")
    img = Image.open(os.path.join(ROOT, "testdata", "segment", "frames", "000.png")).convert("RGB")
    times = []
    with torch.inference_mode():
        for _ in range(2):
            t0 = time.perf_counter()
            state = proc.set_image(img)
            t1 = time.perf_counter()
            state = proc.set_text_prompt("person", state)
            t2 = time.perf_counter()
            times.append((t1 - t0, t2 - t1))
        t0 = time.perf_counter()
        model.backbone.forward_text(["person"], device="cpu")
        text = time.perf_counter() - t0
    img_s, prompt_s = times[-1]
    print(f"threads {torch.get_num_threads()}: backbone {img_s * 1e3:.0f} ms, text prompt (text encoder, "
          f"encoder, decoder, heads) {prompt_s * 1e3:.0f} ms, of which the text encoder {text * 1e3:.0f} ms; "
          f"{len(state.get('scores', []))} kept with random weights")


if __name__ == "__main__":
    sys.exit(main())
