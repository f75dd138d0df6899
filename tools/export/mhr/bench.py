"""Python side of bench.sh: time the reference MHR forward (torch CPU) on a
random character with MHR LOD1's sizes, for a batch of 64.

    python tools/export/mhr/bench.py OUT_DIR [REPS] [MHR_ASSETS]

Writes the character in body4d's asset format to OUT_DIR/assets, the batch
(bench_identity/model/expr.npy) and the reference vertices for it
(bench_verts.npy, bench_verts_nc.npy) to OUT_DIR, and prints one line per
mode: "torch correctives=on|off ms_per_batch=...". The Go side
(BenchmarkForwardAssets) reads the same files.

With MHR_ASSETS (a folder of MHR's release assets, or mhr/standin.py's
stand-in), the character is that folder's instead: the reference is
MHR.from_files on it and OUT_DIR/assets is what convert.py writes from it,
so the Go side's check is also a check of the converter.
"""

import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onestdcxx  # noqa: E402

onestdcxx.ensure()  # before torch and pymomentum are loaded

import numpy as np  # noqa: E402
import torch  # noqa: E402

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
    if len(sys.argv) > 3:
        from mhr.mhr import MHR
        assets = sys.argv[3]
        model = MHR.from_files(folder=pathlib.Path(assets), device=torch.device("cpu"), lod=1)
        subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "convert.py"),
                        assets, os.path.join(out, "assets")], check=True)
        what = f"loaded {assets} with MHR.from_files and converted it with convert.py"
    else:
        a = random_character(rng, LOD1)
        model = reference_model(a)
        a["inverse_bind_pose"] = model.character_torch.linear_blend_skinning.inverse_bind_pose.double().numpy()
        write_assets(os.path.join(out, "assets"), {k: v for k, v in a.items() if not k.startswith("_")}, NKP)
        del a
        what = "built and wrote LOD1-sized character"
    print(f"# {what} in {time.perf_counter() - t0:.1f}s, torch threads {torch.get_num_threads()}", flush=True)

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
