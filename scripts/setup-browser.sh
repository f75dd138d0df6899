#!/usr/bin/env bash
# Installs what the web UI's browser test (serve/e2e, run by
# `BODY4D_BROWSER=1 go test ./cmd/body4d -run TestBrowser`) needs on a fresh
# Debian machine: the system Chromium (apt package `chromium`) and
# playwright-core from npm into the project-local, git-ignored folder
# .deps/node. No browser is downloaded: playwright-core drives the system
# Chromium (BODY4D_CHROMIUM overrides its path). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_DIR=.deps/node

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || need_apt+=(nodejs npm)
# Fonts so that the screenshot shows text, not boxes.
[ -d /usr/share/fonts/truetype/dejavu ] || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup-browser: installing ${need_apt[*]} (apt)" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The version is pinned in serve/e2e/package.json: 1.61 is the newest
# that runs on Debian 12's Node 18.
PLAYWRIGHT_VERSION=$(node -p "require('./serve/e2e/package.json').dependencies['playwright-core']")
if [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ] ||
	[ "$(node -p "require('./$NODE_DIR/node_modules/playwright-core/package.json').version")" != "$PLAYWRIGHT_VERSION" ]; then
	echo "setup-browser: installing playwright-core $PLAYWRIGHT_VERSION (npm) into $NODE_DIR" >&2
	mkdir -p "$NODE_DIR"
	# playwright-core has no install script and downloads no browser.
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund \
		--prefix "$NODE_DIR" "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi
echo "setup-browser: $(chromium --version 2>/dev/null || echo 'chromium missing'); playwright-core $(node -p "require('./$NODE_DIR/node_modules/playwright-core/package.json').version")" >&2
