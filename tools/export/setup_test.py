"""Tests of tools/export/setup.py that need no torch (CI: tools/export/setup_test.sh):
the pre-flight checks (a table: each wrong or missing file gives its one
line, and no export starts), resuming (fake exporters stand in for the real
ones), and --download against a local stand-in of the Hugging Face hub's
file endpoints (needs huggingface_hub).

    python3 -m unittest tools/export/setup_test.py
"""
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import setup  # noqa: E402

GB, MB = setup.GB, setup.MB


def write(path, data=b"", size=None):
    """A file starting with data, extended (sparse) to size bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        if size is not None:
            f.truncate(size)


def safetensors(path, size=None):
    head = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    write(path, len(head).to_bytes(8, "little") + head + b"\0\0\0\0", size)


def layout(root, real_sizes=True):
    """Every expected file in the reference layout, the right format, a
    size inside its released range (sparse: no disk used) or tiny."""
    for r in setup.REPOS:
        for f in r.files:
            p = os.path.join(root, f.path)
            size = (f.lo + f.hi) // 2 if real_sizes else None
            if f.fmt in ("torch", "zip"):
                write(p, b"PK\x03\x04" + b"\0" * 60, size)
            elif f.fmt == "safetensors":
                safetensors(p, size)
            elif f.fmt == "json":
                write(p, b'{"_class_name": "x"}' + b" " * 100)
            elif f.fmt == "yaml":
                write(p, b"MODEL:\n  BACKBONE:\n    TYPE: dinov3_vith16plus\n" + b"#" * 200)
            else:
                write(p, b"\0" * 2048, size)
    for s in setup.SOURCES:
        write(os.path.join(root, "src", s.name, s.marker), b"# checkout\n")


PLENTY = lambda _=None: 1 << 50  # noqa: E731


class Preflight(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="setup_test_")
        self.ck = os.path.join(self.dir, "ck")
        layout(self.ck)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def problems(self, env=None, free=PLENTY, mem=PLENTY):
        return setup.preflight(self.ck, os.path.join(self.dir, "out"), os.path.join(self.ck, "src"),
                               env=env or {}, free=free, mem=mem)

    def test_good_layout_has_no_problem(self):
        self.assertEqual(self.problems(), [])

    def test_table(self):
        ck = lambda p: os.path.join(self.ck, p)  # noqa: E731
        cases = [
            # (what, change, expected substrings of the one line)
            ("missing sam3.pt", lambda: os.remove(ck("sam3/sam3.pt")),
             ["missing: sam3/sam3.pt", ck("sam3/sam3.pt"), "hf download facebook/sam3 sam3.pt",
              "request access at https://huggingface.co/facebook/sam3"]),
            ("sam3.pt truncated", lambda: write(ck("sam3/sam3.pt"), b"PK\x03\x04", 300 * MB),
             ["wrong size: " + ck("sam3/sam3.pt"), "300.00 MB", "expected 2.00 GB to 5.00 GB"]),
            ("sam3.pt not a checkpoint", lambda: write(ck("sam3/sam3.pt"), b"<html>gated</html>", 3 * GB),
             ["wrong format: " + ck("sam3/sam3.pt"), "torch checkpoint", "<html>"]),
            ("model.ckpt missing", lambda: os.remove(ck("sam-3d-body-dinov3/model.ckpt")),
             ["missing: sam-3d-body-dinov3/model.ckpt", "hf download facebook/sam-3d-body-dinov3",
              "(gated: request access at https://huggingface.co/facebook/sam-3d-body-dinov3)"]),
            ("mhr_model.pt missing", lambda: os.remove(ck("sam-3d-body-dinov3/assets/mhr_model.pt")),
             ["missing: sam-3d-body-dinov3/assets/mhr_model.pt", "assets/mhr_model.pt"]),
            ("model_config.yaml binary", lambda: write(ck("sam-3d-body-dinov3/model_config.yaml"), b"\xff\xfe" * 100),
             ["wrong format: " + ck("sam-3d-body-dinov3/model_config.yaml"), "YAML"]),
            ("moge model.pt too large", lambda: write(ck("moge-2-vitl-normal/model.pt"), b"PK\x03\x04", 9 * GB),
             ["wrong size: " + ck("moge-2-vitl-normal/model.pt"), "Ruicheng/moge-2-vitl-normal"]),
            ("unet safetensors bad header",
             lambda: write(ck("diffusion-vas-amodal-segmentation/unet/diffusion_pytorch_model.safetensors"),
                           (10 * GB).to_bytes(8, "little"), 3 * GB),
             ["wrong format: ", "unet/diffusion_pytorch_model.safetensors", "is not safetensors: header length"]),
            ("model_index.json not JSON", lambda: write(ck("diffusion-vas-content-completion/model_index.json"), b"{oops" * 10),
             ["wrong format: " + ck("diffusion-vas-content-completion/model_index.json"), "is not JSON",
              "kaihuac/diffusion-vas-content-completion"]),
            ("depth file missing", lambda: os.remove(ck("depth_anything_v2_vitl.pth")),
             ["missing: depth_anything_v2_vitl.pth", "depth-anything/Depth-Anything-V2-Large"]),
            ("mhr asset missing", lambda: os.remove(ck("mhr-assets/lod1.fbx")),
             ["missing: mhr-assets/lod1.fbx", "curl -L", "releases/download", "unzip"]),
            ("MoGe checkout missing", lambda: shutil.rmtree(ck("src/MoGe")),
             ["missing source checkout: MoGe", "MOGE_SRC",
              "git clone https://github.com/microsoft/MoGe " + ck("src/MoGe"), "checkout 0744441"]),
            ("dinov3 checkout missing", lambda: shutil.rmtree(ck("src/dinov3")),
             ["missing source checkout: dinov3", "git clone https://github.com/facebookresearch/dinov3"]),
        ]
        for what, change, want in cases:
            with self.subTest(what):
                shutil.rmtree(self.ck)
                layout(self.ck)
                change()
                got = self.problems()
                self.assertEqual(len(got), 1, got)
                for w in want:
                    self.assertIn(w, got[0])

    def test_alternatives_and_legacy_format(self):
        d = os.path.join(self.ck, "diffusion-vas-amodal-segmentation", "unet")
        os.remove(os.path.join(d, "diffusion_pytorch_model.safetensors"))
        write(os.path.join(d, "diffusion_pytorch_model.bin"), b"PK\x03\x04", 3 * GB)
        write(os.path.join(self.ck, "depth_anything_v2_vitl.pth"), b"\x80\x02}q\x00", int(1.3 * GB))
        self.assertEqual(self.problems(), [])

    def test_source_env_overrides_place(self):
        other = os.path.join(self.dir, "elsewhere")
        got = self.problems(env={"DVAS_SRC": other})
        self.assertEqual(len(got), 1, got)
        self.assertIn("git clone https://github.com/Kaihua-Chen/diffusion-vas " + other, got[0])

    def test_whole_repo_missing_one_line_per_file(self):
        shutil.rmtree(os.path.join(self.ck, "diffusion-vas-content-completion"))
        got = self.problems()
        self.assertEqual(len(got), 9, got)
        self.assertTrue(all(g.startswith("missing: diffusion-vas-content-completion/") for g in got), got)

    def test_disk_and_memory(self):
        got = self.problems(free=lambda _: 10 * GB, mem=lambda: 4 * GB)
        self.assertEqual(len(got), 2, got)
        self.assertTrue(got[0].startswith("disk: 10.00 GB free"), got)
        self.assertTrue(got[1].startswith("memory: 4.00 GB available"), got)


# ---- resuming, with fake exporters ----

FAKE_EXPORTER = r'''
import hashlib, os, sys
stage, ckpt, out, log = sys.argv[1:5]
with open(log, "a") as f:
    f.write(stage + "\n")
if os.environ.get("FAIL_STAGE") == stage:
    sys.exit(3)
data = open(ckpt, "rb").read()
for i in range(2):
    with open(os.path.join(out, f"{stage}_{i}.onnx"), "wb") as f:
        f.write(hashlib.sha256(data + bytes([i])).digest())
with open(os.path.join(out, "manifest.yaml"), "a") as f:
    f.write(f"# {stage}\n")
'''

FAKE_BODY4D = r'''
import sys
with open(sys.argv[1], "a") as f:
    f.write(" ".join(sys.argv[2:]) + "\n")
'''


class Resume(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="setup_resume_")
        d = self.dir
        self.ck, self.out, self.log = os.path.join(d, "ck"), os.path.join(d, "models"), os.path.join(d, "ran.log")
        self.exporter = {s: os.path.join(d, f"export_{s}.py") for s in ("alpha", "beta")}
        for s, p in self.exporter.items():
            write(p, FAKE_EXPORTER.encode())
        write(os.path.join(d, "body4d.py"), FAKE_BODY4D.encode())
        write(os.path.join(self.ck, "alpha", "a.pt"), b"PK\x03\x04alpha")
        write(os.path.join(self.ck, "beta", "b.pt"), b"PK\x03\x04beta")
        self.repos = [setup.Repo("test/alpha", "alpha", [setup.File("alpha/a.pt", "torch", 1, 1 << 20)], False, "x"),
                      setup.Repo("test/beta", "beta", [setup.File("beta/b.pt", "torch", 1, 1 << 20)], False, "x")]

        def step(name):
            return setup.Step(name, [f"{name}/{name[0]}.pt"], [], [self.exporter[name]],
                              lambda c: [sys.executable, self.exporter[name], name,
                                         os.path.join(c.ckpt, f"{name}/{name[0]}.pt"), c.out, self.log])
        self.steps = [step("alpha"), step("beta")]

    def tearDown(self):
        shutil.rmtree(self.dir)

    def run_setup(self, *extra):
        argv = ["--checkpoints", self.ck, "--out", self.out, "--python", sys.executable,
                "--body4d", f"{sys.executable} {os.path.join(self.dir, 'body4d.py')} {self.log}"] + list(extra)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = setup.main(argv, steps=self.steps, repos=self.repos)
        return rc, out.getvalue(), err.getvalue()

    def ran(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            lines = f.read().splitlines()
        open(self.log, "w").close()
        return lines

    def test_resume(self):
        rc, out, err = self.run_setup()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.ran(), ["alpha", "beta", "doctor " + self.out] +
                         (["engines build --models " + self.out + " --out " + self.out + "-trt"]
                          if setup.have_gpu()[0] else []))
        # The summary: every file with its size and checksum, every step's time.
        for s in ("alpha", "beta"):
            for i in range(2):
                p = os.path.join(self.out, f"{s}_{i}.onnx")
                with open(p, "rb") as f:
                    sha = hashlib.sha256(f.read()).hexdigest()
                self.assertRegex(out, rf"{s}_{i}\.onnx\s+32 bytes\s+{sha}")
            self.assertRegex(out, rf"export {s}\s+[0-9.]+ s  exported 2 files")
        self.assertRegex(out, r"body4d doctor\s+[0-9.]+ s  passed")
        if not setup.have_gpu()[0]:
            self.assertIn("engines build: skipped", out)

        # A second run exports nothing.
        rc, out, err = self.run_setup()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.ran()[:1], ["doctor " + self.out])
        self.assertEqual(out.count("up to date (checkpoints and exporter unchanged)"), 2, out)

        # A checkpoint touched without changing its bytes: nothing again.
        t = time.time() + 5
        os.utime(os.path.join(self.ck, "alpha", "a.pt"), (t, t))
        self.run_setup()
        self.assertEqual(self.ran()[:1], ["doctor " + self.out])

        # One checkpoint changed: only its engines are exported again.
        before = {f: os.stat(os.path.join(self.out, f)).st_mtime_ns for f in ("beta_0.onnx", "beta_1.onnx")}
        write(os.path.join(self.ck, "alpha", "a.pt"), b"PK\x03\x04alpha, fine-tuned")
        rc, out, err = self.run_setup()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.ran()[:2], ["alpha", "doctor " + self.out])
        self.assertEqual(before, {f: os.stat(os.path.join(self.out, f)).st_mtime_ns for f in before})

        # Its exporter changed: that step only.
        with open(self.exporter["beta"], "a") as f:
            f.write("# changed\n")
        self.run_setup()
        self.assertEqual(self.ran()[:2], ["beta", "doctor " + self.out])

        # An output deleted or altered: its step runs again.
        os.remove(os.path.join(self.out, "alpha_1.onnx"))
        self.run_setup()
        self.assertEqual(self.ran()[:2], ["alpha", "doctor " + self.out])
        write(os.path.join(self.out, "beta_0.onnx"), b"not what beta wrote")
        self.run_setup()
        self.assertEqual(self.ran()[:2], ["beta", "doctor " + self.out])

    def test_only(self):
        os.remove(os.path.join(self.ck, "alpha", "a.pt"))  # not checked: alpha does not run
        rc, out, err = self.run_setup("--only", "beta")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.ran()[:2], ["beta", "doctor " + self.out])
        rc, out, err = self.run_setup("--only", "beta,gamma")
        self.assertEqual(rc, 2)
        self.assertIn("--only gamma: no such step (steps: alpha, beta)", err)

    def test_failed_step_stops_and_is_retried(self):
        os.environ["FAIL_STAGE"] = "alpha"
        try:
            rc, out, err = self.run_setup()
        finally:
            del os.environ["FAIL_STAGE"]
        self.assertEqual(rc, 1)
        self.assertEqual(self.ran(), ["alpha"])  # beta not started, no doctor
        self.assertIn("alpha: the exporter failed (exit 3)", err)
        rc, out, err = self.run_setup()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.ran()[:3], ["alpha", "beta", "doctor " + self.out])

    def test_preflight_failure_starts_nothing(self):
        os.remove(os.path.join(self.ck, "beta", "b.pt"))
        write(os.path.join(self.ck, "alpha", "a.pt"), b"{}")
        rc, out, err = self.run_setup()
        self.assertEqual(rc, 1)
        self.assertEqual(self.ran(), [])
        self.assertFalse(os.path.exists(self.out))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 3, err)
        self.assertTrue(lines[0].startswith("wrong format: " + os.path.join(self.ck, "alpha", "a.pt")), lines)
        self.assertTrue(lines[1].startswith("missing: beta/b.pt"), lines)
        self.assertEqual(lines[2], "setup: 2 problem(s) found before starting; nothing was exported")


# ---- --download against a local stand-in of the hub ----

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Hub(BaseHTTPRequestHandler):
    """The hub endpoints huggingface_hub's snapshot_download uses:
    /api/models/REPO/revision/REV, /api/models/REPO/tree/REV and
    /REPO/resolve/REV/PATH. A gated repository answers its files with 403
    and X-Error-Code: GatedRepo, as the hub does for a token without access
    (its model info stays public); `private` answers everything with 401."""
    repos = {}
    gated = set()
    private = set()

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        path = urllib.parse.urlparse(self.path).path
        m = re.match(r"^/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)", path) or \
            re.match(r"^/([^/]+/[^/]+)/(resolve)/([^/]+)/(.+)$", path)
        if not m or m.group(1) not in self.repos:
            return self.reply(404, b"{}", [("X-Error-Code", "RepoNotFound")])
        repo, kind = m.group(1), m.group(2)
        files = self.repos[repo]
        if repo in self.private:
            return self.reply(401, b'{"error": "Invalid credentials"}', [("X-Error-Message", "Invalid credentials")])
        if kind == "revision":
            body = {"id": repo, "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}
            return self.reply(200, json.dumps(body).encode(), [("Content-Type", "application/json")])
        if kind == "tree":
            body = [{"type": "file", "path": f, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                    for f, d in files.items()]
            return self.reply(200, json.dumps(body).encode(), [("Content-Type", "application/json")])
        if repo in self.gated:
            return self.reply(403, b'{"error": "gated"}', [("X-Error-Code", "GatedRepo"),
                                                            ("X-Error-Message", "Access to model is restricted")])
        name = urllib.parse.unquote(m.group(4))
        if name not in files:
            return self.reply(404, b"", [("X-Error-Code", "EntryNotFound")])
        d = files[name]
        self.reply(200, d, [("X-Repo-Commit", COMMIT), ("ETag", '"%s"' % hashlib.sha256(d).hexdigest()),
                            ("Content-Type", "application/octet-stream")])

    do_GET = do_HEAD = route


@unittest.skipIf(os.environ.get("SETUP_TEST_NO_HUB") == "1", "SETUP_TEST_NO_HUB=1")
class Download(unittest.TestCase):
    def setUp(self):
        import huggingface_hub  # noqa: F401 - fails, not skips, without it (setup_test.sh installs it)
        self.dir = tempfile.mkdtemp(prefix="setup_hub_")
        self.env = {k: os.environ.get(k) for k in ("HF_HOME", "HF_HUB_DISABLE_PROGRESS_BARS")}
        os.environ["HF_HOME"] = os.path.join(self.dir, "hf-home")
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        Hub.repos = {
            "Ruicheng/moge-2-vitl-normal": {"model.pt": b"PK\x03\x04moge", "README.md": b"not wanted"},
            "kaihuac/diffusion-vas-content-completion": {
                "model_index.json": b"{}", "unet/config.json": b"{}",
                "unet/diffusion_pytorch_model.safetensors": b"\x02\0\0\0\0\0\0\0{}",
                "other/ignored.bin": b"x"},
            "facebook/sam3": {"sam3.pt": b"PK\x03\x04sam3"},
            "facebook/sam-3d-body-dinov3": {"model.ckpt": b"PK\x03\x04"},
        }
        Hub.gated = {"facebook/sam3"}
        Hub.private = {"facebook/sam-3d-body-dinov3"}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.token = os.path.join(self.dir, "token")
        write(self.token, b"hf_test\n")

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        for k, v in self.env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(self.dir)

    def test_download(self):
        repos = [r for r in setup.REPOS if r.repo in Hub.repos]
        self.assertEqual(len(repos), 4)
        ck = os.path.join(self.dir, "ck")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            problems = setup.download(ck, self.token, repos, endpoint=self.endpoint)
        # Normal repositories: their files in the reference layout, nothing else.
        with open(os.path.join(ck, "moge-2-vitl-normal", "model.pt"), "rb") as f:
            self.assertEqual(f.read(), b"PK\x03\x04moge")
        self.assertFalse(os.path.exists(os.path.join(ck, "moge-2-vitl-normal", "README.md")))
        d = os.path.join(ck, "diffusion-vas-content-completion")
        self.assertTrue(os.path.isfile(os.path.join(d, "unet", "diffusion_pytorch_model.safetensors")))
        self.assertFalse(os.path.exists(os.path.join(d, "other")))
        # Gated ones: one line each, naming the repository and its access page.
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("download: facebook/sam3 refused this token (HTTP 403)", problems[0])
        self.assertIn("request it at https://huggingface.co/facebook/sam3 ", problems[0])
        self.assertIn("download: facebook/sam-3d-body-dinov3 refused this token (HTTP 401)", problems[1])
        self.assertIn("https://huggingface.co/facebook/sam-3d-body-dinov3", problems[1])
        self.assertFalse(os.path.exists(os.path.join(ck, "sam3", "sam3.pt")))

    def test_download_then_preflight_names_what_is_missing(self):
        """Through main: the gated repositories' lines, then pre-flight
        stops with the files still missing, and nothing is exported."""
        ck = os.path.join(self.dir, "ck")
        argv = ["--checkpoints", ck, "--out", os.path.join(self.dir, "models"), "--download", "--token-file", self.token,
                "--python", sys.executable, "--no-size-check"]
        repos = [r for r in setup.REPOS if r.repo in ("facebook/sam3", "Ruicheng/moge-2-vitl-normal")]
        steps = [s for s in setup.STEPS if s.name in ("segment",)]
        old = os.environ.get("HF_ENDPOINT")
        os.environ["HF_ENDPOINT"] = self.endpoint
        err = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                rc = setup.main(argv, steps=steps, repos=repos)
        finally:
            if old is None:
                del os.environ["HF_ENDPOINT"]
            else:
                os.environ["HF_ENDPOINT"] = old
        self.assertEqual(rc, 1)
        lines = err.getvalue().strip().splitlines()
        self.assertTrue(lines[0].startswith("download: facebook/sam3 refused this token (HTTP 403)"), lines)
        self.assertTrue(lines[1].startswith("missing: sam3/sam3.pt"), lines)
        self.assertEqual(lines[-1], "setup: 1 problem(s) found before starting; nothing was exported")
        self.assertTrue(os.path.isfile(os.path.join(ck, "moge-2-vitl-normal", "model.pt")))


if __name__ == "__main__":
    unittest.main()
