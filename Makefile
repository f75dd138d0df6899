# The two commands of the README:
#   make demo   run the pipeline on the built-in sample (tiny models + clip) -> out/sample/
#   make test   everything CI checks
# Both install what they need first (scripts/setup.sh).

GO ?= go

.PHONY: demo test setup build bench

setup:
	@scripts/setup.sh

build: setup
	$(GO) build -o bin/body4d ./cmd/body4d

demo: build
	bin/body4d doctor
	bin/body4d run --out out/sample

test: setup
	@scripts/test.sh

bench: setup
	@scripts/bench.sh
