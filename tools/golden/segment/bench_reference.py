#!/usr/bin/env python3
"""Times the reference sam3 tracker (the shrunk random-weight model of
make_parity.py, whose ONNX export is testdata/segment/parity) on the 6
parity frames with two people clicked on frame 0: add the clicks, then
propagate forward and backward, masks to numpy. Prints ms per clip, the
best of several runs after a warm-up. bench.sh runs it next to the Go
tracker's BenchmarkParityClip on the same networks and frames.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_parity as mp  # noqa: E402


def main():
    torch.set_grad_enabled(False)
    torch.set_num_threads(os.cpu_count() or 1)
    t = mp.build()
    prompts = [[0, 1, [[90, 175, 1]]], [0, 2, [[520, 172, 1]]]]
    runs = []
    for i in range(4):
        t0 = time.perf_counter()
        mp.run_case(t, "bench", 6, prompts, [])
        runs.append(time.perf_counter() - t0)
    print(f"reference sam3 tracker: {1000 * min(runs[1:]):.0f} ms/clip (runs: {', '.join(f'{1000 * r:.0f}' for r in runs)})")


if __name__ == "__main__":
    main()
