"""Python side of bench.sh: time the reference MHR forward (torch CPU) on a
random character with MHR LOD1's sizes, for a batch of 64.

    python tools/export/mhr/bench.py OUT_DIR [REPS]

Writes the character in body4d's asset format to OUT_DIR/assets, the batch
(bench_identity/model/expr.npy) and the reference vertices for it
(bench_verts.npy, bench_verts_nc.npy) to OUT_DIR, and prints one line per
mode: "torch correctives=on|off ms_per_batch=...". The Go side
(BenchmarkForwardAssets) reads the same files.
"""

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assetfmt import write_assets  # noqa: E402
from make_tiny import LOD1, NEXPR, NID, NKP, NP, SCALE0, random_character, reference_model  # noqa: E402

BATCH = 64


def random_batch(rng):
    """Moderate random parameters, as the Go benchmark draws them."""
    ident = rng.normal(0, 1, (BATCH, NID))
    model = rng.normal(0, 0.3, (BATCH, NP))
    model[:, SCALE0:] = rng.normal(0, 0.1, (BATCH, NP - SCALE0))
    expr = rng.normal(0, 0.5, (BATCH, NEXPR))
    return [torch.from_numpy(x.astype(np.float32)) for x in (ident, model, expr)]


def main():
    out = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rng = np.random.default_rng(7)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    a = random_character(rng, LOD1)
    model = reference_model(a)
    a["inverse_bind_pose"] = model.character_torch.linear_blend_skinning.inverse_bind_pose.double().numpy()
    write_assets(os.path.join(out, "assets"), {k: v for k, v in a.items() if not k.startswith("_")}, NKP)
    del a
    print(f"# built and wrote LOD1-sized character in {time.perf_counter() - t0:.1f}s, "
          f"torch threads {torch.get_num_threads()}", flush=True)

    ident, params, expr = random_batch(rng)
    for name, x in (("identity", ident), ("model", params), ("expr", expr)):
        np.save(os.path.join(out, f"bench_{name}.npy"), x.numpy())
    with torch.no_grad():
        for corr in (True, False):
            verts, _ = model(ident, params, expr, apply_correctives=corr)  # warm-up, and the reference
            np.save(os.path.join(out, "bench_verts.npy" if corr else "bench_verts_nc.npy"), verts.numpy())
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                model(ident, params, expr, apply_correctives=corr)
                times.append(time.perf_counter() - t)
            print(f"torch correctives={'on' if corr else 'off'} ms_per_batch={1000 * min(times):.1f}", flush=True)


if __name__ == "__main__":
    main()
