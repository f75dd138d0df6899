#!/usr/bin/env bash
# Prints the TensorRT include directory of version $1 (v10.16 or v11.1):
# $TRT_INCLUDE if set, else third_party/tensorrt/$1/include in the shared
# folder beside the repository (CI: <root>/shared beside the clone
# <root>/main; a git worktree: beside the main checkout). Fails, naming
# every place it looked, when there is none.
set -euo pipefail
ver=${1:?version, e.g. v10.16}
cd "$(dirname "$0")/.."
if [ -n "${TRT_INCLUDE:-}" ]; then
	[ -f "$TRT_INCLUDE/NvInfer.h" ] || { echo "TRT_INCLUDE=$TRT_INCLUDE has no NvInfer.h" >&2; exit 1; }
	echo "$TRT_INCLUDE"
	exit 0
fi
common=$(cd "$(git rev-parse --git-common-dir 2>/dev/null || echo .git)" 2>/dev/null && pwd || true)
tried=()
for root in "$PWD/.." "${common:+$common/../..}" "${common:+$common/..}"; do
	[ -n "$root" ] || continue
	d="$root/shared/third_party/tensorrt/$ver/include"
	tried+=("$d")
	if [ -f "$d/NvInfer.h" ]; then
		(cd "$d" && pwd)
		exit 0
	fi
done
echo "no TensorRT $ver headers: set TRT_INCLUDE, or put them at one of: ${tried[*]}" >&2
exit 1
