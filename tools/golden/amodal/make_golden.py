"""Golden files for package amodal's sampler (testdata/amodal).

Re-implements the Diffusion-VAS denoising loop (segment-amodal.md C.3) with
diffusers' EulerDiscreteScheduler configured as SVD-xt, running the tiny
UNet sample/models/tiny/amodal_unet.onnx through onnxruntime. Inputs are
drawn from numpy with a fixed seed and saved, so Go replays the same noise.

    python tools/golden/amodal/make_golden.py   (from the repo root)
"""
import os

import numpy as np
import onnxruntime as ort
import torch
from diffusers import EulerDiscreteScheduler

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "testdata", "amodal")
F, H, W, STEPS, GUIDANCE = 3, 8, 16, 25, 1.5


def scheduler():
    s = EulerDiscreteScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type="v_prediction", timestep_type="continuous", use_karras_sigmas=True,
        sigma_min=0.002, sigma_max=700.0, timestep_spacing="leading", interpolation_type="linear",
        steps_offset=1)
    s.set_timesteps(STEPS)
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    s = scheduler()
    np.save(os.path.join(OUT, "sigmas.npy"), s.sigmas.numpy().astype(np.float64))
    np.save(os.path.join(OUT, "timesteps.npy"), s.timesteps.numpy().astype(np.float64))

    rng = np.random.default_rng(23)
    noise = rng.standard_normal((1, F, 4, H, W)).astype(np.float32)
    cond_a = rng.standard_normal((1, F, 4, H, W)).astype(np.float32)
    cond_b = rng.standard_normal((1, F, 4, H, W)).astype(np.float32)
    embeds = rng.standard_normal((F, 1024)).astype(np.float32)
    for name, a in [("noise", noise), ("cond_a", cond_a), ("cond_b", cond_b), ("embeds", embeds)]:
        np.save(os.path.join(OUT, name + ".npy"), a[0] if a.ndim == 5 else a)

    # The reference's per-frame cat([zeros, emb]) concatenated over frames.
    ehs = np.concatenate([np.concatenate([np.zeros((1, 1, 1024), np.float32), e[None, None]]) for e in embeds])
    cond = torch.cat([torch.zeros(1, F, 8, H, W), torch.cat([torch.from_numpy(cond_a), torch.from_numpy(cond_b)], 2)])
    ids = np.array([[7, 127, 0.02]] * 2, np.float32)
    sess = ort.InferenceSession(os.path.join(ROOT, "sample", "models", "tiny", "amodal_unet.onnx"),
                                providers=["CPUExecutionProvider"])
    x = torch.from_numpy(noise) * s.init_noise_sigma
    steps = []
    for t in s.timesteps:
        inp = s.scale_model_input(torch.cat([x] * 2), t)
        inp = torch.cat([inp, cond], dim=2)
        v = sess.run(["noise_pred"], {"sample": inp.numpy().astype(np.float32),
                                      "timestep": np.array([t], np.float32),
                                      "encoder_hidden_states": ehs, "added_time_ids": ids})[0]
        vu, vc = torch.from_numpy(v).chunk(2)
        x = s.step(vu + GUIDANCE * (vc - vu), t, x).prev_sample
        steps.append(x[0].numpy().copy())
    np.save(os.path.join(OUT, "steps.npy"), np.stack(steps).astype(np.float32))


if __name__ == "__main__":
    main()
