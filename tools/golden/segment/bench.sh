#!/usr/bin/env bash
# Side by side: the reference sam3 tracker (Python, torch CPU) and the Go
# tracker on the same shrunk networks (the parity test's), the same 6
# frames and clicks, in one run. Needs the venv of requirements.txt:
#   PY=/path/to/venv/bin/python tools/golden/segment/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-python3}
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
# tee -a: a plain tee reopens stderr truncating it, which garbles the log
# when stderr is a file (bench.sh >log 2>&1).
ref=$("$PY" tools/golden/segment/bench_reference.py | tee -a /dev/stderr | sed -n 's/.*: \([0-9]*\) ms\/clip.*/\1/p')
gobench=$(go test -run '^$' -bench '^BenchmarkParityClip$' -benchtime 5x ./segment | tee -a /dev/stderr)
# Both sides' best clip after a warm-up (the reference prints the best of
# 3; the Go benchmark the best of 5 as best-ms/clip, the mean as ms/clip):
# on a shared machine the best is the least disturbed by other load.
field() { awk -v f="$1" '/BenchmarkParityClip/ {for (i = 1; i <= NF; i++) if ($(i+1) == f) print $i}'; }
go_ms=$(field best-ms/clip <<<"$gobench")
go_mean=$(field ms/clip <<<"$gobench")
echo "reference ${ref} ms/clip, Go ${go_ms} ms/clip (best; mean ${go_mean}): Go is $(awk -v r="$ref" -v g="$go_ms" 'BEGIN {printf "%.2f", r / g}')x faster"
