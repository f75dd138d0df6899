#!/usr/bin/env bash
# Side by side: the reference MHR forward (mhr package on pymomentum, torch
# CPU) and mesh/mhr's Go Forward, on the same random character of MHR
# LOD1's sizes and the same batch of 64, with and without pose correctives.
# The Go side also checks its vertices against the reference's (≤ 1e-4).
#
#   PY=/path/to/venv/bin/python tools/export/mhr/bench.sh [REPS] [MHR_ASSETS]
#
# With MHR_ASSETS (MHR's release assets, or mhr/standin.py's stand-in) the
# character is that folder's, loaded by mhr and converted by convert.py.
#
# The venv needs requirements-mhr.txt (Python 3.12 or 3.13: pymomentum-cpu has
# no 3.11 wheel). The character (~700 MB on disk) goes to a temporary folder
# that is removed afterwards.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/../../.."
PY=${PY:-python3}
REPS=${1:-3}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

"$PY" tools/export/mhr/bench.py "$DIR" "$REPS" ${2:+"$2"} | tee "$DIR/py.txt"
MHR_BENCH_DIR="$DIR" go test -run '^$' -bench 'ForwardAssets' -benchtime "${REPS}x" ./mesh/mhr/ | tee "$DIR/go.txt"

for mode in off on; do
	py=$(sed -n "s/^torch correctives=$mode ms_per_batch=\([0-9.]*\).*/\1/p" "$DIR/py.txt")
	go=$(awk -v m="correctives=$mode" '$1 ~ m {print $3/1e6}' "$DIR/go.txt")
	awk -v m="$mode" -v p="$py" -v g="$go" \
		'BEGIN {printf "correctives=%s: torch %.1f ms, Go %.1f ms per batch of 64; Go is %.2fx faster\n", m, p, g, p/g}'
done
