#!/bin/sh
# Checks tools/export/fov/export.py on a small random-weight MoGe-2 (see
# check_random.py). Needs a Python with tools/export/fov/requirements.txt
# (PYTHON, default python3), Go (for the contract and body4d doctor) and a
# checkout of github.com/microsoft/MoGe:
#
#   MOGE_SRC=/path/to/MoGe tools/export/fov/check_random.sh
set -eu
: "${MOGE_SRC:?set MOGE_SRC to a checkout of github.com/microsoft/MoGe}"
cd "$(dirname "$0")/../../.."
exec "${PYTHON:-python3}" tools/export/fov/check_random.py --doctor "$@"
