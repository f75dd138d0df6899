#!/usr/bin/env python3
"""Cost table for a model directory (issue #20): per engine its parameters,
ONNX size, FLOPs per call counted from the graph, peak resident memory
during a call and CPU milliseconds per call, as JSON lines and a Markdown
table.

    python tools/bench/realsize/bench.py MODELDIR [--only segment|segment/detector] [--batch segment/mask_decoder=3 ...]

Each engine runs in its own child process (so that its peak resident
memory, VmHWM, is that engine's alone): load, one warm-up call, then
--repeats timed calls with zero inputs. Dynamic dimensions take the sizes
in DIMS (the stages' shapes at their defaults); --batch NAME=B sets the
batch dimension.

FLOPs per call are counted from onnxruntime's profile of one batch-1 call
in a separate process with graph optimisations off (so that every profiled
node is a node of the file): every node as executed, inside control flow
too, at its concrete shapes; 2·(output size)·K per MatMul/Gemm,
2·(output size)·(weights per output channel) per Conv (ConvTranspose from
its input), Einsum from its equation. Elementwise, softmax and
normalisation work is not counted; a node whose shapes the profile lacks
adds nothing and is counted in flops_missing_nodes (* in the table: a lower
bound). (A static count from ONNX shape inference was tried first: it left
hundreds of nodes of the ViTs and UNets unresolved, and on SAM-3's
detector it needed over 24 GB.) FLOPs at batch B are
B times the batch-1 count: every engine here is linear in its batch (the
UNets' batch is F, the window's frames, whose temporal attention adds about
1% at F = 64).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

# Sizes for the dynamic dimensions, by engine (STAGE/NAME, or STAGE/* for
# every engine of the stage), input name and axis; an int, or a function
# of the batch. Anything else dynamic is the batch on axes 0-1 and 1
# after. The sizes are the stages' own at their defaults:
#   segment  prompt: one frame's 7 memories of 5184 tokens plus 16 pointer
#            tokens of 4 × 64 (memory attention at a full memory bank);
#            text: the "person" embedding's 3 tokens (start, word, end).
#   fov      MoGe at its 3600-token default on a 16:9 frame: a 45 × 80
#            token grid, 630 × 1120 pixels.
#   amodal   depth at 518 × 1036 (512 × 1024 scaled to the 518 lower bound);
#            the VAE encoder at 512 × 1024 (detection_resolution); the UNets
#            on 64 × 128 latents with the batch as F, the frames of a
#            window (encoder_hidden_states is 2F: [uncond; cond] per frame);
#            the VAE decoder on 64 × 128 latents, the batch as F.
#   mesh     prompt N = 1 (the dummy prompt of the first pass), so the
#            decoder layers see T = 2 + N + 2 + 2·70 = 145 tokens.
DIMS = {
    ("segment/*", "prompt", 0): 7 * 5184 + 64, ("segment/*", "prompt_pos", 0): 7 * 5184 + 64,
    ("segment/*", "point_coords", 1): 2, ("segment/*", "point_labels", 1): 2,
    ("segment/*", "text", 1): 3,
    ("fov/moge", "image", 2): 630, ("fov/moge", "image", 3): 1120,
    ("amodal/depth", "image", 2): 518, ("amodal/depth", "image", 3): 1036,
    ("amodal/vae_encoder", "sample", 2): 512, ("amodal/vae_encoder", "sample", 3): 1024,
    ("amodal/unet", "sample", 3): 64, ("amodal/unet", "sample", 4): 128,
    ("amodal/unet", "encoder_hidden_states", 0): lambda b: 2 * b,
    ("amodal/unet_completion", "sample", 3): 64, ("amodal/unet_completion", "sample", 4): 128,
    ("amodal/unet_completion", "encoder_hidden_states", 0): lambda b: 2 * b,
    ("amodal/vae_decoder", "latent", 2): 64, ("amodal/vae_decoder", "latent", 3): 128,
    ("mesh/*", "prompt", 1): 1,
    ("mesh/*", "prev_tokens", 1): 145, ("mesh/*", "prev_augment", 1): 145,
}
DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16}


def dim(engine, name, ax, batch):
    for key in (engine, engine.split("/")[0] + "/*"):
        if (key, name, ax) in DIMS:
            v = DIMS[(key, name, ax)]
            return v(batch) if callable(v) else v
    return batch if ax <= 1 else 1


def shapes(model, engine, batch):
    out = {}
    for i in model.graph.input:
        t = i.type.tensor_type
        dims = []
        for ax, d in enumerate(t.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(d.dim_value)
            else:
                dims.append(dim(engine, i.name, ax, batch))
        out[i.name] = (dims, t.elem_type)
    return out


def hwm_kb():
    """This process's peak resident memory in KiB: VmHWM, which starts
    afresh at exec. (ru_maxrss does not: Linux carries the larger of the
    parent's peak into an exec'd child, so a small engine measured after a
    large one would report the large one's.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def node_flops(op, ins, out):
    """FLOPs of one node from the concrete shapes of all its inputs and its
    output: 2·(output size)·K per matrix product, K recovered from whichever
    operand is not broadcast (so transposed operands need no attributes);
    2·(output size)·(weights per output channel) per convolution
    (ConvTranspose from its input). Others count 0."""
    if op in ("MatMul", "Gemm") and len(ins) >= 2 and out:
        n_out = int(np.prod(out))
        if n_out == 0:
            return 0
        a, b = ins[0], ins[1]
        k = max(int(np.prod(a)) * out[-1], int(np.prod(b)) * (out[-2] if len(out) > 1 else 1)) // n_out
        return 2 * n_out * k
    if op == "Conv" and len(ins) >= 2:
        return 2 * int(np.prod(out)) * int(np.prod(ins[1][1:]))
    if op == "ConvTranspose" and len(ins) >= 2:
        return 2 * int(np.prod(ins[0])) * int(np.prod(ins[1][1:]))
    return 0


def graph_nodes(g, nodes=None, init=None):
    """Every node of g and its subgraphs by name, and every initializer's dims."""
    nodes = {} if nodes is None else nodes
    init = {} if init is None else init
    for t in g.initializer:
        init[t.name] = list(t.dims)
    for n in g.node:
        nodes[n.name] = n
        for a in n.attribute:
            if a.g is not None and a.g.node:
                graph_nodes(a.g, nodes, init)
    return nodes, init


def profiled_flops(path, feed, threads):
    """FLOPs of one call counted from onnxruntime's profile of it, with
    graph optimisations off so that every profiled node is a node of the
    ONNX file: the activations' shapes as executed (inside control flow
    too) from the profile, the weights' from the file's initializers."""
    import tempfile
    import onnx
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    tmp = tempfile.mkdtemp(prefix="bench-profile-")
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tmp, "p")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    sess.run(None, feed)
    profile = sess.end_profiling()
    del sess
    with open(profile) as f:
        events = json.load(f)
    os.remove(profile)
    os.rmdir(tmp)
    nodes, init = graph_nodes(onnx.load(path, load_external_data=False).graph)
    total, missing = 0, 0
    for e in events:
        a = e.get("args", {})
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        n = nodes.get(name[:-len("_kernel_time")])
        if n is None or n.op_type not in ("MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"):
            continue
        acts = iter([list(d.values())[0] for d in a.get("input_type_shape", [])])
        ins = [init[x] if x in init else next(acts, None) for x in n.input if x]
        out = [list(d.values())[0] for d in a.get("output_type_shape", [])]
        if any(x is None for x in ins) or not out:
            missing += 1
            continue
        if n.op_type == "Einsum":
            eq = next(x.s.decode() for x in n.attribute if x.name == "equation").replace(" ", "")
            size = {}
            for term, sh in zip(eq.split("->")[0].split(","), ins):
                size.update(zip(term, sh))
            total += 2 * int(np.prod(list(size.values())))
            continue
        total += node_flops(n.op_type, ins, out[0])
    return total, missing


def child(path, engine, batch, repeats, threads, count_only=False):
    import onnx
    import onnxruntime as ort
    graph = onnx.load(path, load_external_data=False)
    ins = shapes(graph, engine, batch)
    feed = {n: np.zeros(d, DTYPES[t]) for n, (d, t) in ins.items()}
    for n, (d, t) in ins.items():
        if n == "num_obj_ptr_tokens":
            feed[n] = np.array(64, np.int64)
        if n == "num_tokens":  # the grid is the image's (fov/export.py)
            h, w = ins["image"][0][2:]
            feed[n] = np.array(h * w // 196, np.int64)
    if count_only:
        fl, missing = profiled_flops(path, feed, threads)
        print(json.dumps({"flops": fl, "missing": missing}))
        return
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    rss0 = hwm_kb()
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    loaded = hwm_kb()
    sess.run(None, feed)
    ms = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, feed)
        ms.append((time.perf_counter() - t) * 1e3)
    peak = hwm_kb()
    params = sum(int(np.prod(t.dims)) for t in graph.graph.initializer)
    print(json.dumps({"params": params, "ms": float(np.median(ms)), "rss_before_kb": rss0, "rss_loaded_kb": loaded, "rss_peak_kb": peak,
                      "inputs": {n: d for n, (d, _) in ins.items()}}))


def table(rows):
    print("\n| engine | params | ONNX | GFLOP/call (b1) | peak RSS (b1) | CPU ms (b1) | batch | CPU ms (batch) | peak RSS (batch) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b = max((int(k[len("ms_b"):]) for k in r if k.startswith("ms_b")), default=1)
        print(f"| {r['engine']} | {r.get('params', 0) / 1e6:.1f} M | {r['onnx_bytes'] / 2**20:.0f} MiB | "
              f"{r.get('flops_b1', 0) / 1e9:.1f}{'*' if r.get('flops_missing_nodes') else ''} | {r.get('peak_rss_mb_b1', '?')} MiB | "
              f"{r.get('ms_b1', r.get('error_b1', '?'))} | {b} | {r.get(f'ms_b{b}', r.get(f'error_b{b}', '?'))} | "
              f"{r.get(f'peak_rss_mb_b{b}', '?')} MiB |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--only", help="stage or STAGE/NAME to measure (default all)")
    ap.add_argument("--batch", action="append", default=[], help="STAGE/NAME=B: also time this engine at batch B")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=float, help="seconds one engine at one batch may take (load, warm-up and calls)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--count-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.repeats, args.threads, args.count_child)
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
            for count_only in (False, True) if b == 1 else (False,):
                cmd = [sys.executable, __file__, args.dir, "--child", path, key, str(b), "--repeats", str(args.repeats),
                       "--threads", str(args.threads)] + (["--count-child"] if count_only else [])
                try:
                    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    row[f"error_b{b}"] = f"not finished within --timeout {args.timeout:g} s"
                    break
                if r.returncode != 0:
                    row[f"error_b{b}"] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
                    break
                c = json.loads(r.stdout.strip().splitlines()[-1])
                if count_only:
                    row.update({"flops_b1": c["flops"], "flops_missing_nodes": c["missing"]})
                    continue
                row["params"] = c["params"]
                row.update({f"ms_b{b}": round(c["ms"], 1), f"peak_rss_mb_b{b}": c["rss_peak_kb"] // 1024,
                            f"loaded_rss_mb_b{b}": c["rss_loaded_kb"] // 1024, f"inputs_b{b}": c["inputs"]})
        if "flops_b1" in row:  # every engine here is linear in its batch
            for k in [k for k in row if k.startswith("ms_b")]:
                row[f"flops_b{k[len('ms_b'):]}"] = row["flops_b1"] * int(k[len("ms_b"):])
        print(json.dumps(row), flush=True)
        rows.append(row)
    table(rows)


if __name__ == "__main__":
    main()
