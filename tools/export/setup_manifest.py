#!/usr/bin/env python3
"""Add entries to a model directory's manifest.yaml (exportlib.update_manifest)
for files an exporter wrote without one (setup.py's mhr step):

    python tools/export/setup_manifest.py OUT STAGE file:NAME=FILE|engine:NAME=FILE ...
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exportlib import update_manifest  # noqa: E402


def main(argv):
    out, stage, entries = argv[0], argv[1], argv[2:]
    engines, files = [], []
    for e in entries:
        kind, _, rest = e.partition(":")
        name, _, f = rest.partition("=")
        if kind == "engine":
            engines.append((name, f, "fp32"))
        elif kind == "file":
            files.append((name, f))
        else:
            raise SystemExit(f"setup_manifest: {e!r}: want engine:NAME=FILE or file:NAME=FILE")
    print(update_manifest(out, stage, engines, files))


if __name__ == "__main__":
    main(sys.argv[1:])
