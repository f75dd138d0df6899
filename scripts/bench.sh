#!/usr/bin/env bash
# Go benchmarks of every package that has them (short runs: these machines
# are noisy, compare ratios rather than absolute times). The side-by-side
# comparisons with the Python reference need a Python environment and are
# separate scripts, listed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-5x}" -benchmem \
	./engine/... ./video/... ./smooth/ ./render/ ./fov/ ./mesh/... ./kernels/ 2>&1 | grep -Ev '^(goos|goarch|pkg|cpu):'
cat <<'EON'

Side-by-side with the Python reference (each script says what it needs):
  tools/bench/ort_overhead/run.sh      engine call overhead, Go vs Python onnxruntime
  tools/golden/smooth/bench.sh         Kalman/RTS, Go vs filterpy
  tools/golden/render/bench.sh         rasterizer, Go vs pyrender (OSMesa)
EON
