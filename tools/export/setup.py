#!/usr/bin/env python3
"""From checkpoints to a checked model directory in one command
(tools/export/setup.sh wraps this file).

    tools/export/setup.sh --checkpoints DIR --out MODELS [--sources SRC]
        [--download --token-file F] [--python PY | --venv VENV]
        [--mhr-python PY | --mhr-venv VENV] [--body4d CMD] [--plans DIR]

DIR is laid out as the reference (SAM-Body4D's configs/body4d.yaml) lays
out its checkpoints, plus MHR's release assets:

    sam3/sam3.pt
    sam-3d-body-dinov3/model.ckpt, model_config.yaml, assets/mhr_model.pt
    moge-2-vitl-normal/model.pt
    diffusion-vas-amodal-segmentation/   (diffusers pipeline folder)
    diffusion-vas-content-completion/    (diffusers pipeline folder)
    depth_anything_v2_vitl.pth
    mhr-assets/                          (MHR's assets.zip, unzipped)

SRC (default DIR/src) holds checkouts of the networks whose code is not on
PyPI (sam-3d-body, dinov3, MoGe, diffusion-vas, Depth-Anything-V2); the
environment variables the exporters read (SAM3DB_SRC, ...) override it.

Order: pre-flight checks (every file present, with its size and format;
source checkouts; disk and memory; nothing starts if one fails, each
problem one line), the exporters' virtual environments from their pinned
requirements, every exporter in turn into MODELS (one manifest.yaml, each
exporter adding its entries), `body4d doctor MODELS`, and with a GPU
`body4d engines build`. A step whose checkpoint files, exporter sources and
outputs are unchanged since its last success (MODELS/.setup/STEP.json) is
not run again. The summary lists each engine file with its size and
sha256, and the time of each step.

This file needs only the standard library (huggingface_hub for
--download), so the checks and the resume logic are tested without torch
(tools/export/setup_test.py).
"""
import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
KB, MB, GB = 1 << 10, 1 << 20, 1 << 30
HUB = "https://huggingface.co"


class File:
    """One expected checkpoint file: path relative to the checkpoint
    folder, format, size range in bytes (bounds from the released files'
    parameter counts, generous: none of them could be downloaded where this
    was written), alternatives accepted in its place."""

    def __init__(self, path, fmt, lo, hi, alts=()):
        self.path, self.fmt, self.lo, self.hi, self.alts = path, fmt, lo, hi, tuple(alts)


class Repo:
    """Where a group of files comes from: a Hugging Face repository
    downloaded into `dest` (None: not on the hub, `fetch` says how)."""

    def __init__(self, repo, dest, files, gated, licence, fetch=None):
        self.repo, self.dest, self.files, self.gated, self.licence, self.fetch = repo, dest, files, gated, licence, fetch

    def how(self, root):
        if self.fetch:
            return self.fetch.format(dir=shlex.quote(os.path.join(root, self.dest)))
        pats = " ".join(shlex.quote(os.path.relpath(f.path, self.dest)) for f in self.files
                        if not f.path.endswith("/"))
        cmd = f"hf download {self.repo} {pats} --local-dir {shlex.quote(os.path.join(root, self.dest))}"
        if self.gated:
            cmd += f" (gated: request access at {HUB}/{self.repo})"
        return cmd + ", or run setup.sh with --download --token-file F"


def _dvas(dest):
    f = lambda p, fmt, lo, hi, alts=(): File(f"{dest}/{p}", fmt, lo, hi, [f"{dest}/{a}" for a in alts])
    return [
        f("model_index.json", "json", 10, 64 * KB),
        f("unet/config.json", "json", 10, 64 * KB),
        f("unet/diffusion_pytorch_model.safetensors", "safetensors", 2 * GB, 8 * GB, ["unet/diffusion_pytorch_model.bin"]),
        f("vae/config.json", "json", 10, 64 * KB),
        f("vae/diffusion_pytorch_model.safetensors", "safetensors", 150 * MB, 600 * MB, ["vae/diffusion_pytorch_model.bin"]),
        f("image_encoder/config.json", "json", 10, 64 * KB),
        f("image_encoder/model.safetensors", "safetensors", 1 * GB, 3 * GB, ["image_encoder/pytorch_model.bin"]),
        f("scheduler/scheduler_config.json", "json", 10, 64 * KB),
        f("feature_extractor/preprocessor_config.json", "json", 10, 64 * KB),
    ]


REPOS = [
    Repo("facebook/sam3", "sam3", [File("sam3/sam3.pt", "torch", 2 * GB, 5 * GB)], True, "SAM License"),
    Repo("facebook/sam-3d-body-dinov3", "sam-3d-body-dinov3", [
        File("sam-3d-body-dinov3/model.ckpt", "torch", 1 * GB, 8 * GB),
        File("sam-3d-body-dinov3/model_config.yaml", "yaml", 100, 1 * MB),
        File("sam-3d-body-dinov3/assets/mhr_model.pt", "torch", 50 * MB, 2 * GB),
    ], True, "SAM License"),
    Repo("Ruicheng/moge-2-vitl-normal", "moge-2-vitl-normal",
         [File("moge-2-vitl-normal/model.pt", "torch", 1 * GB, 2 * GB)], False,
         "MIT (code); see the model card"),
    Repo("kaihuac/diffusion-vas-amodal-segmentation", "diffusion-vas-amodal-segmentation",
         _dvas("diffusion-vas-amodal-segmentation"), False, "see the model card (fine-tuned from SVD-xt)"),
    Repo("kaihuac/diffusion-vas-content-completion", "diffusion-vas-content-completion",
         _dvas("diffusion-vas-content-completion"), False, "see the model card (fine-tuned from SVD-xt)"),
    Repo("depth-anything/Depth-Anything-V2-Large", ".",
         [File("depth_anything_v2_vitl.pth", "torch", 1 * GB, 2 * GB)], False, "CC-BY-NC-4.0"),
    Repo(None, "mhr-assets", [
        File("mhr-assets/lod1.fbx", "any", 1 * MB, 1 * GB),
        File("mhr-assets/compact_v6_1.model", "any", 1 * KB, 100 * MB),
        File("mhr-assets/corrective_blendshapes_lod1.npz", "zip", 10 * MB, 2 * GB),
        File("mhr-assets/corrective_activation.npz", "zip", 1 * KB, 500 * MB),
    ], False, "Apache-2.0",
         fetch="curl -L -o assets.zip https://github.com/facebookresearch/MHR/releases/download/v1.0.0/assets.zip"
               " && unzip -j assets.zip 'assets/*' -d {dir}"),
]


class Source:
    """A checkout of code that is not on PyPI: the exporters import it
    from the folder the environment variable `env` names."""

    def __init__(self, env, name, url, commit, marker):
        self.env, self.name, self.url, self.commit, self.marker = env, name, url, commit, marker

    def how(self, path):
        cmd = f"git clone {self.url} {shlex.quote(path)}"
        if self.commit:
            cmd += f" && git -C {shlex.quote(path)} checkout {self.commit}"
        return cmd


SOURCES = [
    Source("SAM3DB_SRC", "sam-3d-body", "https://github.com/facebookresearch/sam-3d-body", "b5c765a",
           "sam_3d_body/build_models.py"),
    Source("DINOV3_SRC", "dinov3", "https://github.com/facebookresearch/dinov3", None, "hubconf.py"),
    Source("MOGE_SRC", "MoGe", "https://github.com/microsoft/MoGe", "0744441", "moge/model/v2.py"),
    Source("DVAS_SRC", "diffusion-vas", "https://github.com/Kaihua-Chen/diffusion-vas", "bbea113",
           "models/diffusion_vas/unet_diffusion_vas.py"),
    Source("DAV2_SRC", "Depth-Anything-V2", "https://github.com/DepthAnything/Depth-Anything-V2", None,
           "depth_anything_v2/dpt.py"),
]


class Step:
    """One exporter run. inputs: checkpoint files (relative to the
    checkpoint folder; a trailing / is a whole folder); exporter: its
    source files (relative to the repository root); argv(ctx): the
    command; python: "main" or "mhr" (which environment runs it)."""

    def __init__(self, name, inputs, sources, exporter, argv, python="main", after=None):
        self.name, self.inputs, self.sources, self.exporter = name, inputs, sources, exporter
        self.argv, self.python, self.after = argv, python, after


def _zip_mhr(ctx):
    """mhr/convert.py writes a folder; the manifest lists it as one zip
    (as make_tiny.py's mesh_mhr.npz), so one checksum covers it."""
    src = os.path.join(ctx.work, "mhr")
    with zipfile.ZipFile(os.path.join(ctx.out, "mesh_mhr.npz"), "w", compression=zipfile.ZIP_STORED) as z:
        for name in sorted(os.listdir(src)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with open(os.path.join(src, name), "rb") as f:
                z.writestr(info, f.read())
    shutil.rmtree(src)
    return [ctx.python, os.path.join(HERE, "setup_manifest.py"), ctx.out, "mesh", "file:mhr=mesh_mhr.npz"]


def _ck(ctx, p):
    return os.path.join(ctx.ckpt, p)


STEPS = [
    Step("segment", ["sam3/sam3.pt"], [], ["tools/export/segment/export.py", "tools/export/exportlib.py"],
         lambda c: [c.python, "tools/export/segment/export.py", "--checkpoint", _ck(c, "sam3/sam3.pt"), "--out", c.out]),
    Step("mesh", ["sam-3d-body-dinov3/model.ckpt", "sam-3d-body-dinov3/model_config.yaml",
                  "sam-3d-body-dinov3/assets/mhr_model.pt"], ["SAM3DB_SRC", "DINOV3_SRC"],
         ["tools/export/mesh/export.py", "tools/export/exportlib.py"],
         lambda c: [c.python, "tools/export/mesh/export.py", _ck(c, "sam-3d-body-dinov3"), c.out]),
    Step("mhr", ["mhr-assets/", "sam-3d-body-dinov3/model.ckpt"], [],
         ["tools/export/mhr/convert.py", "tools/export/mhr/assetfmt.py", "tools/export/setup_manifest.py"],
         lambda c: [c.mhr_python, "tools/export/mhr/convert.py", _ck(c, "mhr-assets"), os.path.join(c.work, "mhr"),
                    "--sam3db-ckpt", _ck(c, "sam-3d-body-dinov3/model.ckpt")], python="mhr", after=_zip_mhr),
    Step("fov", ["moge-2-vitl-normal/model.pt"], ["MOGE_SRC"], ["tools/export/fov/export.py", "tools/export/exportlib.py"],
         lambda c: [c.python, "tools/export/fov/export.py", "--checkpoint", _ck(c, "moge-2-vitl-normal/model.pt"),
                    "--out", c.out]),
    Step("amodal", ["diffusion-vas-amodal-segmentation/", "diffusion-vas-content-completion/"], ["DVAS_SRC"],
         ["tools/export/amodal/export.py", "tools/export/exportlib.py"],
         lambda c: [c.python, "tools/export/amodal/export.py",
                    "--amodal-segmentation", _ck(c, "diffusion-vas-amodal-segmentation"),
                    "--content-completion", _ck(c, "diffusion-vas-content-completion"), "--out", c.out]),
    Step("depth", ["depth_anything_v2_vitl.pth"], ["DAV2_SRC"],
         ["tools/export/amodal/export_depth.py", "tools/export/exportlib.py"],
         lambda c: [c.python, "tools/export/amodal/export_depth.py", "--checkpoint", _ck(c, "depth_anything_v2_vitl.pth"),
                    "--out", c.out]),
]


# ---- pre-flight ----

def file_format_problem(path, fmt):
    """None when the file's first bytes fit fmt, else what is wrong."""
    with open(path, "rb") as f:
        head = f.read(16)
        if fmt in ("torch", "zip"):
            if head[:4] == b"PK\x03\x04":
                return None
            if fmt == "torch" and head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
                return None  # torch.save's legacy (pickle) format
            want = "a torch checkpoint (zip or pickle)" if fmt == "torch" else "a zip (.npz) archive"
            return f"is not {want}: it starts with {head[:8]!r}"
        if fmt == "safetensors":
            if len(head) < 8:
                return "is not safetensors: shorter than its 8-byte header length"
            n = int.from_bytes(head[:8], "little")
            size = os.path.getsize(path)
            if n <= 0 or n + 8 > size or n > 100 * MB:
                return f"is not safetensors: header length {n} does not fit in {size} bytes"
            f.seek(8)
            try:
                json.loads(f.read(n))
            except ValueError:
                return "is not safetensors: its header is not JSON"
            return None
        if fmt == "json":
            f.seek(0)
            try:
                json.loads(f.read())
            except ValueError as e:
                return f"is not JSON ({e})"
            return None
        if fmt == "yaml":
            f.seek(0)
            try:
                text = f.read().decode("utf-8")
            except UnicodeDecodeError:
                return "is not YAML text (not UTF-8)"
            if ":" not in text:
                return "is not a YAML mapping (no key: value line)"
            return None
    return None


def human(n):
    for unit, size in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bytes"


def check_files(ckpt, repos=REPOS, sizes=True):
    """One line per missing, wrong-size or wrong-format file."""
    problems = []
    for r in repos:
        for f in r.files:
            cands = [f.path] + list(f.alts)
            found = next((c for c in cands if os.path.isfile(os.path.join(ckpt, c))), None)
            where = os.path.join(ckpt, f.path)
            if found is None:
                alt = f" (or {', '.join(f.alts)})" if f.alts else ""
                problems.append(f"missing: {f.path}{alt}, expected at {where}; get it: {r.how(ckpt)}")
                continue
            p = os.path.join(ckpt, found)
            fmt = "torch" if found.endswith(".bin") else f.fmt
            size = os.path.getsize(p)
            if sizes and not (f.lo <= size <= f.hi):
                problems.append(f"wrong size: {p} is {human(size)}, expected {human(f.lo)} to {human(f.hi)} "
                                f"(a partial or wrong download?); get it again: {r.how(ckpt)}")
                continue
            if fmt != "any":
                bad = file_format_problem(p, fmt)
                if bad:
                    problems.append(f"wrong format: {p} {bad}; get it again: {r.how(ckpt)}")
    return problems


def source_dirs(src_root, env=None):
    env = os.environ if env is None else env
    return {s.env: env.get(s.env) or os.path.join(src_root, s.name) for s in SOURCES}


def check_sources(dirs, needed):
    problems = []
    for s in SOURCES:
        if s.env not in needed:
            continue
        d = dirs[s.env]
        if not os.path.isfile(os.path.join(d, s.marker)):
            problems.append(f"missing source checkout: {s.name} (no {s.marker} in {d}; {s.env} overrides the place); "
                            f"get it: {s.how(d)}")
    return problems


def total_size(ckpt, steps):
    sizes = []
    for st in steps:
        for p in st.inputs:
            full = os.path.join(ckpt, p)
            if os.path.isdir(full):
                sizes.append(sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(full) for f in fs))
            elif os.path.isfile(full):
                sizes.append(os.path.getsize(full))
    return sizes


def disk_free(path):
    while not os.path.exists(path):
        path = os.path.dirname(path) or "."
    return shutil.disk_usage(path).free


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * KB
    return 0


def check_resources(ckpt, out, steps, free=disk_free, mem=mem_available):
    """Disk: the ONNX files are float32 (up to twice a half-precision
    checkpoint) and each exporter re-saves through a temporary copy of its
    largest engine. Memory: the largest checkpoint loaded, traced and
    serialised, about three times its size. Both are estimates."""
    sizes = total_size(ckpt, steps)
    if not sizes:
        return []
    problems = []
    need_disk = 2 * sum(sizes) + max(sizes)
    have = free(out)
    if have < need_disk:
        problems.append(f"disk: {human(have)} free where {out} goes, the exports need about {human(need_disk)}; "
                        f"free space or choose another --out")
    need_mem = 3 * max(sizes)
    have = mem()
    if have < need_mem:
        problems.append(f"memory: {human(have)} available, the largest export needs about {human(need_mem)}; "
                        f"close other programs or use a larger machine")
    return problems


def preflight(ckpt, out, src_root, steps=STEPS, repos=REPOS, sizes=True, env=None, free=disk_free, mem=mem_available):
    problems = check_files(ckpt, repos, sizes)
    needed = {e for st in steps for e in st.sources}
    problems += check_sources(source_dirs(src_root, env), needed)
    problems += check_resources(ckpt, out, steps, free, mem)
    return problems


# ---- hashing and stamps ----

class Hashes:
    """sha256 of files, cached by (size, mtime) in MODELS/.setup/hashes.json
    so that a rerun does not read every checkpoint again; a file whose size
    or mtime changed is read again."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path) as f:
                self.cache = json.load(f)
        except (OSError, ValueError):
            self.cache = {}

    def file(self, p):
        p = os.path.abspath(p)
        st = os.stat(p)
        key = [st.st_size, st.st_mtime_ns]
        c = self.cache.get(p)
        if c and c[:2] == key:
            return c[2]
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        self.cache[p] = key + [h.hexdigest()]
        return h.hexdigest()

    def tree(self, p):
        """{relative path: sha256} of a file or of every file under a folder."""
        if os.path.isfile(p):
            return {os.path.basename(p): self.file(p)}
        out = {}
        for dp, dns, fs in os.walk(p):
            dns[:] = sorted(d for d in dns if not d.startswith("."))
            for f in sorted(fs):
                out[os.path.relpath(os.path.join(dp, f), p)] = self.file(os.path.join(dp, f))
        return out

    def save(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.cache, f)
        os.replace(tmp, self.path)


def step_key(st, ckpt, root, hashes):
    """What a step's result depends on: its checkpoint files' and its
    exporter's contents."""
    return {"inputs": {p: hashes.tree(os.path.join(ckpt, p.rstrip("/"))) for p in st.inputs},
            "exporter": {p: hashes.file(os.path.join(root, p)) for p in st.exporter}}


def snapshot(out):
    """(size, mtime) of each file directly in the model directory but the
    manifest (which every step updates)."""
    snap = {}
    for f in os.listdir(out):
        p = os.path.join(out, f)
        if f != "manifest.yaml" and os.path.isfile(p):
            st = os.stat(p)
            snap[f] = (st.st_size, st.st_mtime_ns)
    return snap


def stamp_path(out, st):
    return os.path.join(out, ".setup", st.name + ".json")


def up_to_date(st, out, key, hashes):
    try:
        with open(stamp_path(out, st)) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    if stamp.get("key") != key or not os.path.isfile(os.path.join(out, "manifest.yaml")):
        return False
    for f, sha in stamp.get("outputs", {}).items():
        p = os.path.join(out, f)
        if not os.path.isfile(p) or hashes.file(p) != sha:
            return False
    return True


# ---- running ----

class Context:
    def __init__(self, ckpt, out, python, mhr_python, env):
        self.ckpt, self.out, self.python, self.mhr_python, self.env = ckpt, out, python, mhr_python, env
        self.work = os.path.join(out, ".setup", "work")


def run_cmd(argv, env, log):
    """Run argv from the repository root, its output to log (and the
    terminal); the exit status."""
    print("  $ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    with open(log, "ab") as lf:
        p = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in p.stdout:
            lf.write(line)
            sys.stdout.write("    " + line.decode("utf-8", "replace"))
        sys.stdout.flush()
        return p.wait()


def export_steps(ctx, steps, hashes, times):
    """Run each step that is not up to date; returns {step: status} and
    stops at the first failure (later steps would not be checked)."""
    status = {}
    os.makedirs(ctx.work, exist_ok=True)
    for st in steps:
        t0 = time.monotonic()
        key = step_key(st, ctx.ckpt, ROOT, hashes)
        if up_to_date(st, ctx.out, key, hashes):
            status[st.name] = "up to date"
            times.append((f"export {st.name}", time.monotonic() - t0, "up to date, not run"))
            print(f"== {st.name}: up to date (checkpoints and exporter unchanged), not exported again", flush=True)
            continue
        print(f"== {st.name}: exporting", flush=True)
        try:
            os.remove(stamp_path(ctx.out, st))
        except FileNotFoundError:
            pass
        before = snapshot(ctx.out)
        log = os.path.join(ctx.out, ".setup", st.name + ".log")
        rc = run_cmd(st.argv(ctx), ctx.env, log)
        if rc == 0 and st.after is not None:
            rc = run_cmd(st.after(ctx), ctx.env, log)
        if rc != 0:
            status[st.name] = "failed"
            times.append((f"export {st.name}", time.monotonic() - t0, f"FAILED (exit {rc}, log {log})"))
            print(f"setup: {st.name}: the exporter failed (exit {rc}); its output is in {log}", file=sys.stderr)
            return status, False
        after = snapshot(ctx.out)
        outputs = {f: hashes.file(os.path.join(ctx.out, f)) for f in sorted(after) if before.get(f) != after[f]}
        with open(stamp_path(ctx.out, st), "w") as f:
            json.dump({"key": key, "outputs": outputs}, f, indent=1)
        hashes.save()
        status[st.name] = "exported"
        times.append((f"export {st.name}", time.monotonic() - t0, f"exported {len(outputs)} files"))
    return status, True


def have_gpu():
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False, "no nvidia-smi"
    r = subprocess.run([smi, "-L"], capture_output=True, text=True)
    if r.returncode != 0 or "GPU" not in r.stdout:
        return False, "nvidia-smi lists no GPU"
    return True, r.stdout.strip().splitlines()[0]


def venv_python(venv, requirements, base_python, times, label):
    """The venv's python, created and filled from the pinned requirements
    unless it already holds exactly them (a stamp of their hash)."""
    t0 = time.monotonic()
    py = os.path.join(venv, "bin", "python")
    want = hashlib.sha256(b"".join(open(r, "rb").read() for r in requirements)).hexdigest()
    stamp = os.path.join(venv, ".body4d-requirements")
    if os.path.isfile(py) and os.path.isfile(stamp) and open(stamp).read().strip() == want:
        times.append((f"venv {label}", time.monotonic() - t0, "up to date"))
        return py
    print(f"== venv {label}: {venv} from " + ", ".join(os.path.relpath(r, ROOT) for r in requirements), flush=True)
    subprocess.run([base_python, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    args = [py, "-m", "pip", "install", "-q"]
    for r in requirements:
        args += ["-r", r]
    subprocess.run(args, check=True)
    with open(stamp, "w") as f:
        f.write(want + "\n")
    times.append((f"venv {label}", time.monotonic() - t0, "installed"))
    return py


def summary(out, statuses, times):
    print("\n== summary")
    engines = []
    for f in sorted(os.listdir(out)):
        p = os.path.join(out, f)
        if os.path.isfile(p) and f != "manifest.yaml":
            engines.append(f)
    hashes = Hashes(os.path.join(out, ".setup", "hashes.json"))
    width = max([len(f) for f in engines] + [4])
    print(f"{'file':<{width}}  {'size':>10}  sha256")
    for f in engines:
        p = os.path.join(out, f)
        print(f"{f:<{width}}  {human(os.path.getsize(p)):>10}  {hashes.file(p)}")
    hashes.save()
    print()
    for what, secs, note in times:
        print(f"{what:<22} {secs:9.1f} s  {note}")
    for name, st in statuses.items():
        if st == "failed":
            print(f"{name}: FAILED")


# ---- download ----

def download(ckpt, token_file, repos=REPOS, endpoint=None):
    """Each hub repository's files into the checkpoint layout. A gated
    repository this token has not been granted (401/403) gives one line
    naming it and its access page; the others still download. Returns the
    problem lines."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError
    token = None
    if token_file:
        with open(token_file) as f:
            token = f.read().strip()
    problems = []
    for r in repos:
        if r.repo is None:
            print(f"download: {r.dest}/ is not on the Hugging Face hub: {r.how(ckpt)}")
            continue
        pats = [os.path.relpath(f.path, r.dest) for f in r.files] + \
               [os.path.relpath(a, r.dest) for f in r.files for a in f.alts]
        dest = os.path.join(ckpt, r.dest)
        print(f"download: {r.repo} -> {dest}", flush=True)
        try:
            snapshot_download(r.repo, local_dir=dest, allow_patterns=pats, token=token, endpoint=endpoint)
        except Exception as e:  # noqa: BLE001 - each repository's failure is reported, the others go on
            code = http_status(e, HfHubHTTPError)
            if code in (401, 403):
                problems.append(f"download: {r.repo} refused this token (HTTP {code}): the repository is gated and "
                                f"access has not been granted; request it at {HUB}/{r.repo} and run again")
            else:
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                problems.append(f"download: {r.repo} failed: {first}")
    return problems


def http_status(e, http_error):
    """The HTTP status behind e: huggingface_hub raises the hub's answer
    itself or, where it fell back to local files, an error caused by it."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, http_error):
            code = getattr(getattr(e, "response", None), "status_code", None)
            if code is not None:
                return code
        e = e.__cause__ or e.__context__
    return None


# ---- main ----

def only_inputs(repos, steps):
    """The repositories and files that these steps read."""
    inputs = [i for st in steps for i in st.inputs]
    keep = lambda f: any(f.path == i or (i.endswith("/") and f.path.startswith(i)) for i in inputs)  # noqa: E731
    out = []
    for r in repos:
        files = [f for f in r.files if keep(f)]
        if files:
            out.append(Repo(r.repo, r.dest, files, r.gated, r.licence, r.fetch))
    return out


def main(argv=None, steps=STEPS, repos=REPOS):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", required=True, help="checkpoint folder in the reference layout")
    ap.add_argument("--out", required=True, help="model directory to write (created)")
    ap.add_argument("--sources", help="folder of source checkouts (default CHECKPOINTS/src)")
    ap.add_argument("--download", action="store_true", help="fetch the checkpoints with huggingface_hub first")
    ap.add_argument("--token-file", help="Hugging Face token for --download")
    ap.add_argument("--python", help="use this Python for the exporters (no venv made)")
    ap.add_argument("--venv", default=os.path.join(os.path.expanduser("~"), ".cache", "body4d", "export-venv"))
    ap.add_argument("--mhr-python", help="use this Python (3.12 or 3.13, requirements-mhr.txt) for mhr/convert.py")
    ap.add_argument("--mhr-venv", default=os.path.join(os.path.expanduser("~"), ".cache", "body4d", "mhr-venv"))
    ap.add_argument("--body4d", help="body4d command (default: bin/body4d, else go run ./cmd/body4d)")
    ap.add_argument("--plans", help="where body4d engines build writes TensorRT plans (default OUT-trt)")
    ap.add_argument("--ranges", help="--ranges file for body4d engines build")
    ap.add_argument("--only", help="run only these steps (comma-separated: " + ",".join(st.name for st in steps) +
                    "); only their files and checkouts are checked")
    ap.add_argument("--no-size-check", action="store_true",
                    help="accept files outside the released sizes (the shrunk random-weight test checkpoints)")
    a = ap.parse_args(argv)
    ckpt, out = os.path.abspath(a.checkpoints), os.path.abspath(a.out)
    src_root = os.path.abspath(a.sources or os.path.join(ckpt, "src"))
    times = []
    if a.only:
        names = a.only.split(",")
        unknown = [n for n in names if n not in {st.name for st in steps}]
        if unknown:
            print(f"setup: --only {','.join(unknown)}: no such step (steps: {', '.join(st.name for st in steps)})",
                  file=sys.stderr)
            return 2
        steps = [st for st in steps if st.name in names]
        repos = only_inputs(repos, steps)

    if a.token_file and not a.download:
        print("setup: --token-file is only read with --download", file=sys.stderr)
        return 2
    if a.download:
        t0 = time.monotonic()
        os.makedirs(ckpt, exist_ok=True)
        for line in download(ckpt, a.token_file, repos, endpoint=os.environ.get("HF_ENDPOINT")):
            print(line, file=sys.stderr)
        times.append(("download", time.monotonic() - t0, ""))

    t0 = time.monotonic()
    problems = preflight(ckpt, out, src_root, steps, repos, sizes=not a.no_size_check)
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"setup: {len(problems)} problem(s) found before starting; nothing was exported", file=sys.stderr)
        return 1
    times.append(("pre-flight", time.monotonic() - t0, "all files, sources, disk and memory ok"))

    env = dict(os.environ)
    env.update(source_dirs(src_root))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    req = [os.path.join(HERE, "requirements-setup.txt")]
    python = a.python or venv_python(a.venv, req, sys.executable, times, "exporters")
    mhr_python = a.mhr_python
    if mhr_python is None and any(st.python == "mhr" for st in steps):
        base = shutil.which("python3.12") or shutil.which("python3.13")
        if base is None:
            print("setup: mhr/convert.py needs Python 3.12 or 3.13 (pymomentum-cpu ships only cp312 and cp313 "
                  "wheels): install python3.12 or python3.13, or pass --mhr-python", file=sys.stderr)
            return 1
        mhr_python = venv_python(a.mhr_venv, [os.path.join(HERE, "mhr", "requirements-mhr.txt")], base, times, "mhr")

    os.makedirs(os.path.join(out, ".setup"), exist_ok=True)
    hashes = Hashes(os.path.join(out, ".setup", "hashes.json"))
    ctx = Context(ckpt, out, python, mhr_python, env)
    statuses, ok = export_steps(ctx, steps, hashes, times)
    hashes.save()
    if not ok:
        summary(out, statuses, times)
        return 1

    body4d = shlex.split(a.body4d) if a.body4d else (
        [os.path.join(ROOT, "bin", "body4d")] if os.path.isfile(os.path.join(ROOT, "bin", "body4d"))
        else ["go", "run", "./cmd/body4d"])
    t0 = time.monotonic()
    print("== body4d doctor", flush=True)
    rc = run_cmd(body4d + ["doctor", out], env, os.path.join(out, ".setup", "doctor.log"))
    times.append(("body4d doctor", time.monotonic() - t0, "passed" if rc == 0 else f"FAILED (exit {rc})"))
    if rc != 0:
        summary(out, statuses, times)
        print("setup: body4d doctor found problems (above)", file=sys.stderr)
        return 1

    gpu, why = have_gpu()
    t0 = time.monotonic()
    if gpu:
        plans = os.path.abspath(a.plans or out + "-trt")
        print(f"== body4d engines build ({why}) -> {plans}", flush=True)
        cmd = body4d + ["engines", "build", "--models", out, "--out", plans] + (["--ranges", a.ranges] if a.ranges else [])
        rc = run_cmd(cmd, env, os.path.join(out, ".setup", "engines.log"))
        times.append(("engines build", time.monotonic() - t0, "built" if rc == 0 else f"FAILED (exit {rc})"))
        if rc != 0:
            summary(out, statuses, times)
            return 1
    else:
        print(f"== body4d engines build: skipped ({why}; TensorRT plans are built on the GPU machine)")
        times.append(("engines build", 0.0, f"skipped: {why}"))
    summary(out, statuses, times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
