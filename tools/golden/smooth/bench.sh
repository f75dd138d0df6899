#!/usr/bin/env bash
# Kalman + RTS over 5 people × 1,000 frames × 204 parameters: Go
# (smooth.BenchmarkKalman5x1000x204) against filterpy (bench_filterpy.py).
#   PYTHON=/path/to/venv/bin/python tools/golden/smooth/bench.sh
# The venv needs requirements-smooth.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
python=${PYTHON:-python3}

go_ns=$(cd "$root" && go test -run '^$' -bench 'BenchmarkKalman5x1000x204$' -benchtime 20x ./smooth/ |
	awk '/^BenchmarkKalman5x1000x204/ {print $3}')
py_s=$("$python" "$here/bench_filterpy.py" 5 1000 204)
awk -v g="$go_ns" -v p="$py_s" 'BEGIN {
	printf "Go (smooth.KalmanRTS):            %10.3f ms\n", g / 1e6
	printf "filterpy (KalmanFilter + RTS):    %10.3f ms\n", p * 1e3
	printf "speed-up:                         %10.0fx\n", p * 1e9 / g
}'
