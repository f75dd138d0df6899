#!/usr/bin/env python3
"""Cost table for a model directory (issue #20): per engine its parameters,
ONNX size, FLOPs per call counted from the graph, peak resident memory
during a call and CPU milliseconds per call, as JSON lines and a Markdown
table.

    python tools/bench/realsize/bench.py MODELDIR [--only segment|segment/detector] [--batch segment/mask_decoder=3 ...]

Each engine runs in its own child process (so that ru_maxrss is that
engine's alone): load, one warm-up call, then --repeats timed calls with
zero inputs. Dynamic dimensions take the sizes in DIMS (one person, the
stage's shapes at 1008² / 512²); --batch NAME=B sets the batch dimension.

FLOPs: 2·M·N·K per MatMul/Gemm, 2·out·(Cin/g)·kh·kw per Conv (likewise
ConvTranspose from its input), after ONNX shape inference at the concrete
input shapes; nodes whose shapes inference cannot resolve are counted in
"unresolved" and add nothing, so the figure is a lower bound when that is
not 0. Elementwise, softmax and normalisation work is not counted.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

# Sizes for the dynamic dimensions, by input name and axis; anything else
# dynamic is 1 (the batch). prompt: one frame's 7 memories of 5184 tokens
# plus 16 pointer tokens of 4 × 64 (segment's memory attention at a full
# memory bank). text: the detector's "person" embedding, 3 tokens (start,
# the word, end: segment_concept_person.npy with the padding cut).
DIMS = {
    ("prompt", 0): 7 * 5184 + 64, ("prompt_pos", 0): 7 * 5184 + 64,
    ("point_coords", 1): 2, ("point_labels", 1): 2,
    ("text", 1): 3,
}
DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16}


def shapes(model, batch):
    out = {}
    for i in model.graph.input:
        t = i.type.tensor_type
        dims = []
        for ax, d in enumerate(t.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(d.dim_value)
            elif (i.name, ax) in DIMS:
                dims.append(DIMS[(i.name, ax)])
            else:
                dims.append(batch if ax <= 1 else 1)
        out[i.name] = (dims, t.elem_type)
    return out


def flops(path, ins):
    import onnx
    from onnx import shape_inference
    m = onnx.load(path, load_external_data=False)
    for i in m.graph.input:
        if i.name in ins:
            for d, v in zip(i.type.tensor_type.shape.dim, ins[i.name][0]):
                d.Clear()
                d.dim_value = v
    try:
        m = shape_inference.infer_shapes(m, data_prop=True)
    except Exception as e:  # noqa: BLE001 - report, count nothing
        return 0, -1, f"shape inference failed: {e}"
    shp = {}
    for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        d = v.type.tensor_type.shape.dim
        if d and all(x.HasField("dim_value") for x in d):
            shp[v.name] = [x.dim_value for x in d]
    for t in m.graph.initializer:
        shp[t.name] = list(t.dims)
    total, unresolved = 0, 0

    def walk(g):
        nonlocal total, unresolved
        for n in g.node:
            for a in n.attribute:
                if a.g is not None and a.g.node:
                    walk(a.g)
            if n.op_type not in ("MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"):
                continue
            a = shp.get(n.input[0]) if n.input else None
            b = shp.get(n.input[1]) if len(n.input) > 1 else None
            o = shp.get(n.output[0])
            if a is None or b is None or o is None:
                unresolved += 1
                continue
            if n.op_type == "MatMul":
                total += 2 * int(np.prod(o)) * a[-1]
            elif n.op_type == "Gemm":
                ta = any(x.name == "transA" and x.i for x in n.attribute)
                total += 2 * int(np.prod(o)) * (a[0] if ta else a[-1])
            elif n.op_type == "Conv":
                total += 2 * int(np.prod(o)) * int(np.prod(b[1:]))
            elif n.op_type == "ConvTranspose":
                total += 2 * int(np.prod(a)) * int(np.prod(b[1:]))
            else:
                unresolved += 1
    walk(m.graph)
    params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    return total, unresolved, params


def child(path, batch, repeats, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    import onnx
    ins = shapes(onnx.load(path, load_external_data=False), batch)
    feed = {n: np.zeros(d, DTYPES[t]) for n, (d, t) in ins.items()}
    for n, (d, t) in ins.items():
        if n == "num_obj_ptr_tokens":
            feed[n] = np.array(64, np.int64)
        if n == "num_tokens":
            feed[n] = np.array(1200, np.int64)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sess.run(None, feed)
    ms = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, feed)
        ms.append((time.perf_counter() - t) * 1e3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ms": float(np.median(ms)), "rss_before_kb": rss0, "rss_loaded_kb": loaded, "rss_peak_kb": peak,
                      "inputs": {n: d for n, (d, _) in ins.items()}}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--only", help="stage or STAGE/NAME to measure (default all)")
    ap.add_argument("--batch", action="append", default=[], help="STAGE/NAME=B: also time this engine at batch B")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.repeats, args.threads)
        return
    import yaml
    with open(os.path.join(args.dir, "manifest.yaml")) as f:
        m = yaml.safe_load(f)
    batches = dict(b.split("=") for b in args.batch)
    rows = []
    for e in m["engines"]:
        key = f"{e['stage']}/{e['name']}"
        if args.only and args.only not in (e["stage"], key):
            continue
        path = os.path.join(args.dir, e["file"])
        size = sum(os.path.getsize(os.path.join(args.dir, f)) for f in os.listdir(args.dir)
                   if f == e["file"] or f.startswith(e["file"] + "."))
        row = {"engine": key, "onnx_bytes": size}
        for b in sorted({1, int(batches.get(key, 1))}):
            r = subprocess.run([sys.executable, __file__, args.dir, "--child", path, str(b),
                                "--repeats", str(args.repeats), "--threads", str(args.threads)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                row[f"error_b{b}"] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
                continue
            c = json.loads(r.stdout.strip().splitlines()[-1])
            ins = {n: (d, 1) for n, d in c["inputs"].items()}
            fl, unres, params = flops(path, ins)
            row.update({"params": params, f"flops_b{b}": fl, f"unresolved_b{b}": unres, f"ms_b{b}": round(c["ms"], 1),
                        f"peak_rss_mb_b{b}": c["rss_peak_kb"] // 1024, f"loaded_rss_mb_b{b}": c["rss_loaded_kb"] // 1024,
                        f"inputs_b{b}": c["inputs"]})
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| engine | params | ONNX | GFLOP/call (b1) | peak RSS (b1) | CPU ms (b1) | batch | CPU ms (batch) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        b = max(int(k[len("ms_b"):]) for k in r if k.startswith("ms_b")) if any(k.startswith("ms_b") for k in r) else 1
        print(f"| {r['engine']} | {r.get('params', 0) / 1e6:.1f} M | {r['onnx_bytes'] / 2**20:.0f} MiB | "
              f"{r.get('flops_b1', 0) / 1e9:.1f}{'*' if r.get('unresolved_b1') else ''} | {r.get('peak_rss_mb_b1', '?')} MiB | "
              f"{r.get('ms_b1', r.get('error_b1', '?'))} | {b} | {r.get(f'ms_b{b}', '?')} |")


if __name__ == "__main__":
    main()
