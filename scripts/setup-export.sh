#!/usr/bin/env bash
# Installs what the animation-export checks (TestExportApps in cmd/body4d,
# run with BODY4D_EXPORT_APPS=1) need on a fresh Debian machine: Debian's
# Blender 3.4 with numpy (its glTF importer needs numpy, which the package
# does not pull in), Node/npm, and the Khronos glTF Validator (npm
# gltf-validator, version pinned in tools/gltfcheck/package.json) into the
# project-local, git-ignored folder .deps/node. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_DIR=.deps/node

need_apt=()
command -v blender >/dev/null || need_apt+=(blender)
[ -d /usr/lib/python3/dist-packages/numpy ] || need_apt+=(python3-numpy)
command -v node >/dev/null && command -v npm >/dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup-export: installing ${need_apt[*]} (apt)" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

VALIDATOR_VERSION=$(node -p "require('./tools/gltfcheck/package.json').dependencies['gltf-validator']")
if [ ! -f "$NODE_DIR/node_modules/gltf-validator/package.json" ] ||
	[ "$(node -p "require('./$NODE_DIR/node_modules/gltf-validator/package.json').version")" != "$VALIDATOR_VERSION" ]; then
	echo "setup-export: installing gltf-validator $VALIDATOR_VERSION (npm) into $NODE_DIR" >&2
	mkdir -p "$NODE_DIR"
	npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "gltf-validator@$VALIDATOR_VERSION" >/dev/null
fi
echo "setup-export: $(blender --version 2>/dev/null | head -1); gltf-validator $(node -p "require('./$NODE_DIR/node_modules/gltf-validator/package.json').version")" >&2
