#!/usr/bin/env bash
# What CI checks: formatting, vet (default build and every build tag that
# can be compiled here), the race-enabled test suite, and a short fuzzing
# pass over the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
# go-nvml's header marks many NVML calls deprecated; the warnings are noise.
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.deps/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...
echo "== go vet -tags x264"
go vet -tags x264 ./...

echo "== go test -race"
go test -race -count=1 ./...
echo "== go test -race -tags x264 ./video/..."
go test -race -count=1 -tags x264 ./video/...

echo "== bounded memory: peak RSS of a 1,000-frame run vs a 100-frame run (every stage after the tracker, one person)"
go build -o bin/body4d ./cmd/body4d
go run ./tools/bench/memory -body4d bin/body4d -masks -person 1 -frames 100,1000 -max-ratio 1.3 -args "--quick"

echo "== serve load test (20 sessions, real pipeline; no -race: it measures latency)"
go test -count=1 -run '^TestLoad$' -v ./serve

echo "== browser test (headless system Chromium)"
scripts/setup-browser.sh
BODY4D_BROWSER=1 go test -count=1 -run '^TestBrowser$' -v ./cmd/body4d

echo "== animation export: glTF Validator and Blender import of the sample run's motion.glb, scene.glb, motion.bvh"
scripts/setup-export.sh
BODY4D_EXPORT_APPS=1 go test -count=1 -run '^TestExportApps$' -v ./cmd/body4d

echo "== fuzz (short)"
go test -run='^$' -fuzz='^FuzzParseManifest$' -fuzztime=15s ./models
go test -run='^$' -fuzz='^FuzzParseClick$' -fuzztime=10s ./cmd/body4d
go test -run='^$' -fuzz='^FuzzParseClicksJSON$' -fuzztime=10s ./cmd/body4d
go test -run='^$' -fuzz='^FuzzParseRate$' -fuzztime=5s ./video
go test -run='^$' -fuzz='^FuzzSniffUntrusted$' -fuzztime=5000x ./video
