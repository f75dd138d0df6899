#!/usr/bin/env bash
# Engine call overhead, Go vs Python: times the same tiny model
# (engine/ort/testdata/add16.onnx, y = x + c on a [1,16] float32) through
# body4d's engine/ort (go test -bench BenchmarkRun) and through Python
# onnxruntime, with the same input and intra-op threads, and prints both
# per-call times and their ratio.
#
#   tools/bench/ort_overhead/run.sh
#
# Environment: PYTHON (an interpreter with requirements-bench.txt
# installed; default python3), THREADS (intra-op threads, default 1),
# N (calls per repeat, default 20000), COUNT (repeats, default 5).
set -euo pipefail
cd "$(dirname "$0")/../../.."

PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-1}
N=${N:-20000}
COUNT=${COUNT:-5}
here=tools/bench/ort_overhead

if ! "$PYTHON" -c 'import numpy, onnxruntime' 2>/dev/null; then
	echo "run.sh: $PYTHON lacks numpy/onnxruntime; install them with" >&2
	echo "  python3 -m venv /tmp/ortbench && /tmp/ortbench/bin/pip install -r $here/requirements-bench.txt" >&2
	echo "and run with PYTHON=/tmp/ortbench/bin/python" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
BODY4D_BENCH_THREADS=$THREADS go test -run '^$' -bench '^BenchmarkRun$' \
	-benchtime "${N}x" -count "$COUNT" ./engine/ort | tee "$tmp/go.txt" >&2
"$PYTHON" "$here/bench.py" --go-bench "$tmp/go.txt" --model engine/ort/testdata/add16.onnx \
	--threads "$THREADS" --n "$N" --count "$COUNT"
