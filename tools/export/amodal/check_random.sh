#!/bin/sh
# Checks tools/export/amodal/export.py and export_depth.py on small
# random-weight networks built from the real classes (see check_random.py).
# Needs a Python with tools/export/amodal/requirements.txt and
# requirements-depth.txt (PYTHON, default python3), Go (for the contract and
# body4d doctor), and checkouts of github.com/Kaihua-Chen/diffusion-vas and
# github.com/DepthAnything/Depth-Anything-V2:
#
#   DVAS_SRC=/path/to/diffusion-vas DAV2_SRC=/path/to/Depth-Anything-V2 \
#       tools/export/amodal/check_random.sh
set -eu
: "${DVAS_SRC:?set DVAS_SRC to a checkout of github.com/Kaihua-Chen/diffusion-vas}"
: "${DAV2_SRC:?set DAV2_SRC to a checkout of github.com/DepthAnything/Depth-Anything-V2}"
cd "$(dirname "$0")/../../.."
exec "${PYTHON:-python3}" tools/export/amodal/check_random.py --doctor "$@"
