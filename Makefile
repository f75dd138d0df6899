# The two commands of the README:
#   make demo   run the pipeline on the built-in sample (tiny models + clip) -> out/sample/
#   make test   everything CI checks
# Both install what they need first (scripts/setup.sh).

GO ?= go
# go-nvml's header marks many NVML calls deprecated; the warnings are noise.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: demo test serve check-cuda setup build bench

setup:
	@scripts/setup.sh

build: setup
	$(GO) build -o bin/body4d ./cmd/body4d

demo: build
	bin/body4d doctor
	bin/body4d run --out out/sample

# The web UI on http://127.0.0.1:7860/ (built-in tiny models unless MODELS=DIR).
serve: build
	bin/body4d serve $(if $(MODELS),--models $(MODELS))

test: setup
	@scripts/test.sh

# Compile and vet the GPU code (tags cuda, tensorrt) against Debian's CUDA
# headers; installs nvidia-cuda-dev (large). Nothing here runs on a GPU.
check-cuda:
	@scripts/check-cuda.sh

bench: setup
	@scripts/bench.sh
