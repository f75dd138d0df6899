#!/usr/bin/env bash
# Installs what body4d needs on a fresh Debian machine: ffmpeg, the x264
# headers (for the optional `x264` build tag) and a CPU ONNX Runtime shared
# library into the project-local folder .deps/onnxruntime/lib, where the
# engine/ort backend finds it, and the web UI's 3D viewer (npm
# @google/model-viewer, three.js bundled in) into .deps/node, from where
# body4d serve serves it. Safe to re-run: each step is skipped when
# already done.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0 # npm onnxruntime-node; its libonnxruntime.so.1 works with onnxruntime_go v1.27
ORT_DIR=.deps/onnxruntime/lib
VIEWER_VERSION=4.4.0 # npm @google/model-viewer: dist/model-viewer.min.js is self-contained
NODE_DIR=.deps/node

need_apt=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
[ -f /usr/include/x264.h ] || need_apt+=(libx264-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup: installing ${need_apt[*]} (apt)" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -f "$ORT_DIR/libonnxruntime.so.1" ]; then
	echo "setup: installing ONNX Runtime $ORT_VERSION (npm onnxruntime-node) into $ORT_DIR" >&2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null && tar xzf onnxruntime-node-*.tgz)
	case "$(uname -m)" in
	x86_64) arch=x64 ;;
	aarch64) arch=arm64 ;;
	*) echo "setup: no ONNX Runtime build for $(uname -m)" >&2; exit 1 ;;
	esac
	mkdir -p "$ORT_DIR"
	cp "$tmp/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1" "$ORT_DIR/"
fi

if [ ! -f "$NODE_DIR/node_modules/@google/model-viewer/dist/model-viewer.min.js" ] ||
	[ "$(node -p "require('./$NODE_DIR/node_modules/@google/model-viewer/package.json').version")" != "$VIEWER_VERSION" ]; then
	echo "setup: installing @google/model-viewer $VIEWER_VERSION (npm) into $NODE_DIR" >&2
	mkdir -p "$NODE_DIR"
	# --legacy-peer-deps: the bundled script needs no separate three.js.
	npm install --silent --no-audit --no-fund --legacy-peer-deps --prefix "$NODE_DIR" "@google/model-viewer@$VIEWER_VERSION" >/dev/null
fi
