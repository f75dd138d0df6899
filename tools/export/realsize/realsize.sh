#!/bin/sh
# Real-size dry run models (issue #20): every network at its real
# configuration with random weights, in one model directory with a
# manifest. Timing and memory depend on the architecture, not on the
# weight values; the outputs mean nothing.
#
#   PYTHON=/path/to/venv/bin/python tools/export/realsize/realsize.sh OUTDIR
#
# PYTHON needs PyPI sam3 (0.1.4), torch, onnx, onnxruntime, pyyaml.
# Disk: about 3.9 GB (the SAM-3 image encoder 1.85 GB and detector
# 1.95 GB, tracker engines 45 MB, the tiny directory); peak memory 13.2 GB,
# 2.5 min on 2 otherwise idle cores (10 min beside a CI run).
#
# Built at real size so far: SAM-3's image encoder, tracker (memory
# attention, mask decoder, memory encoder), concept detector and "person"
# embedding. Every other stage's networks stay the tiny ones from
# sample/models/tiny (README, "Real-size dry run").
set -eu
out=${1:?usage: realsize.sh OUTDIR}
py=${PYTHON:-python3}
cd "$(dirname "$0")/../../.."
mkdir -p "$out"
# Start from the tiny directory so that every stage has engines; each
# real-size export replaces its stage's entries in the manifest.
for f in sample/models/tiny/*; do
	[ -f "$f" ] && cp "$f" "$out/"
done
sed -i 's/^name: tiny$/name: realsize/' "$out/manifest.yaml"
nice -n 19 "$py" tools/export/realsize/segment.py --out "$out" --no-check
go run ./cmd/body4d doctor "$out"
