#!/bin/sh
# From checkpoints (or a Hugging Face token) to a checked model directory:
# pre-flight checks, the exporters' venv, every exporter, body4d doctor,
# and with a GPU body4d engines build. See tools/export/setup.py.
#
#   tools/export/setup.sh --checkpoints DIR --out MODELS [--download --token-file F]
set -eu
cd "$(dirname "$0")/../.."
exec "${PYTHON:-python3}" tools/export/setup.py "$@"
