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

# The race detector slows the suite several times over on a loaded 2-core
# machine: a generous package timeout, not go test's default 10 minutes.
echo "== go test -race"
go test -race -count=1 -timeout 60m ./...
echo "== go test -race -tags x264 ./video/..."
go test -race -count=1 -timeout 60m -tags x264 ./video/...

echo "== bounded memory: peak RSS of a 1,000-frame run vs a 100-frame run (every stage after the tracker, one person)"
go build -o bin/body4d ./cmd/body4d
go run ./tools/bench/memory -body4d bin/body4d -masks -person 1 -frames 100,1000 -max-ratio 1.3 -args "--quick"

echo "== bounded disk: the work directory's peak per frame on a 1,000-frame clip (the sample looped, 160 px wide, 3 people)"
go run ./tools/bench/disk -body4d bin/body4d -frames 1000 -width 160 -max-bytes-per-frame 49152 -args "--quick"

echo "== serve load test (20 sessions, real pipeline; no -race: it measures latency)"
go test -count=1 -timeout 60m -run '^TestLoad$' -v ./serve

echo "== browser test (headless system Chromium)"
scripts/setup-browser.sh
BODY4D_BROWSER=1 go test -count=1 -timeout 30m -run '^TestBrowser$' -v ./cmd/body4d

echo "== animation export: glTF Validator and Blender import of the sample run's motion.glb, scene.glb, motion.bvh"
scripts/setup-export.sh
BODY4D_EXPORT_APPS=1 go test -count=1 -timeout 30m -run '^TestExportApps$' -v ./cmd/body4d

echo "== tools/export/setup.py: pre-flight table, resuming, --download against a local hub stand-in (no torch)"
tools/export/setup_test.sh

echo "== Slurm: the array example on a one-node cluster (sbatch --array, scancel, requeue)"
conf=$(scripts/setup-slurm.sh)
SLURM_CONF=$conf BODY4D_SLURM=1 go test -count=1 -timeout 30m -run '^TestSlurmArray$' -v ./deploy

# Execution counts, never durations: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a bare "context deadline exceeded" at the
# boundary (golang/go#75804). Each count takes a few seconds at ~20k
# execs/s on 2 busy cores.
echo "== fuzz (short, counted)"
go test -run='^$' -fuzz='^FuzzParseManifest$' -fuzztime=200000x ./models
go test -run='^$' -fuzz='^FuzzParseClick$' -fuzztime=100000x ./cmd/body4d
go test -run='^$' -fuzz='^FuzzParseClicksJSON$' -fuzztime=100000x ./cmd/body4d
go test -run='^$' -fuzz='^FuzzParseRate$' -fuzztime=100000x ./video
go test -run='^$' -fuzz='^FuzzPlan$' -fuzztime=5000x ./batch
go test -run='^$' -fuzz='^FuzzSniffUntrusted$' -fuzztime=5000x ./video
go test -run='^$' -fuzz='^FuzzReadInfo$' -fuzztime=5000x ./engine/ort
