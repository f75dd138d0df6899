"""The reference side of tools/golden/amodal/bench.sh: SAM-Body4D's
amodal stage (app.py's 4D-stage occlusion recovery, with the
Diffusion-VAS pipeline) on the sample clip, the networks being the tiny
engines (sample/models/tiny/amodal_*.onnx) run by onnxruntime.

What runs, and from where:
  - DiffusionVASPipeline.__call__ (diffusion-vas models/diffusion_vas/
    pipeline_diffusion_vas.py), followed step by step in VASPipeline
    below: per-frame CLIP embedding (diffusers' _resize_with_antialiasing,
    transformers' CLIPImageProcessor), per-frame VaeImageProcessor
    .preprocess and VAE encode of both conditions, noise from one torch
    generator (torch.manual_seed(23), as app.py) with diffusers'
    randn_tensor, the interleaved encoder_hidden_states, diffusers'
    EulerDiscreteScheduler built from SVD-xt's scheduler_config.json
    driving the steps (scale_model_input, step), guidance
    linspace(1.5, 1.5), decode in chunks of 8, postprocess to PIL. Only
    the four networks are onnxruntime sessions instead of torch modules.
  - app.py around it: depth for the whole clip (vas demo's rgb_to_depth,
    Depth-Anything-V2 infer_image with the torch bilinear upsampling),
    global min/max; per window of WINDOW frames and per person: the
    amodal pass, PIL resize + sum>600 + keep_largest_component at video
    and completion size, the per-frame score with app.py's exceptions
    (is_super_long_or_wide firing for obj_id 1 only), the fake-completion
    reset, the occluded span (±2, completed as range(start, end)), the
    content completion pass and cv2 INTER_LINEAR back to the video size.
  - Helpers shared with the stage golden come from make_stage_golden.py
    (to_unit, mask_image, depth_input_size, keep_largest_component).

Where it follows the Go stage instead of app.py (so outputs can be
compared; each is a documented Go fix, see amodal.Completer.Complete):
a person absent from a whole window runs nothing (app.py would run the
pipeline on empty masks and find nothing occluded: the same output, more
time, so the ratio printed is conservative); on a frame whose amodal mask
looked fake the hand-off mask is the modal one. The Go side runs with
OcclusionOptions{LongCheckOnlyObject1, ExclusiveSpanEnd}, app.py's quirks.

It decodes the clip with the ffmpeg arguments of the Go decoder
(video/decode.go), reads the label PNGs, runs, and writes to OUT the
inputs (frames, labels), every noise tensor it drew, and the stage's
hand-off (masks, completed frames, spans, visibility) for the Go side to
replay and compare (amodal/refbench_test.go). It prints the wall time of
the timed part: everything after the sessions are made and the inputs
read (depth, all passes, scoring, resizes; not writing the files).

Requirements (Python 3.11): tools/golden/amodal/requirements-bench.txt
    python3 -m venv .venv/amodalbench
    .venv/amodalbench/bin/pip install -r tools/golden/amodal/requirements-bench.txt
Usage: python tools/golden/amodal/bench.py OUT   (settings from the
environment: STEPS, WINDOW, HEIGHT, WIDTH, FRAMES, THREADS; see bench.sh)
"""
import json
import os
import subprocess
import sys
import time
import warnings

# torch warns about a CUDA driver it does not use; preprocess of a [-1,1]
# tensor warns (and, as in diffusers 0.29, leaves it alone).
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message="CUDA initialization")

import cv2
import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from diffusers import EulerDiscreteScheduler
from diffusers.image_processor import VaeImageProcessor
from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import _resize_with_antialiasing
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image
from transformers import CLIPImageProcessor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_stage_golden as g  # noqa: E402

ROOT = g.ROOT
TINY = g.TINY
CLIP = os.path.join(ROOT, "sample", "clip")
F32 = np.float32

STEPS = int(os.environ.get("STEPS", "25"))
WINDOW = int(os.environ.get("WINDOW", "64"))
HEIGHT = int(os.environ.get("HEIGHT", "512"))
WIDTH = int(os.environ.get("WIDTH", "1024"))
FRAMES = int(os.environ.get("FRAMES", "0"))  # 0: the whole clip
THREADS = int(os.environ.get("THREADS", "0"))
CHUNK = 8

# stabilityai/stable-video-diffusion-img2vid-xt scheduler/scheduler_config.json
SVD_XT_SCHEDULER = dict(
    beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
    interpolation_type="linear", num_train_timesteps=1000, prediction_type="v_prediction",
    set_alpha_to_one=False, sigma_max=700.0, sigma_min=0.002, skip_prk_steps=True, steps_offset=1,
    timestep_spacing="leading", timestep_type="continuous", trained_betas=None, use_karras_sigmas=True,
)


def session(name):
    so = ort.SessionOptions()
    if THREADS:
        so.intra_op_num_threads = THREADS
    return ort.InferenceSession(os.path.join(TINY, f"amodal_{name}.onnx"), so, providers=["CPUExecutionProvider"])


class VASPipeline:
    """DiffusionVASPipeline.__call__ step by step, networks on onnxruntime;
    unet names the pipeline's UNet (unet: amodal segmentation,
    unet_completion: content completion). noise collects what each call
    drew, for the Go side to replay; the two pipelines share one dict."""

    def __init__(self, unet, noise):
        self.clip, self.enc, self.unet, self.dec = (session(n) for n in ("clip_vision", "vae_encoder", unet, "vae_decoder"))
        self.scheduler = EulerDiscreteScheduler.from_config(SVD_XT_SCHEDULER)
        self.image_processor = VaeImageProcessor(vae_scale_factor=8)
        self.feature_extractor = CLIPImageProcessor()  # SVD-xt's: CLIP mean/std
        self.noise = noise

    def _encode_image(self, image):
        image = _resize_with_antialiasing(image, (224, 224))
        image = (image + 1.0) / 2.0
        image = self.feature_extractor(images=image, do_normalize=True, do_center_crop=False, do_resize=False,
                                       do_rescale=False, return_tensors="pt").pixel_values
        emb = torch.from_numpy(self.clip.run(["image_embeds"], {"pixel_values": image.numpy().astype(F32)})[0])
        emb = emb.unsqueeze(1)
        return torch.cat([torch.zeros_like(emb), emb])

    def _encode_vae_image(self, image):
        lat = torch.from_numpy(self.enc.run(["latent"], {"sample": image.numpy()})[0])  # latent_dist.mode()
        return torch.cat([torch.zeros_like(lat), lat])

    def __call__(self, key, images, rgb_images, height, width, num_frames, generator):
        emb = torch.cat([self._encode_image(images[:, i]) for i in range(images.shape[1])], dim=0)
        images = torch.stack([self.image_processor.preprocess(images[:, i], height=height, width=width) for i in range(images.shape[1])])
        noise_a = randn_tensor(images.shape, generator=generator, dtype=images.dtype)
        images = images + 0.02 * noise_a
        rgb_images = torch.stack([self.image_processor.preprocess(rgb_images[:, i], height=height, width=width) for i in range(rgb_images.shape[1])])
        noise_b = randn_tensor(rgb_images.shape, generator=generator, dtype=rgb_images.dtype)
        rgb_images = rgb_images + 0.02 * noise_b
        image_latents = torch.stack([self._encode_vae_image(im) for im in images], dim=1)
        rgb_image_latents = torch.stack([self._encode_vae_image(im) for im in rgb_images], dim=1)
        added_time_ids = torch.tensor([[7, 127, 0.02]] * 2, dtype=torch.float32)  # fps-1, motion bucket, noise aug
        self.scheduler.set_timesteps(STEPS)
        shape = (1, num_frames, 4, height // 8, width // 8)
        noise_x = randn_tensor(shape, generator=generator, dtype=torch.float32)
        latents = noise_x * self.scheduler.init_noise_sigma
        guidance = torch.linspace(1.5, 1.5, num_frames).unsqueeze(0)[..., None, None, None]
        for t in self.scheduler.timesteps:
            inp = self.scheduler.scale_model_input(torch.cat([latents] * 2), t)
            inp = torch.cat([inp, image_latents, rgb_image_latents], dim=2)
            pred = torch.from_numpy(self.unet.run(["noise_pred"], {
                "sample": inp.numpy(), "timestep": t.reshape(1).to(torch.float32).numpy(),
                "encoder_hidden_states": emb.numpy(), "added_time_ids": added_time_ids.numpy()})[0])
            u, c = pred.chunk(2)
            pred = u + guidance * (c - u)
            latents = self.scheduler.step(pred, t, latents).prev_sample
        lat = latents.flatten(0, 1) / 0.18215
        frames = torch.cat([torch.from_numpy(self.dec.run(["sample"], {"latent": lat[i:i + CHUNK].numpy()})[0])
                            for i in range(0, lat.shape[0], CHUNK)])
        pil = self.image_processor.postprocess(frames, "pil")
        self.noise[key] = (noise_a, noise_b, noise_x)
        return np.stack([np.asarray(p) for p in pil])


def decode_clip(path):
    """ffmpeg to rgb24 with the Go decoder's arguments."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout
    w, h = (int(v) for v in probe.strip().split(",")[:2])
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:0", "-an", "-sn", "-dn",
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def depth_all(depth, frames, h, w):
    """vas demo's rgb_to_depth and DA-V2 infer_image per frame, global min/max to [-1,1]."""
    dh, dw = g.depth_input_size(h, w)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    maps = []
    for fr in frames:
        img = np.asarray(Image.fromarray(fr).resize((w, h), Image.BILINEAR))
        back = ((g.to_unit(img) + 1.0) / 2.0 * 255).astype(np.uint8)
        raw = np.ascontiguousarray(np.moveaxis(back, 0, -1))
        image = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB) / 255.0
        image = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_CUBIC)
        image = (image - mean) / std
        x = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(F32)[None]
        d = torch.from_numpy(depth.run(["depth"], {"image": x})[0])
        maps.append(F.interpolate(d[:, None], (h, w), mode="bilinear", align_corners=True)[0, 0])
    d = torch.stack(maps)
    d = (d - d.min()) / (d.max() - d.min())
    return (d * 2 - 1).numpy()


def long_or_wide(m, obj_id):
    """mask_utils.is_super_long_or_wide(mask, obj_id): tests mask == obj_id on a 0/1 mask."""
    ys, xs = np.nonzero(m == obj_id)
    if len(xs) == 0:
        return False
    return (xs.max() - xs.min() + 1) / m.shape[1] >= 0.7 or (ys.max() - ys.min() + 1) / m.shape[0] >= 0.7


def skinny(m):
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return False
    bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    return min(bw, bh) / max(bw, bh) < 0.2


def score(a, b, obj_id):
    """app.py's per-frame score with its exceptions and the fake-completion filter."""
    H, W = a.shape
    cp = (a == 1).astype(np.uint8) * 255
    cp[:int(H * 0.05), :] = cp[-int(H * 0.05):, :] = cp[:, :int(W * 0.05)] = cp[:, -int(W * 0.05):] = 0
    if cp.max() == 0:
        s = 1.0
    else:
        area_a, area_b = (a > 0).sum(), (b > 0).sum()
        if area_a == 0 and area_b == 0 or area_a > area_b:
            s = 1.0
        else:
            s = np.logical_and(a > 0, b > 0).sum() / (np.logical_or(a > 0, b > 0).sum() + 1e-6)
    if a.sum() > b.sum() or long_or_wide(b, obj_id) or skinny(b):
        s = 1.0
    return float(s)


def binarise(rgb, size):
    return g.keep_largest_component((np.asarray(Image.fromarray(rgb).resize(size)).astype(np.int32).sum(-1) > 600).astype(np.uint8))


def stage(pipe, complete, frames, labels, depth):
    T, H, W = labels.shape
    h, w, H2, W2 = HEIGHT, WIDTH, HEIGHT, WIDTH
    people = sorted(int(v) for v in np.unique(labels) if v != 0)
    generator = torch.manual_seed(23)
    depth_n = depth_all(depth, frames, h, w)
    out = {"windows": [], "handoff": {}, "completed": {}, "visible": {}}
    for p in people:
        out["handoff"][p] = (labels == p).astype(np.uint8)
        out["completed"][p] = {}
        out["visible"][p] = [False] * T
    for start in range(0, T, WINDOW):
        n = min(WINDOW, T - start)
        for p in people:
            modal = (labels[start:start + n] == p).astype(np.uint8)
            present = modal.reshape(n, -1).any(1)
            if not present.any():  # as the Go stage: nothing to run
                out["windows"].append({"person": p, "start": start, "span": None})
                continue
            cond_a = np.stack([np.repeat(g.to_unit(np.asarray(g.mask_image(m).resize((w, h), Image.BILINEAR)))[None], 3, 0) for m in modal])
            cond_b = np.repeat(depth_n[start:start + n][:, None], 3, 1)
            rgb = pipe(("a", p, start), torch.from_numpy(cond_a)[None], torch.from_numpy(cond_b)[None], h, w, n, generator)
            scores, full, com, fake = [], [], [], []
            for i in range(n):
                fm, cm = binarise(rgb[i], (W, H)), binarise(rgb[i], (W2, H2))
                scores.append(score(modal[i], fm, p))
                fk = bool(modal[i].sum() > fm.sum() or long_or_wide(cm, p) or skinny(cm))
                if fk:
                    cm = np.asarray(Image.fromarray(modal[i]).resize((W2, H2), Image.NEAREST))
                full.append(fm)
                com.append(cm)
                fake.append(fk)
            for i in range(n):
                out["visible"][p][start + i] = bool(present[i] and scores[i] > 0.7)
            occ = [i for i, s in enumerate(scores) if s < 0.7]
            span = None
            if occ:
                s0, end = max(0, occ[0] - 2), min(n - 1, occ[-1] + 2)
                if end > s0:  # completed: range(s0, end), as app.py
                    span = (s0, end - 1)
            out["windows"].append({"person": p, "start": start, "span": span})
            if span is None:
                continue
            ca, cb = [], []
            for i in range(span[0], span[1] + 1):
                r = (g.to_unit(np.asarray(Image.fromarray(frames[start + i]).resize((W2, H2), Image.BILINEAR))) + 1) / 2
                mh = (g.to_unit(np.asarray(g.mask_image(modal[i]).resize((W2, H2), Image.BILINEAR))) > 0).astype(F32)
                ca.append((r * mh + (1 - mh)) * 2 - 1)
                cb.append(np.repeat(np.where(np.logical_or(com[i], mh > 0), 1, -1).astype(F32)[None], 3, 0))
            ca, cb = np.stack(ca).astype(F32), np.stack(cb).astype(F32)
            crgb = complete(("c", p, start), torch.from_numpy(ca)[None], torch.from_numpy(cb)[None], H2, W2, len(ca), generator)
            for j, i in enumerate(range(span[0], span[1] + 1)):
                if not present[i]:
                    continue
                out["completed"][p][start + i] = cv2.resize(crgb[j], (W, H), interpolation=cv2.INTER_LINEAR)
                out["handoff"][p][start + i] = modal[i] if fake[i] else full[i]
    return out


def main():
    dst = sys.argv[1]
    os.makedirs(os.path.join(dst, "noise"), exist_ok=True)
    torch.set_num_threads(max(1, THREADS or os.cpu_count()))
    frames = decode_clip(os.path.join(CLIP, "sample.mp4"))
    names = sorted(os.listdir(os.path.join(CLIP, "masks")))
    labels = np.stack([np.asarray(Image.open(os.path.join(CLIP, "masks", n))) for n in names]).astype(np.uint8)
    if FRAMES:
        frames, labels = frames[:FRAMES], labels[:FRAMES]
    noise = {}
    pipe, complete, depth = VASPipeline("unet", noise), VASPipeline("unet_completion", noise), session("depth")
    t0 = time.perf_counter()
    out = stage(pipe, complete, frames, labels, depth)
    wall = time.perf_counter() - t0

    np.save(os.path.join(dst, "frames.npy"), np.ascontiguousarray(frames))
    np.save(os.path.join(dst, "labels.npy"), labels)
    for (kind, p, start), arrs in noise.items():
        for name, a in zip("abx", arrs):
            np.save(os.path.join(dst, "noise", f"{kind}_{p}_{start}_{name}.npy"), a.numpy().astype(F32))
    meta = {"steps": STEPS, "window": WINDOW, "height": HEIGHT, "width": WIDTH, "threads": THREADS,
            "people": sorted(out["handoff"]), "windows": out["windows"], "visible": {str(k): v for k, v in out["visible"].items()},
            "completed": {str(k): sorted(v) for k, v in out["completed"].items()}, "wall_s": wall}
    for p in out["handoff"]:
        np.save(os.path.join(dst, f"handoff_{p}.npy"), out["handoff"][p])
        c = out["completed"][p]
        np.save(os.path.join(dst, f"completed_{p}.npy"),
                np.stack([c[f] for f in sorted(c)]) if c else np.zeros((0,) + frames.shape[1:], np.uint8))
    with open(os.path.join(dst, "ref.json"), "w") as f:
        json.dump(meta, f)
    T, H, W = labels.shape
    spans = [(w["person"], w["start"], w["span"]) for w in out["windows"] if w["span"]]
    print(f"reference: {T} frames {W}x{H}, people {meta['people']}, amodal {WIDTH}x{HEIGHT}, window {WINDOW}, {STEPS} steps; "
          f"completed spans (person, window, span) {spans}")
    print(f"reference stage: {wall * 1000:.0f} ms")


if __name__ == "__main__":
    main()
