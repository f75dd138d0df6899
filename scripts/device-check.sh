#!/usr/bin/env bash
# The one-shot GPU check, in two halves.
#
#   scripts/device-check.sh build [OUT]   here (CI, any machine with Go, g++,
#       the TensorRT headers and ONNX Runtime): builds into OUT (default
#       out/device-check) the GPU test binaries of gpu, kernels, render,
#       mesh, mesh/mhr and trt, the benchmark binary, the TensorRT parity
#       case (a tiny ONNX engine, an input and ONNX Runtime's CPU output),
#       and a copy of this script.
#   OUT/device-check.sh run               on a machine with an NVIDIA GPU,
#       no network and no Go: runs them all (under 8 minutes) and prints one
#       table. TensorRT rows run when libnvinfer.so.10 is found; otherwise
#       they say so.
set -euo pipefail
mode=${1:-}
case "$mode" in
build)
	cd "$(dirname "$0")/.."
	out=${2:-out/device-check}
	export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
	trt_inc=$(scripts/trt-include.sh v10.16)
	export CGO_CXXFLAGS="-isystem $trt_inc"
	rm -rf "$out"
	mkdir -p "$out"
	tags=cuda,tensorrt
	for pkg in gpu kernels render mesh mesh/mhr trt; do
		mkdir -p "$out/$pkg"
		go test -c -tags "$tags" -ldflags='-s -w' -o "$out/$pkg/pkg.test" "./$pkg"
	done
	mkdir -p "$out/testdata"
	cp -r testdata/mhr "$out/testdata/" # mesh/mhr's test reads ../../testdata/mhr
	go build -tags "$tags" -ldflags='-s -w' -o "$out/bench" ./tools/bench/gpu
	go run ./tools/bench/gpu -prepare "$out/trtcase"
	cp scripts/device-check.sh "$out/device-check.sh"
	size=$(du -sm "$out" | cut -f1)
	echo "device-check: built $out (${size} MiB); copy it to a GPU machine and run $out/device-check.sh run"
	if [ "$size" -ge 64 ]; then
		echo "device-check: $out is ${size} MiB, over the 64 MiB budget" >&2
		exit 1
	fi
	;;
run)
	cd "$(dirname "$0")"
	[ -x bench ] || { echo "device-check run: run the copy in the build half's output folder" >&2; exit 1; }
	export BODY4D_REQUIRE_GPU=1
	have_trt=0
	if ldconfig -p 2>/dev/null | grep -q 'libnvinfer.so.10 ' || [ -n "${BODY4D_TRT_LIB_DIR:-}" ]; then
		have_trt=1
		export BODY4D_REQUIRE_TRT=1 BODY4D_TRT_CASE=$PWD/trtcase
		[ -z "${BODY4D_TRT_LIB_DIR:-}" ] || export LD_LIBRARY_PATH="$BODY4D_TRT_LIB_DIR:${LD_LIBRARY_PATH:-}"
	fi
	rows=()
	fail=0
	# test PKG PATTERN WHAT: one row per check, from the test binary's verdict.
	check() {
		local pkg=$1 pattern=$2 what=$3 log
		log=$(cd "$pkg" && timeout 120 ./pkg.test -test.run "$pattern" -test.v -test.count=1 2>&1) && verdict=PASS || { verdict=FAIL; fail=1; }
		if [ "$verdict" = PASS ] && ! grep -q -- '^--- PASS' <<<"$log"; then verdict=FAIL; fail=1; fi
		rows+=("| $what | $verdict |")
		[ "$verdict" = PASS ] || { echo "---- $pkg $pattern:"; tail -20 <<<"$log"; } >&2
	}
	check gpu 'TestGPUCopyAndPool' "CUDA driver at run time: context, copies, memset, pool reuse"
	check kernels 'TestCUDAMatchesTwin' "lbs_skin, warp_crop, normalize_crop: GPU bits = CPU-grid twin (= Go, by the stage tests)"
	check render 'TestCUDASamePixels' "raster_samples vs render's Go rasterizer: identical pixels, 1280×720, 5 people, 3 views"
	check mesh/mhr 'TestCUDASameVertices' "lbs_skin vs mhr's Go skinning, batch 64: identical vertices"
	check mesh 'TestCUDASameCrops' "warp_crop + normalize_crop vs mesh's WarpRGB + Normalize, 1920×1080: identical inputs"
	if [ $have_trt = 1 ]; then
		check trt 'TestTinyPlanMatchesORT|TestLoadBadPlan' "TensorRT: plan built from mesh_backbone.onnx, run, vs ONNX Runtime CPU"
	else
		rows+=("| TensorRT: plan from a tiny ONNX engine vs ONNX Runtime CPU | NOT RUN: no libnvinfer.so.10 on this machine (set BODY4D_TRT_LIB_DIR) |")
	fi
	bench=$(timeout 300 ./bench -bench 2>&1) || { fail=1; bench="| benchmarks | FAIL: $(tail -1 <<<"$bench") |"; }
	echo
	echo "| check | result |"
	echo "|---|---|"
	printf '%s\n' "${rows[@]}"
	echo "$bench"
	exit $fail
	;;
*)
	echo "usage: scripts/device-check.sh build [OUT] | OUT/device-check.sh run" >&2
	exit 2
	;;
esac
