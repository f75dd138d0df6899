"""What the checkpoint exporters in tools/export/ share (fov/export.py,
amodal/export.py, amodal/export_depth.py, mesh/export.py and their
check_random.py).

Exporting:
  onnx_export     torch.onnx.export into a temporary folder, then save_from
  save_from       re-save an exported model, weights in one NAME.onnx.data
                  file when over protobuf's 2 GB (or when asked)
  sha256, update_manifest
                  add or replace entries in a model directory's manifest.yaml
  exportable_pos_embed
                  DINOv2's position-embedding interpolation, rebuilt so that
                  it exports with dynamic sizes and keeps the numerics

Checking (check_random.py):
  go_contracts    a stage's engine contracts from the Go code
                  (go run ./tools/contracts -json -stage STAGE)
  check_contract  Go's engine.Contract.Check on an onnxruntime session
  rel_err         max |want - got|, and that over max(1, max |want|)
  doctor          body4d doctor on the tiny model directory with engines (and
                  optionally files) swapped in

The scripts run as files (python tools/export/fov/export.py), so each puts
this folder on sys.path before `import exportlib`.
"""
import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import types

import numpy as np
import torch

OPSET = 17
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# ---- exporting and saving ----

LIMIT = (2 << 30) - (64 << 20)  # protobuf's 2 GB, with room for the graph


def onnx_export(module, args, path, input_names, output_names, dynamic_axes, opset=OPSET, edit=None,
                external=False):
    """torch.onnx.export(module, args) (TorchScript exporter, no grad) into a
    temporary folder next to path, then save_from it to path; returns the
    .data file or None."""
    out = os.path.dirname(path)
    os.makedirs(out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    tmp = tempfile.mkdtemp(prefix=stem + "_", dir=out)
    try:
        with torch.no_grad():
            torch.onnx.export(module, args, os.path.join(tmp, "model.onnx"), input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes, opset_version=opset,
                              dynamo=False)
        return save_from(os.path.join(tmp, "model.onnx"), path, edit=edit, external=external)
    finally:
        shutil.rmtree(tmp)


def save_from(tmp_path, path, edit=None, external=False):
    """Re-save the model torch.onnx wrote at tmp_path (which puts each tensor
    of a >2 GB model in its own file) to path, after edit(model) if given.
    The weights go to one path + ".data" file when they need it (or with
    external); returns that file or None."""
    import onnx
    from onnx import external_data_helper as ext
    m = onnx.load(tmp_path, load_external_data=False)
    big = external or os.path.getsize(tmp_path) > LIMIT or any(ext.uses_external_data(t) for t in m.graph.initializer)
    if big:
        ext.load_external_data_for_model(m, os.path.dirname(tmp_path))
    if edit is not None:
        edit(m)
    data = path + ".data"
    if os.path.exists(data):
        os.remove(data)
    if big:
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(data), size_threshold=1024)
        os.chmod(data, 0o644)
        return data
    onnx.save_model(m, path)
    return None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def update_manifest(out, stage, engines, files=(), name="exported", description=None):
    """Add or replace the given entries in out/manifest.yaml, keeping the
    others. engines: [(name, file, precision)]; files: [(name, file)]."""
    import yaml
    path = os.path.join(out, "manifest.yaml")
    m = {"format": 1, "name": name, "engines": [], "files": []}
    if os.path.exists(path):
        with open(path) as f:
            m = yaml.safe_load(f) or m
    m.setdefault("engines", [])
    m.setdefault("files", [])
    if description and "description" not in m:
        m["description"] = description
    new = {(stage, n) for n, _, _ in engines} | {(stage, n) for n, _ in files}
    m["engines"] = [e for e in m["engines"] if (e["stage"], e["name"]) not in new]
    m["files"] = [e for e in m["files"] if (e["stage"], e["name"]) not in new]
    for n, f, prec in engines:
        m["engines"].append({"stage": stage, "name": n, "file": f, "backend": "onnx", "precision": prec,
                             "sha256": sha256(os.path.join(out, f))})
    for n, f in files:
        m["files"].append({"stage": stage, "name": n, "file": f, "sha256": sha256(os.path.join(out, f))})
    if not m["files"]:
        del m["files"]
    with open(path, "w") as f:
        yaml.safe_dump(m, f, sort_keys=False)
    return path


# ---- DINOv2 position embeddings, exportable with dynamic sizes ----

def _cubic_weights(n_out, n_in, scale):
    """[n_out, n_in] matrix of torch's bicubic upsampling (align_corners=False,
    no antialias, A = -0.75) with the kernel scale `scale` (= 1/scale_factor):
    real = scale*(i+0.5)-0.5; index = min(floor(real), n_in-1);
    t = clamp(real-index, 0, 1); taps index-1..index+2 clamped to the input."""
    A = -0.75
    i = torch.arange(n_out, dtype=torch.float32)
    real = scale * (i + 0.5) - 0.5
    idx = torch.clamp(torch.floor(real), max=float(n_in - 1))
    t = torch.clamp(real - idx, 0.0, 1.0)

    def c1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    coeffs = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]
    cols = torch.arange(n_in, dtype=torch.float32)[None, :]
    w = torch.zeros_like(real)[:, None] * cols
    for k, c in enumerate(coeffs):
        j = torch.clamp(idx - 1 + k, 0.0, float(n_in - 1))
        w = w + (cols == j[:, None]).to(torch.float32) * c[:, None]
    return w


def exportable_pos_embed(vit):
    """Replace vit.interpolate_pos_encoding(x, rows_px, cols_px) (a DINOv2
    ViT, MoGe's or Depth-Anything-V2's; DA-V2 names the sizes w, h but
    passes rows first) by an exact, shape-dynamic equivalent of DINOv2's
    non-ONNX path: bicubic with scale_factor (n + offset)/M, which
    torch.onnx would freeze to the traced size, and the raw table when the
    grid is M x M and the image square (there the scale is exactly 1, which
    the taps turn into the identity)."""
    offset = float(vit.interpolate_offset)
    if getattr(vit, "interpolate_antialias", False):
        raise NotImplementedError("antialiased position-embedding interpolation is not rewritten")

    def interpolate_pos_encoding(self, x, rows_px, cols_px):
        dtype = x.dtype
        pos = self.pos_embed.float()
        cls_pos, patch_pos = pos[:, :1], pos[:, 1:]
        M = int(math.sqrt(patch_pos.shape[1]))
        dim = pos.shape[-1]
        rows = torch.as_tensor(rows_px) // self.patch_size
        cols = torch.as_tensor(cols_px) // self.patch_size
        same = ((rows == M) & (cols == M)).to(torch.float64)
        # 1/scale_factor in double, then float, as ATen's compute_scales_value.
        sr = (1.0 / ((rows.to(torch.float64) + offset) / M)) * (1 - same) + same
        sc = (1.0 / ((cols.to(torch.float64) + offset) / M)) * (1 - same) + same
        wr = _cubic_weights(rows, M, sr.to(torch.float32))
        wc = _cubic_weights(cols, M, sc.to(torch.float32))
        grid = patch_pos.reshape(M, M, dim)
        out = torch.einsum("pi,ijd->pjd", wr, grid)
        out = torch.einsum("qj,pjd->pqd", wc, out).reshape(1, -1, dim)
        return torch.cat([cls_pos, out], dim=1).to(dtype)

    vit.interpolate_pos_encoding = types.MethodType(interpolate_pos_encoding, vit)


# ---- checking against the Go contracts ----

def go_contracts(stage):
    """The stage's contracts from the Go code (go run ./tools/contracts
    -json -stage STAGE): {engine: (inputs, outputs)}, each a list of
    (name, dtype, dims) with -1 for a dynamic dim, -2 for any."""
    import json
    out = subprocess.run(["go", "run", "./tools/contracts", "-json", "-stage", stage], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    tl = lambda ts: [(t["name"], t["dtype"], list(t["shape"])) for t in ts]
    return {c["engine"]: (tl(c["inputs"]), tl(c["outputs"])) for c in json.loads(out)}


ORT_DTYPE = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(int32)": "int32",
             "tensor(float16)": "float16", "tensor(bool)": "bool"}


def check_contract(path, contract):
    """Go's engine.Contract.Check on an onnxruntime session: every
    contract tensor present with its dtype and rank; a '?' dim must be
    dynamic in the model, a fixed dim must match or be dynamic; no input
    the stage does not feed. contract: (inputs, outputs) as go_contracts."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    errs = []
    for io, want, got in [("input", contract[0], sess.get_inputs()), ("output", contract[1], sess.get_outputs())]:
        by = {g.name: g for g in got}
        for name, dtype, dims in want:
            g = by.get(name)
            if g is None:
                errs.append(f"{io} {name}: missing")
                continue
            gd = ORT_DTYPE.get(g.type, g.type)
            if gd != dtype:
                errs.append(f"{io} {name}: dtype {gd}, want {dtype}")
            gs = [d if isinstance(d, int) and d >= 0 else -1 for d in g.shape]
            if len(gs) != len(dims):
                errs.append(f"{io} {name}: rank {len(gs)} {gs}, want {len(dims)} {dims}")
                continue
            for a, w in zip(gs, dims):
                if w == -2:
                    continue
                if (w == -1 and a != -1) or (w >= 0 and a not in (w, -1)):
                    errs.append(f"{io} {name}: shape {gs}, want {dims}")
                    break
        if io == "input":
            extra = set(by) - {n for n, _, _ in want}
            errs += [f"input {n}: unexpected (the stage does not feed it)" for n in sorted(extra)]
    return errs


def rel_err(want, got):
    """(max |want - got|, that / max(1, max |want|)); inf for a shape mismatch."""
    want, got = np.asarray(want, np.float64), np.asarray(got, np.float64)
    if want.shape != got.shape:
        return float("inf"), float("inf")
    a = float(np.abs(want - got).max())
    return a, a / max(1.0, float(np.abs(want).max()))


def doctor(stage, replace, files=None):
    """Copy the tiny model directory, swap in the exported engines, run
    body4d doctor on it. replace: {name: path}; files (optional): the
    stage's `files:` entries to swap in likewise, {name: path}."""
    import yaml
    tiny = os.path.join(ROOT, "sample", "models", "tiny")
    d = tempfile.mkdtemp(prefix="doctor_")
    for f in os.listdir(tiny):
        if os.path.isfile(os.path.join(tiny, f)):
            shutil.copy(os.path.join(tiny, f), d)
    for name, path in replace.items():
        for f in os.listdir(os.path.dirname(path)):
            if f.startswith(os.path.basename(path)):
                shutil.copy(os.path.join(os.path.dirname(path), f), d)
    with open(os.path.join(d, "manifest.yaml")) as f:
        m = yaml.safe_load(f)
    for e in m["engines"]:
        if e["stage"] == stage and e["name"] in replace:
            e["file"] = os.path.basename(replace[e["name"]])
            e["sha256"] = sha256(os.path.join(d, e["file"]))
    for name, path in (files or {}).items():
        shutil.copy(path, d)
        for e in m.get("files", []):
            if e["stage"] == stage and e["name"] == name:
                e["file"] = os.path.basename(path)
                e["sha256"] = sha256(os.path.join(d, e["file"]))
    with open(os.path.join(d, "manifest.yaml"), "w") as f:
        yaml.safe_dump(m, f, sort_keys=False)
    r = subprocess.run(["go", "run", "./cmd/body4d", "doctor", d], cwd=ROOT, capture_output=True, text=True)
    print(r.stdout.strip() or r.stderr.strip())
    shutil.rmtree(d)
    return r.returncode == 0
