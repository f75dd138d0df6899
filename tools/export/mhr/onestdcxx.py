"""One libstdc++ per process for scripts that use pymomentum with torch.

pymomentum-cpu's wheel carries its own libstdc++ (pymomentum_cpu.libs/
libstdc++-pymomentum.so.6) beside the system one that torch loads. With both
in one process, Character.with_blend_shape, which MHR.from_files calls,
segfaults inside an ostream write (a locale facet of the other copy; seen
with pymomentum-cpu 0.1.114.post0, torch 2.8.0, Python 3.13). Preloading the
wheel's copy makes it the only one, so a script calls ensure() before it
imports torch or pymomentum: it re-executes the interpreter once with
LD_PRELOAD set.
"""

import glob
import importlib.util
import os
import sys


def ensure():
    spec = importlib.util.find_spec("pymomentum")
    if spec is None or spec.origin is None:
        return  # the import that follows reports the missing package
    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "pymomentum_cpu.libs", "libstdc++*"))
    preload = os.environ.get("LD_PRELOAD", "")
    if len(libs) != 1 or libs[0] in preload.split(":"):
        return
    env = dict(os.environ, LD_PRELOAD=libs[0] + (":" + preload if preload else ""))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
