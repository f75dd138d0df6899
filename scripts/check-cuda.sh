#!/usr/bin/env bash
# Compile-checks body4d's GPU code paths on a machine without a GPU, as CI
# runs them: the "cuda" build (gorgonia.org/cu, package gpu and the kernel
# loader), the kernels' committed PTX (optional), and the TensorRT shim
# (build tag "tensorrt"). Nothing here runs on a GPU: importing
# gorgonia.org/cu exits a process on a machine without one, so cuda tests
# are compiled, never run, and libnvinfer is not available to link.
#
# Needs root (or sudo) on Debian 12 for apt. Environment:
#   BODY4D_CHECK_PTX=1  also install nvidia-cuda-toolkit and check that
#                       kernels/*.ptx match their .cu sources (slower).
#   TRT_INCLUDE=dir     TensorRT headers for the shim check; without it the
#                       headers of tag $TRT_TAG are fetched from
#                       github.com/NVIDIA/TensorRT, or the check is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
TRT_TAG=${TRT_TAG:-v10.16}
# go-nvml's and CUDA's headers mark many calls deprecated; that is noise.
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"

step() { echo "== $*"; }

apt_install() {
	if ! apt-cache show "$1" >/dev/null 2>&1 || [ -z "$(apt-cache policy "$1" | awk '/Candidate:/ {print $2}' | grep -v none)" ]; then
		enable_nonfree
	fi
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# Debian ships the CUDA headers and stubs in non-free (nvidia-cuda-dev)
# and their dependencies in contrib; add both if apt cannot see them.
enable_nonfree() {
	. /etc/os-release
	if [ "${ID:-}" != debian ]; then
		echo "check-cuda: apt has no nvidia-cuda-dev and this is $PRETTY_NAME, not Debian; enable the archive that carries it (Ubuntu: multiverse) and rerun" >&2
		exit 1
	fi
	step "enable contrib non-free for $VERSION_CODENAME"
	$SUDO tee /etc/apt/sources.list.d/body4d-nonfree.sources >/dev/null <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	$SUDO apt-get update -qq
}

if [ ! -f /usr/include/cuda.h ] || [ ! -f /usr/include/cuda_runtime_api.h ]; then
	step "install nvidia-cuda-dev"
	$SUDO apt-get update -qq
	apt_install nvidia-cuda-dev
fi
if [ "${BODY4D_CHECK_PTX:-0}" = 1 ] && ! command -v nvcc >/dev/null; then
	step "install nvidia-cuda-toolkit"
	apt_install nvidia-cuda-toolkit
fi

step "go build -tags cuda ./..."
go build -tags cuda ./...
step "go vet -tags cuda ./..."
go vet -tags cuda ./...
step "compile cuda tests (not run: no GPU)"
for pkg in $(grep -rl --include='*_test.go' '^//go:build.*\bcuda\b' . | xargs -n1 dirname | sort -u); do
	echo "   $pkg"
	go test -c -tags cuda -o /dev/null "$pkg"
done

if [ "${BODY4D_CHECK_PTX:-0}" = 1 ]; then
	step "kernels/*.ptx up to date"
	tmp=$(mktemp -d)
	cp kernels/*.cu kernels/*.ptx "$tmp"/
	(cd "$tmp" && for cu in *.cu; do nvcc --ptx -arch=compute_70 -o "${cu%.cu}.new" "$cu"; done)
	for cu in "$tmp"/*.cu; do
		base=${cu%.cu}
		if ! cmp -s "$base.new" "$base.ptx"; then
			echo "kernels/$(basename "$base").ptx is stale: run go generate ./kernels/ and commit it" >&2
			exit 1
		fi
	done
	rm -rf "$tmp"
fi

step "TensorRT shim"
trt_tmp=
if [ -z "${TRT_INCLUDE:-}" ]; then
	trt_tmp=$(mktemp -d)
	if GIT_TERMINAL_PROMPT=0 git clone -q --depth 1 --branch "$TRT_TAG" --filter=blob:none --sparse \
		https://github.com/NVIDIA/TensorRT "$trt_tmp/trt" 2>/dev/null &&
		git -C "$trt_tmp/trt" sparse-checkout set include; then
		TRT_INCLUDE=$trt_tmp/trt/include
	else
		echo "SKIP: TensorRT headers not found (set TRT_INCLUDE) and github.com/NVIDIA/TensorRT $TRT_TAG not reachable"
	fi
fi
if [ -n "${TRT_INCLUDE:-}" ]; then
	echo "   headers: $TRT_INCLUDE ($(grep -h -m1 -E 'define TRT_MAJOR_ENTERPRISE' "$TRT_INCLUDE/NvInferVersion.h" | awk '{print $3}').$(grep -h -m1 -E 'define TRT_MINOR_ENTERPRISE' "$TRT_INCLUDE/NvInferVersion.h" | awk '{print $3}'))"
	g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -isystem "$TRT_INCLUDE" trt/shim.cpp
	# vet type-checks the cgo code and compiles shim.cpp; libnvinfer is
	# needed only to link, which nothing here does.
	CGO_CXXFLAGS="-isystem $TRT_INCLUDE" go vet -tags tensorrt ./trt/
fi
[ -z "$trt_tmp" ] || rm -rf "$trt_tmp"
step "ok"
