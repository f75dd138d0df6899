#!/bin/sh
# Checks tools/export/mesh/export.py on a small random-weight SAM-3D-Body
# built from the reference classes (see check_random.py). Needs a Python
# with the reference's dependencies (tools/golden/mesh/requirements.txt),
# onnx, onnxruntime, pyyaml and termcolor (PYTHON, default python3), Go
# (for the contracts and body4d doctor), a checkout of
# github.com/facebookresearch/sam-3d-body and one of
# github.com/facebookresearch/dinov3 (the reference builds its backbone
# through torch.hub from GitHub; export.py serves that call from
# DINOV3_SRC):
#
#   SAM3DB_SRC=/path/to/sam-3d-body DINOV3_SRC=/path/to/dinov3 \
#       tools/export/mesh/check_random.sh
set -eu
: "${SAM3DB_SRC:?set SAM3DB_SRC to a checkout of github.com/facebookresearch/sam-3d-body}"
: "${DINOV3_SRC:?set DINOV3_SRC to a checkout of github.com/facebookresearch/dinov3}"
cd "$(dirname "$0")/../../.."
exec "${PYTHON:-python3}" tools/export/mesh/check_random.py --doctor "$@"
