#!/usr/bin/env bash
# Checks body4d's GPU code on a machine without a GPU, as CI runs it:
#   - the kernels' committed PTX matches their .cu sources (nvcc from
#     Debian's nvidia-cuda-toolkit, contrib/non-free; installed if absent);
#   - the TensorRT shim compiles with -Werror against the TensorRT 10.16 and
#     11.1 headers and references no TensorRT symbol (it opens libnvinfer at
#     run time); missing headers FAIL this script;
#   - go build and go vet with the tags cuda,tensorrt; the GPU binary links
#     no CUDA or TensorRT library, starts, and `body4d doctor` says "no GPU";
#   - the tagged tests of gpu, kernels, trt, job, render, mesh and mesh/mhr
#     run (their GPU parts skip without a GPU; the no-GPU paths run);
#   - scripts/device-check.sh build produces the device check's binaries.
# Nothing here runs on a GPU. Needs root (or sudo) on Debian 12 for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"

step() { echo "== $*"; }
die() {
	echo "check-cuda: FAILED: $*" >&2
	exit 1
}

# Debian ships nvcc in contrib (nvidia-cuda-toolkit) and its libraries in
# non-free; add both if apt cannot see them.
enable_nonfree() {
	. /etc/os-release
	[ "${ID:-}" = debian ] || die "apt has no nvidia-cuda-toolkit and this is $PRETTY_NAME, not Debian; enable the archive that carries it and rerun"
	step "enable contrib non-free for $VERSION_CODENAME"
	$SUDO tee /etc/apt/sources.list.d/body4d-nonfree.sources >/dev/null <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}

if ! command -v nvcc >/dev/null || [ ! -f /usr/include/cuda_runtime_api.h ]; then
	step "install nvidia-cuda-toolkit (nvcc, CUDA headers)"
	enable_nonfree
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit >/dev/null
fi

step "kernels/*.ptx match their .cu sources"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp kernels/*.cu "$tmp"/
# The same nvcc command lines as kernels.go's go:generate directives.
grep '^//go:generate nvcc' kernels/kernels.go | sed 's#^//go:generate ##' | (cd "$tmp" && while read -r cmd; do
	eval "${cmd/-o /-o new_}"
done)
for cu in kernels/*.cu; do
	base=$(basename "${cu%.cu}")
	[ -f "$tmp/new_$base.ptx" ] || die "no go:generate line compiles $cu"
	cmp -s "$tmp/new_$base.ptx" "kernels/$base.ptx" || die "kernels/$base.ptx is stale: run go generate ./kernels/ and commit it"
done

step "TensorRT shim against TensorRT 10.16 and 11.1 headers"
for v in v10.16 v11.1; do
	inc=$(scripts/trt-include.sh "$v") || die "TensorRT $v headers not found (see the line above): the shim cannot be checked"
	g++ -std=c++17 -Wall -Wextra -Werror -O2 -c -isystem "$inc" -x c++ trt/shim.cpp -o "$tmp/shim-$v.o"
	if nm -C -u "$tmp/shim-$v.o" | grep -E 'nvinfer|nvonnx|cuda' ; then
		die "the shim compiled against $v references TensorRT or CUDA symbols: it must reach them through dlopen"
	fi
	echo "   $v: $inc: compiles, no TensorRT symbol linked"
done
export CGO_CXXFLAGS="-isystem $(scripts/trt-include.sh v10.16)"

step "go build / vet -tags cuda,tensorrt (and each tag alone)"
go build -tags cuda,tensorrt ./...
go vet -tags cuda,tensorrt ./...
go vet -tags cuda ./...
go vet -tags tensorrt ./...

step "the GPU binary links no CUDA or TensorRT library, starts, and its doctor says no GPU"
go build -tags cuda,tensorrt -o "$tmp/body4d" ./cmd/body4d
if readelf -d "$tmp/body4d" | grep NEEDED | grep -E 'libcuda|libcudart|libnvinfer|libnvonnx'; then
	die "the GPU binary links a CUDA or TensorRT library"
fi
"$tmp/body4d" doctor >"$tmp/doctor.txt" 2>&1 || { cat "$tmp/doctor.txt"; die "body4d doctor (GPU build) failed"; }
cat "$tmp/doctor.txt"
if ! nvidia-smi >/dev/null 2>&1; then
	grep -q '^info  no GPU' "$tmp/doctor.txt" || die "body4d doctor (GPU build) did not report \"no GPU\""
fi

step "tagged tests (GPU parts skip without a GPU)"
go test -count=1 -tags cuda,tensorrt ./gpu/ ./kernels/ ./trt/
go test -count=1 -tags cuda,tensorrt -run 'CUDA|Twin|Device|Trt|Plan|MeshBatch' ./job/ ./render/ ./mesh/ ./mesh/mhr/

step "device check, build half"
scripts/device-check.sh build "$tmp/device-check"
step "ok"
