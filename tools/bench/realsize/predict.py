#!/usr/bin/env python3
"""Predicted pipeline cost from a cost table (issue #20). A prediction, not a
measurement: engine calls counted from the stages' defaults times the
measured CPU time per call (bench.py on this machine) and, for a GPU, the
counted FLOPs at a stated utilisation of its dense peak.

    python tools/bench/realsize/bench.py DIR ... > rows.txt
    python tools/bench/realsize/predict.py rows.txt [--gpu-tflops 989] [--utilisation 0.3]

Calls per video of P people × N frames, at the stages' defaults:
  segment  image_encoder once per frame; memory_attention, mask_decoder and
           memory_encoder once per frame at batch P
  fov      moge on min(8, N) frames (one estimate per video)
  mesh     body mode: per person-frame one crop through backbone, decoder
           and decoder_layer1..5
  amodal   depth once per frame; per person-frame and pass, clip_vision 1,
           vae_encoder 2 (both conditions), vae_decoder 1 and 25 steps of
           the UNet over the window (its cost per frame taken from the
           largest F measured); "with completion" runs both passes on
           every frame (the worst case: every window occluded)
An engine's cost at batch b is interpolated linearly between its measured
batches (per item beyond the largest). Go-side work (MHR skinning,
smoothing, rendering, encoding) is not included.
"""
import argparse
import json
import sys

STEPS = 25
SCENARIOS = [(1, 100), (5, 90)]
# The reference's published H800 times (SAM-Body4D README), seconds.
REFERENCE = {(1, 100): {"masks (segment)": 15.55, "4D (rest)": 70.0},
             (5, 90): {"without completion": 175.0, "with completion": 1567.0}}


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                rows[r["engine"]] = r
    return rows


class Cost:
    def __init__(self, rows):
        self.rows = rows

    def points(self, key, field):
        r = self.rows.get(key)
        if r is None:
            raise KeyError(f"{key} is not in the cost table")
        pts = sorted((int(k[len(field) + 2:]), v) for k, v in r.items() if k.startswith(field + "_b"))
        if not pts:
            raise KeyError(f"{key} has no {field} measurement ({r.get('error_b1', 'no error recorded')})")
        return pts

    def at(self, key, b, field):
        """Cost of one call at batch b (ms or FLOPs)."""
        pts = self.points(key, field)
        if len(pts) == 1:
            return pts[0][1] * b / pts[0][0]
        (b0, v0), (b1, v1) = pts[0], pts[-1]
        if b <= b1:
            return v0 + (b - b0) * (v1 - v0) / (b1 - b0)
        return v1 * b / b1

    def per_item(self, key, field):
        b, v = self.points(key, field)[-1]
        return v / b


def calls(p, n):
    """(stage, engine, number of calls, batch) for P people × N frames;
    batch None means per item at the largest measured batch."""
    c = [("segment", "segment/image_encoder", n, 1)]
    for e in ["memory_attention", "mask_decoder", "memory_encoder"]:
        c.append(("segment", f"segment/{e}", n, p))
    c.append(("fov", "fov/moge", min(8, n), 1))
    for e in ["backbone", "decoder"] + [f"decoder_layer{i}" for i in range(1, 6)]:
        c.append(("mesh", f"mesh/{e}", p * n, None))
    c.append(("amodal", "amodal/depth", n, None))
    for unet, label in [("unet", "amodal"), ("unet_completion", "completion")]:
        c += [(label, "amodal/clip_vision", p * n, None), (label, "amodal/vae_encoder", 2 * p * n, None),
              (label, "amodal/vae_decoder", p * n, None), (label, f"amodal/{unet}", STEPS * p * n, None)]
    return c


def predict(cost, p, n, field):
    by = {}
    for stage, key, k, b in calls(p, n):
        v = k * (cost.per_item(key, field) if b is None else cost.at(key, b, field))
        by[stage] = by.get(stage, 0.0) + v
    return by


def fmt(s):
    if s < 120:
        return f"{s:.1f} s"
    m, s = divmod(round(s), 60)
    if m < 120:
        return f"{m}m{s:02d}s"
    return f"{m // 60}h{m % 60:02d}m"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", help="bench.py output (its JSON lines are read)")
    ap.add_argument("--gpu-tflops", type=float, default=989.0,
                    help="GPU dense peak, TFLOP/s (default: H100 SXM BF16/FP16 dense, 989)")
    ap.add_argument("--utilisation", type=float, default=0.3, help="fraction of the peak assumed (default 0.3)")
    a = ap.parse_args()
    cost = Cost(load(a.rows))
    rate = a.gpu_tflops * 1e12 * a.utilisation
    print(f"PREDICTION (not measured): CPU from bench.py's ms per call on this machine; GPU from counted FLOPs "
          f"at {a.utilisation:.0%} of {a.gpu_tflops:g} TFLOP/s.\n")
    print("| scenario | stage | CPU (predicted) | GPU (predicted) | per person-frame, CPU | per person-frame, GPU |")
    print("|---|---|---|---|---|---|")
    for p, n in SCENARIOS:
        try:
            cpu = {k: v / 1e3 for k, v in predict(cost, p, n, "ms").items()}
            gpu = {k: v / rate for k, v in predict(cost, p, n, "flops").items()}
        except KeyError as e:
            sys.exit(f"predict: {e}")
        for stage in cpu:
            print(f"| {p} × {n} | {stage} | {fmt(cpu[stage])} | {fmt(gpu[stage])} | "
                  f"{fmt(cpu[stage] / (p * n))} | {1e3 * gpu[stage] / (p * n):.1f} ms |")
        for label, stages in [("without completion", ["segment", "fov", "mesh"]),
                              ("with completion", ["segment", "fov", "mesh", "amodal", "completion"])]:
            print(f"| {p} × {n} | **total, {label}** | {fmt(sum(cpu[s] for s in stages))} | "
                  f"{fmt(sum(gpu[s] for s in stages))} | | |")
        ref = ", ".join(f"{k} {fmt(v)}" for k, v in REFERENCE[(p, n)].items())
        print(f"| {p} × {n} | reference, H800 (published) | {ref} | | | |")


if __name__ == "__main__":
    main()
