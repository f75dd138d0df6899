#!/usr/bin/env bash
# Side by side: the reference sam3 tracker (Python, torch CPU) and the Go
# tracker on the same shrunk networks (the parity test's), the same 6
# frames and clicks, in one run. Needs the venv of requirements.txt:
#   PY=/path/to/venv/bin/python tools/golden/segment/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-python3}
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
ref=$("$PY" tools/golden/segment/bench_reference.py | tee /dev/stderr | sed -n 's/.*: \([0-9]*\) ms\/clip.*/\1/p')
go_ms=$(go test -run '^$' -bench '^BenchmarkParityClip$' -benchtime 5x ./segment | tee /dev/stderr |
	awk '/BenchmarkParityClip/ {for (i = 1; i <= NF; i++) if ($(i+1) == "ms/clip") print $i}')
echo "reference ${ref} ms/clip, Go ${go_ms} ms/clip: Go is $(awk -v r="$ref" -v g="$go_ms" 'BEGIN {printf "%.2f", r / g}')x faster"
