#!/usr/bin/env bash
# CI step for tools/export/setup.py (no torch): the pre-flight table,
# resuming with fake exporters, and --download against a local stand-in of
# the Hugging Face hub (huggingface_hub, at the version requirements-setup.txt
# pins, in a small venv under .deps/).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.deps/setup-test-venv
HUB=$(sed -n 's/^huggingface_hub==//p' tools/export/requirements-setup.txt)
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
	echo "setup_test: installing python3-venv (apt)" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
if ! "$VENV/bin/python" -c "import sys, huggingface_hub as h; sys.exit(h.__version__ != '$HUB')" 2>/dev/null; then
	echo "setup_test: huggingface_hub $HUB (pip) into $VENV" >&2
	rm -rf "$VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q "huggingface_hub==$HUB"
fi
PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -W error::ResourceWarning -m unittest -v tools/export/setup_test.py
