#!/bin/sh
# Real-size dry run models (issue #20): every network at its real
# configuration with random weights, in one model directory with a
# manifest. Timing and memory depend on the architecture, not on the
# weight values; the outputs mean nothing.
#
#   PYTHON=/path/to/venv/bin/python tools/export/realsize/realsize.sh OUTDIR [STEPS]
#
# STEPS is a comma-separated subset of segment,fov,depth,mesh,amodal
# (default all); stages not built keep the tiny engines of
# sample/models/tiny, so that every stage has engines and doctor checks
# them all.
#
# PYTHON needs tools/export/requirements-setup.txt (sam3 0.1.4, torch,
# diffusers, transformers, onnx, onnxruntime, pyyaml, ...). Source
# checkouts, as tools/export/setup.py names them: MOGE_SRC (fov),
# DAV2_SRC (depth), SAM3DB_SRC and DINOV3_SRC (mesh), DVAS_SRC (amodal).
#
# Disk: about 25 GB (the two Diffusion-VAS UNets 6.1 GB each, DINOv3-H+
# 3.4 GB, CLIP ViT-H 2.5 GB, SAM-3's image encoder and detector 1.85 and
# 1.95 GB, MoGe-2 and Depth Anything V2 ViT-L 1.3 GB each). Peak memory
# 15.9 GB (the amodal step; segment 13.2 GB); about 10 minutes on 2
# otherwise idle cores. Measured results: tools/bench/realsize/results.md.
set -eu
out=${1:?usage: realsize.sh OUTDIR [segment,fov,depth,mesh,amodal]}
steps=${2:-segment,fov,depth,mesh,amodal}
py=${PYTHON:-python3}
cd "$(dirname "$0")/../../.."
for s in $(echo "$steps" | tr , ' '); do
	case $s in
	segment | fov | depth | mesh | amodal) ;;
	*) echo "realsize.sh: unknown step $s (steps: segment,fov,depth,mesh,amodal)" >&2; exit 2 ;;
	esac
done
rest=$(echo ",$steps," | sed 's/,segment,/,/; s/^,//; s/,$//')
# Every checkout the steps need, before any export starts.
if [ -n "$rest" ]; then
	"$py" tools/export/realsize/networks.py --out "$out" --only "$rest" --check
fi
mkdir -p "$out"
# Start from the tiny directory so that every stage has engines; each
# real-size export replaces its stage's entries in the manifest.
if [ ! -f "$out/manifest.yaml" ]; then
	for f in sample/models/tiny/*; do
		[ -f "$f" ] && cp "$f" "$out/"
	done
	sed -i 's/^name: tiny$/name: realsize/' "$out/manifest.yaml"
fi
case ",$steps," in
*,segment,*) nice -n 19 "$py" tools/export/realsize/segment.py --out "$out" --no-check ;;
esac
if [ -n "$rest" ]; then
	nice -n 19 "$py" tools/export/realsize/networks.py --out "$out" --only "$rest"
fi
go run ./cmd/body4d doctor "$out"
