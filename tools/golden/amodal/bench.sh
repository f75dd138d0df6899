#!/usr/bin/env bash
# Side by side, in one run: SAM-Body4D's amodal stage as the reference
# runs it (bench.py: DiffusionVASPipeline's loop with diffusers'
# EulerDiscreteScheduler, app.py's scoring and completion; networks on
# onnxruntime) and the Go stage (amodal/refbench_test.go), on the same
# tiny engines, the sample clip (sample/clip) and its true masks. The
# Go side replays the reference's noise and fails unless its hand-off
# matches (same spans and visibility, masks IoU ≥ 0.999, completed
# frames within 1). Prints both wall times and the ratio (goal ≤ 0.5).
#
# Needs ffmpeg and the venv of requirements-bench.txt:
#   python3 -m venv .venv/amodalbench
#   .venv/amodalbench/bin/pip install -r tools/golden/amodal/requirements-bench.txt
#   PY=.venv/amodalbench/bin/python tools/golden/amodal/bench.sh
# Settings (environment): STEPS (25), WINDOW (64), HEIGHT×WIDTH (512×1024,
# the reference's), FRAMES (0: all 90), THREADS (ONNX Runtime intra-op
# threads on both sides; 0: its default). OUT=dir keeps the reference's
# outputs there; with GO_ONLY=1 the reference is not re-run and the Go
# side is measured against the earlier reference time in OUT.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/amodalbench/bin/python}
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
export STEPS=${STEPS:-25} WINDOW=${WINDOW:-64} HEIGHT=${HEIGHT:-512} WIDTH=${WIDTH:-1024} FRAMES=${FRAMES:-0} THREADS=${THREADS:-0}
if [ -n "${OUT:-}" ]; then
	out=$OUT
	mkdir -p "$out"
else
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
go test -c -o "$out/amodal.test" ./amodal # build before the clock matters
if [ "${GO_ONLY:-0}" != 1 ]; then
	"$PY" tools/golden/amodal/bench.py "$out"
fi
(cd amodal && BODY4D_AMODAL_REF="$out" "$out/amodal.test" -test.run '^TestReferenceBench$' -test.count 1 -test.v) |
	grep -v -e '^=== RUN' -e '^PASS$'
