# The two commands of the README:
#   make demo   run the pipeline on the built-in sample (tiny models + clip) -> out/sample/
#   make test   everything CI checks
# Both install what they need first (scripts/setup.sh).

GO ?= go
# go-nvml's header marks many NVML calls deprecated; the warnings are noise.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: demo test serve check-cuda device-check setup build bench

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

# Check the GPU code without a GPU: PTX in sync, the TensorRT shim against
# TensorRT 10.16 and 11.1 headers, build/vet/tests with the tags
# cuda,tensorrt, the GPU binary starting with "no GPU". Installs Debian's
# nvidia-cuda-toolkit (large). Nothing here runs on a GPU.
check-cuda:
	@scripts/check-cuda.sh

# The one-shot GPU check's build half: binaries into out/device-check, to
# copy to a GPU machine and run there with out/device-check/device-check.sh run.
device-check: setup
	@scripts/device-check.sh build

bench: setup
	@scripts/bench.sh
