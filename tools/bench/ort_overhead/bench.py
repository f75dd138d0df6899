#!/usr/bin/env python3
"""Times one call of a tiny model with Python onnxruntime and compares it
with the Go engine's BenchmarkRun output (see run.sh, which runs both).

The Python side mirrors engine/ort's BenchmarkRun: the same model file,
the same zero input of shape [1, 16], the same intra-op thread count,
sess.run returning every output. The per-call time is the median over
--count repeats of --n calls each, like the Go side's median over -count.
"""

import argparse
import re
import statistics
import sys
import time

import numpy as np


def go_ns_per_op(path):
    """Median ns/op of the BenchmarkRun lines in a `go test -bench` output."""
    times, version = [], "?"
    with open(path) as f:
        for line in f:
            v = re.search(r"ONNX Runtime (\S+) \(", line)
            if v:
                version = v.group(1)
            m = re.match(r"^BenchmarkRun(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
            if m:
                times.append(float(m.group(1)))
    if not times:
        sys.exit(f"bench.py: no BenchmarkRun result in {path}")
    return statistics.median(times), len(times), version


def python_ns_per_call(model, threads, n, count):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feed = {"x": np.zeros((1, 16), np.float32)}
    for _ in range(1000):  # warm up
        sess.run(None, feed)
    times = []
    for _ in range(count):
        start = time.perf_counter_ns()
        for _ in range(n):
            sess.run(None, feed)
        times.append((time.perf_counter_ns() - start) / n)
    return statistics.median(times), ort.__version__


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--go-bench", required=True, help="output of go test -bench BenchmarkRun")
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=20000, help="calls per repeat")
    p.add_argument("--count", type=int, default=5, help="repeats")
    a = p.parse_args()

    go_ns, go_runs, go_version = go_ns_per_op(a.go_bench)
    py_ns, py_version = python_ns_per_call(a.model, a.threads, a.n, a.count)
    print(f"model {a.model}, input float32 [1,16], intra-op threads {a.threads}")
    print(f"Go  engine/ort Run   : {go_ns / 1000:8.2f} us/call  (median of {go_runs}, ONNX Runtime {go_version})")
    print(f"Python session.run   : {py_ns / 1000:8.2f} us/call  (median of {a.count} x {a.n}, onnxruntime {py_version})")
    print(f"ratio Go / Python    : {go_ns / py_ns:8.2f}")


if __name__ == "__main__":
    main()
