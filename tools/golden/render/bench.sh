#!/usr/bin/env bash
# Side-by-side benchmark of body4d's CPU mesh renderer (render package) and
# pyrender offscreen on OSMesa, the reference's renderer, on the same scene
# (see bench.py): 1280x720 with one person and 1920x1080 with five people,
# each person 18,439 vertices / 36,874 faces. Prints frames/s and ratios.
#
# Needs: Go; a Python venv with requirements-render.txt; Debian libosmesa6.
#   python3 -m venv .venv/render
#   .venv/render/bin/pip install --no-deps -r tools/golden/render/requirements-render.txt
#   apt-get install -y libosmesa6
# Usage: tools/golden/render/bench.sh [python] [frames]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
py="${1:-${PYTHON:-.venv/render/bin/python}}"
frames="${2:-10}"
export PYOPENGL_PLATFORM=osmesa

gobench() { # name -> frames/s
	(cd "$root" && go test -run '^$' -bench "^$1\$" -benchtime "${frames}x" ./render) |
		awk '/frames\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "frames/s") print $i }'
}

printf '%-22s %10s %14s %12s %10s %10s\n' scene "go fps" "pyrender ref" "pyrender re" "x ref" "x reuse"
for cfg in "720p1Person 1280 720 1" "1080p5People 1920 1080 5"; do
	set -- $cfg
	g="$(gobench "BenchmarkRender$1")"
	read -r pref preuse < <("$py" "$here/bench.py" "$2" "$3" "$4" "$frames" | awk '/^RESULT/ { print $2, $3 }')
	awk -v n="$1" -v g="$g" -v a="$pref" -v b="$preuse" 'BEGIN {
		printf "%-22s %10.2f %14.2f %12.2f %9.1fx %9.1fx\n", n, g, a, b, g / a, g / b }'
done
echo "go: $(go version | cut -d' ' -f3), GOMAXPROCS=$(nproc); pyrender: OSMesa (llvmpipe), 4x MSAA RGBA path"
echo "pyrender ref = new OffscreenRenderer + scene per frame, as SAM-Body4D's renderer.py; re = one renderer and scene reused"
