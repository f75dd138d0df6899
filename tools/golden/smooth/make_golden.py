#!/usr/bin/env python3
"""Golden files for body4d's smooth package (testdata/smooth/).

  python make_golden.py <sam-body4d checkout or bare git dir> [out_dir]

Writes, from fixed-seed sequences:
  kalman.json     constant-velocity Kalman + RTS by filterpy (KalmanFilter,
                  batch_filter, rts_smoother) and by pykalman (smooth), per dim
  oneeuro.json    One-Euro filter written here from the paper's formulas
  reference.json  + reference_*.npy: the reference tool's own smoother
                  (utils/kalman.py of sam-body4d), imported from the checkout
                  given on the command line and called as meta.py calls it.
Nothing of the reference is copied here: its module is imported from the
checkout. It imports torch only to wrap arrays, so a minimal stand-in module
providing from_numpy/detach/cpu/numpy/to is installed before the import.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
from filterpy.kalman import KalmanFilter as FPKalman
from pykalman import KalmanFilter as PKKalman

F = np.array([[1.0, 1.0], [0.0, 1.0]])
H = np.array([[1.0, 0.0]])


def kalman_filterpy(y, observed, qp, qv, r, p0):
    out = np.empty_like(y)
    first = int(np.argmax(observed))
    for d in range(y.shape[1]):
        kf = FPKalman(dim_x=2, dim_z=1)
        kf.F = F.copy()
        kf.H = H.copy()
        kf.Q = np.diag([qp, qv])
        kf.R = np.array([[r]])
        kf.x = np.array([[y[first, d]], [0.0]])
        kf.P = np.eye(2) * p0
        zs = [float(y[t, d]) if observed[t] else None for t in range(len(y))]
        mu, cov, _, _ = kf.batch_filter(zs)
        xs, _, _, _ = kf.rts_smoother(mu, cov)
        out[:, d] = xs[:, 0, 0]
    return out


def kalman_pykalman(y, observed, qp, qv, r, p0):
    # pykalman's initial state is the prior of frame 0 (no predict before
    # the first update); filterpy predicts first, so give pykalman the
    # predicted prior F·x0, F·P0·Fᵀ + Q.
    out = np.empty_like(y)
    first = int(np.argmax(observed))
    Q = np.diag([qp, qv])
    P0 = np.eye(2) * p0
    for d in range(y.shape[1]):
        x0 = np.array([y[first, d], 0.0])
        kf = PKKalman(transition_matrices=F, observation_matrices=H,
                      transition_covariance=Q, observation_covariance=np.array([[r]]),
                      initial_state_mean=F @ x0, initial_state_covariance=F @ P0 @ F.T + Q)
        z = np.ma.masked_array(y[:, d:d + 1], mask=~np.asarray(observed)[:, None])
        means, _ = kf.smooth(z)
        out[:, d] = means[:, 0]
    return out


def one_euro(y, observed, min_cutoff, beta, d_cutoff, rate):
    """Casiez et al. 2012: x̂ᵢ = α(fc)·xᵢ + (1−α)·x̂ᵢ₋₁, fc = min_cutoff + β|dx̂ᵢ|,
    dx̂ᵢ = α(d_cutoff)·(xᵢ − x̂ᵢ₋₁)/Tₑ + (1−α)·dx̂ᵢ₋₁, α(fc) = 1/(1 + τ/Tₑ), τ = 1/(2π·fc).
    Unobserved frames hold the last estimate; frames before the first
    observation take its value."""
    def alpha(fc, te):
        tau = 1.0 / (2.0 * np.pi * fc)
        return 1.0 / (1.0 + tau / te)

    out = y.copy()
    obs_idx = [t for t in range(len(y)) if observed[t]]
    first = obs_idx[0]
    x = y[first].copy()
    dx = np.zeros(y.shape[1])
    out[: first + 1] = x
    last = first
    for t in range(first + 1, len(y)):
        if not observed[t]:
            out[t] = x
            continue
        te = (t - last) / rate
        ad = alpha(d_cutoff, te)
        for d in range(y.shape[1]):
            dx[d] = ad * (y[t, d] - x[d]) / te + (1 - ad) * dx[d]
            a = alpha(min_cutoff + beta * abs(dx[d]), te)
            x[d] = a * y[t, d] + (1 - a) * x[d]
        out[t] = x
        last = t
    return out


def random_track(rng, T, D, noise, drift):
    steps = rng.normal(0, drift, size=(T, D))
    return np.cumsum(steps, axis=0) + rng.normal(0, noise, size=(T, D))


def kalman_cases(rng):
    cases = []
    for name, T, D, miss, params in [
        ("all_observed", 50, 4, 0.0, (1e-4, 1e-6, 1e-2, 1.0)),
        ("missing", 60, 3, 0.3, (1e-4, 1e-6, 1e-2, 1.0)),
        ("first_missing_other_noise", 45, 3, 0.2, (3e-3, 1e-4, 5e-2, 2.0)),
    ]:
        y = random_track(rng, T, D, 0.05, 0.02)
        obs = rng.random(T) >= miss
        if name == "first_missing_other_noise":
            obs[:3] = False
        qp, qv, r, p0 = params
        cases.append(dict(
            name=name, q_pos=qp, q_vel=qv, r=r, p0=p0,
            y=y.tolist(), observed=obs.tolist(),
            filterpy=kalman_filterpy(y, obs, qp, qv, r, p0).tolist(),
            pykalman=kalman_pykalman(y, obs, qp, qv, r, p0).tolist(),
        ))
    return cases


def oneeuro_cases(rng):
    cases = []
    for name, T, D, miss, params in [
        ("all_observed", 80, 4, 0.0, (1.0, 0.05, 1.0, 30.0)),
        ("missing_fast", 80, 3, 0.25, (0.5, 2.0, 1.5, 25.0)),
    ]:
        y = random_track(rng, T, D, 0.03, 0.05)
        obs = rng.random(T) >= miss
        obs[0] = name == "all_observed"
        mc, beta, dc, rate = params
        cases.append(dict(
            name=name, min_cutoff=mc, beta=beta, d_cutoff=dc, rate=rate,
            y=y.tolist(), observed=obs.tolist(),
            want=one_euro(y, obs, mc, beta, dc, rate).tolist(),
        ))
    return cases


def load_reference(checkout):
    class Tensor:
        def __init__(self, a):
            self.a = np.asarray(a)
            self.device = "cpu"
            self.shape = self.a.shape

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

        def to(self, device):
            return self

    torch = types.ModuleType("torch")
    torch.from_numpy = Tensor
    torch.Tensor = Tensor
    sys.modules.setdefault("torch", torch)
    path = os.path.join(checkout, "utils", "kalman.py")
    if not os.path.exists(path):
        # A bare mirror (as the fetch tool leaves it): read the file at HEAD
        # into a temporary directory and import it from there.
        src = subprocess.run(["git", "--git-dir", checkout, "show", "HEAD:utils/kalman.py"],
                             check=True, capture_output=True).stdout
        path = os.path.join(tempfile.mkdtemp(), "kalman.py")
        with open(path, "wb") as f:
            f.write(src)
    spec = importlib.util.spec_from_file_location("sam_body4d_kalman", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, Tensor


def reference_case(rng, kal, Tensor, out_dir):
    """One 48-frame chunk with 3 people laid out as the reference lays it
    out (row t*N + obj_id-1), exercising static, spiky, always-moving,
    occluded-at-start/middle/end and absent frames."""
    T, N = 48, 3
    widths = {"body_pose": 133, "hand": 108, "global_rot": 3}
    # per person: (pose noise, rot noise)
    style = {1: (0.002, 0.003), 2: (0.006, 0.012), 3: (0.05, 0.1)}
    data = {k: np.zeros((T * N, w), dtype=np.float32) for k, w in widths.items()}
    for obj in range(1, N + 1):
        pn, rn = style[obj]
        for k, w in widths.items():
            n = rn if k == "global_rot" else pn
            base = rng.normal(0, 0.5, size=w)
            seq = base + np.cumsum(rng.normal(0, n * 0.3, size=(T, w)), axis=0) + rng.normal(0, n, size=(T, w))
            data[k][obj - 1::N] = seq.astype(np.float32)
    # occluded frames far from their neighbours, graded so the blend takes
    # each of its weights (0.82 / 0.65 / 0.45 by per-dim distance)
    for t, c in ((16, 0.8), (17, 0.8), (18, 1.7), (19, 1.7)):
        data["body_pose"][t * N + 0] += c
    for t, c in ((25, 0.75), (26, 1.6)):
        data["hand"][t * N + 1] += c
    # spikes for person 1 (pose and rot) and 2
    data["body_pose"][10 * N + 0, :3] += 0.3
    data["hand"][30 * N + 1, :3] += 0.3
    data["global_rot"][20 * N + 0] += 0.05
    present = {obj: [True] * T for obj in range(1, N + 1)}
    for t in (40, 41):
        present[2][t] = False
    present[3][5] = False
    vis = {obj: [1] * T for obj in range(1, N + 1)}
    for t in range(14, 20):
        vis[1][t] = 0
    for t in range(0, 4):
        vis[2][t] = 0
    for t in range(24, 27):
        vis[2][t] = 0
    for t in range(44, 48):
        vis[3][t] = 0
    for t in range(20, 23):
        vis[3][t] = 0
    # occlusion segments inside the rot case as well (same flags)
    frame_obj_ids = [[obj for obj in range(1, N + 1) if present[obj][t]] for t in range(T)]

    mhr = {k: Tensor(v.copy()) for k, v in data.items()}
    mhr = kal.kalman_smooth_mhr_params_per_obj_id_adaptive(
        mhr, num_frames=T, frame_obj_ids=frame_obj_ids, keys_to_smooth=["body_pose", "hand"])
    after1 = {k: mhr[k].numpy().copy() for k in ("body_pose", "hand")}
    mhr = kal.kalman_smooth_mhr_params_per_obj_id_adaptive(
        mhr_dict=mhr, num_frames=T, frame_obj_ids=frame_obj_ids,
        keys_to_smooth=["body_pose", "hand"], kalman_cfg=None, vis_flags=vis)
    mhr = kal.ema_smooth_global_rot_per_obj_id_adaptive(
        mhr_dict=mhr, num_frames=T, frame_obj_ids=frame_obj_ids, vis_flags=vis, key_name="global_rot")

    for k in widths:
        np.save(os.path.join(out_dir, f"reference_in_{k}.npy"), data[k])
        np.save(os.path.join(out_dir, f"reference_out_{k}.npy"), np.asarray(mhr[k].numpy(), dtype=np.float32))
    for k in after1:
        np.save(os.path.join(out_dir, f"reference_pass1_{k}.npy"), after1[k])
    # A dynamic segment (steps of 0.2) with one step of 0.55: above
    # max(2.2·mean, 0.25) but below 2.5·mean, so the spike factor matters.
    steps = [0.2] * 11
    steps[5] = 0.55
    vals = [0.0]
    for i, d in enumerate(steps):
        vals.append(vals[-1] + (d if i % 2 == 0 else -d))
    spike_in = np.array(vals, dtype=np.float32)[:, None]
    out = kal.kalman_smooth_mhr_params_per_obj_id_adaptive(
        {"spike": Tensor(spike_in.copy())}, num_frames=len(vals),
        frame_obj_ids=[[1]] * len(vals), keys_to_smooth=["spike"])
    spike = dict(input=spike_in[:, 0].astype(float).tolist(),
                 output=np.asarray(out["spike"].numpy())[:, 0].astype(float).tolist())
    return dict(frames=T, people=N, widths=widths, spike=spike,
                present={str(o): present[o] for o in present},
                visible={str(o): [bool(v) for v in vis[o]] for o in vis})


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_golden.py <sam-body4d checkout> [out_dir]")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "testdata", "smooth")
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20251213)
    with open(os.path.join(out_dir, "kalman.json"), "w") as f:
        json.dump(kalman_cases(rng), f)
    with open(os.path.join(out_dir, "oneeuro.json"), "w") as f:
        json.dump(oneeuro_cases(rng), f)
    kal, Tensor = load_reference(sys.argv[1])
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference_case(rng, kal, Tensor, out_dir), f)


if __name__ == "__main__":
    main()
