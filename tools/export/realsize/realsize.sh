#!/bin/sh
# Real-size dry run models (issue #20): every network at its real
# configuration with random weights, in one model directory with a
# manifest. Timing and memory depend on the architecture, not on the
# weight values; the outputs mean nothing.
#
#   PYTHON=/path/to/venv/bin/python tools/export/realsize/realsize.sh OUTDIR
#
# PYTHON needs PyPI sam3 (0.1.4), torch, onnx, onnxruntime, pyyaml.
# Disk: about 4 GB (the SAM-3 tracker engines at fp32: image encoder
# ~1.8 GB); peak memory about 8 GB while exporting the image encoder.
#
# Built at real size so far: the SAM-3 tracker engines (1008²). The other
# stages' engines are the tiny ones from sample/models/tiny (see the
# README's "Real-size dry run" section for what is not built and why).
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
