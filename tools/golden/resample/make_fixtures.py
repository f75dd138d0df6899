"""Make the fixtures of package internal/resample from the libraries it
reproduces: Pillow's Image.resize (BILINEAR, BICUBIC, NEAREST) and
cv2.resize (INTER_CUBIC on float64, INTER_LINEAR on uint8).

The inputs are small deterministic images, written into the fixture file
next to each library's output:

  testdata/resample/fixtures.json

Usage:
  python make_fixtures.py [--out testdata/resample]
"""
import argparse
import json
import os

import cv2
import numpy as np
import PIL
from PIL import Image

ROW = np.array([0, 100, 200, 255, 30, 60, 90], np.uint8)


def image(w, h, c):
    """A deterministic w x h image of c channels with sharp and smooth
    parts, so that every tap and both clip8 limits are exercised."""
    y, x, ch = np.mgrid[0:h, 0:w, 0:c]
    v = (37 * x + 91 * y + 53 * ch + 11 * x * y) % 256
    v[(x + y) % 5 == 0] = 255
    v[(x * y + ch) % 7 == 3] = 0
    return v.astype(np.uint8)


FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "nearest": Image.Resampling.NEAREST}


def pil(src, size, filt):
    # uint8 (h, w) is mode L, (h, w, 3) mode RGB.
    return np.asarray(Image.fromarray(src).resize(size, FILTERS[filt]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "testdata", "resample"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    cases = []

    def add(lib, filt, src, size, out):
        h, w = src.shape[:2]
        c = src.shape[2] if src.ndim == 3 else 1
        cases.append({"lib": lib, "filter": filt, "w": w, "h": h, "c": c, "ow": size[0], "oh": size[1],
                      "in": src.reshape(-1).tolist(), "out": out.reshape(-1).tolist()})

    row = ROW.reshape(1, -1)
    for filt in ("bilinear", "bicubic"):
        for ow in (3, 11):
            add("pil", filt, row, (ow, 1), pil(row, (ow, 1), filt))
    add("pil", "bilinear", ROW.reshape(-1, 1), (1, 4), pil(ROW.reshape(-1, 1), (1, 4), "bilinear"))
    for ow in (3, 10):
        add("pil", "nearest", row, (ow, 1), pil(row, (ow, 1), "nearest"))

    rgb = image(9, 7, 3)
    gray = image(9, 7, 1)[:, :, 0]
    # Down both ways, up both ways, one axis only (the other pass is skipped),
    # and the same size (a copy).
    sizes = [(4, 5), (13, 11), (9, 3), (5, 7), (20, 2), (9, 7)]
    for filt in ("bilinear", "bicubic"):
        for size in sizes:
            add("pil", filt, rgb, size, pil(rgb, size, filt))
        add("pil", filt, gray, (6, 10), pil(gray, (6, 10), filt))
    for size in [(4, 5), (13, 11), (6, 10)]:
        add("pil", "nearest", gray, size, pil(gray, size, "nearest"))

    # cv2 INTER_CUBIC on float64 (one plane), INTER_LINEAR on uint8 RGB.
    f = ROW.astype(np.float64) / 255
    add("cv2", "cubic", f.reshape(1, -1), (10, 1), cv2.resize(f.reshape(1, -1), (10, 1), interpolation=cv2.INTER_CUBIC))
    g = gray.astype(np.float64) / 255
    add("cv2", "cubic", g, (5, 12), cv2.resize(g, (5, 12), interpolation=cv2.INTER_CUBIC))
    add("cv2", "linear", row, (10, 1), cv2.resize(row, (10, 1), interpolation=cv2.INTER_LINEAR))
    add("cv2", "linear", rgb, (13, 4), cv2.resize(rgb, (13, 4), interpolation=cv2.INTER_LINEAR))

    meta = {"generator": "tools/golden/resample/make_fixtures.py", "pillow": PIL.__version__,
            "opencv": cv2.__version__, "numpy": np.__version__, "cases": cases}
    with open(os.path.join(args.out, "fixtures.json"), "w") as fh:
        json.dump(meta, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"{len(cases)} cases -> {os.path.join(args.out, 'fixtures.json')}")


if __name__ == "__main__":
    main()
