"""Golden files for package amodal's stage (testdata/amodal/stage_*.npy).

Re-runs the reference's arithmetic for one window of one person on the
tiny engines (sample/models/tiny/amodal_*.onnx through onnxruntime):

  - depth: vas demo's load_and_transform_rgbs + rgb_to_depth (PIL
    bilinear to the model size, the float32 round trip to bytes,
    Depth-Anything-V2 infer_image: BGR->RGB swap, cv2 INTER_CUBIC to the
    518 lower bound, ImageNet normalisation, bilinear align_corners=True
    back), global min/max to [-1,1];
  - amodal segmentation: DiffusionVASPipeline.__call__ with the modal mask
    (load_and_transform_masks for one object: a palette image, so PIL
    resizes it NEAREST) and depth as conditions (CLIP input by _resize_with_antialiasing,
    VaeImageProcessor.preprocess, noise augmentation, VAE mode, the
    EulerDiscreteScheduler v-prediction Karras loop with guidance 1.5 and
    the interleaved encoder_hidden_states, decode in chunks of 8,
    postprocess to PIL), then app.py's PIL resize + sum>600 +
    keep_largest_component at video and completion size and the
    fake-completion reset;
  - content completion on frames SPAN (End included) with app.py's
    conditions, and cv2 INTER_LINEAR back to the video size.

The scheduler and the torch resizes are re-written in numpy float32
following diffusers 0.29 / ATen; PIL and cv2 are the real libraries. The
noise is drawn here with numpy and saved, so Go replays it.

    python -m venv /tmp/g && /tmp/g/bin/pip install -r tools/golden/amodal/requirements-stage.txt
    /tmp/g/bin/python tools/golden/amodal/make_stage_golden.py   (from the repo root)
"""
import os

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "testdata", "amodal")
TINY = os.path.join(ROOT, "sample", "models", "tiny")

# Must match amodal/stage_parity_test.go.
W, H, N = 48, 32, 4          # video
h, w = 32, 64                # amodal segmentation resolution
H2, W2 = 16, 32              # completion resolution
STEPS, GUIDANCE, NOISE_AUG, CHUNK = 3, 1.5, 0.02, 8
SPAN = (1, 3)                # completion frames, End included
F32 = np.float32


def frame(i):
    """amodal/stage_test.go testVideo.Frame."""
    y, x = np.mgrid[:H, :W]
    img = np.stack([x * 255 // W, y * 255 // H, (x + y + 7 * i) % 256], -1).astype(np.uint8)
    box = (x >= 2 * i) & (x < 2 * i + W // 3) & (y > H // 4)
    img[box] = (250, 240, 230)
    return img


def modal_mask(i):
    m = np.zeros((H, W), np.uint8)
    m[3:27, 4 + i:28 + i] = 1
    return m


def mask_image(m):
    """load_and_transform_masks' image for object 1: a palette image,
    which PIL resizes with NEAREST even when asked for BILINEAR."""
    return Image.fromarray(m).convert("P").point(lambda p: 255 if p == 1 else 0)


def sess(name):
    return ort.InferenceSession(os.path.join(TINY, f"amodal_{name}.onnx"), providers=["CPUExecutionProvider"])


def to_unit(arr):
    """ToTensor + Normalize(0.5, 0.5) of uint8 HxWxC -> float32 CxHxW."""
    t = arr.astype(F32) / F32(255)
    t = (t - F32(0.5)) / F32(0.5)
    return np.moveaxis(t, -1, 0) if t.ndim == 3 else t


def bilinear_aligned(src, oh, ow):
    """torch F.interpolate(bilinear, align_corners=True) of a 2-D float32 map."""
    ih, iw = src.shape
    sy = F32(ih - 1) / F32(oh - 1) if oh > 1 else F32(0)
    sx = F32(iw - 1) / F32(ow - 1) if ow > 1 else F32(0)
    ys = sy * np.arange(oh, dtype=F32)
    xs = sx * np.arange(ow, dtype=F32)
    y0 = ys.astype(np.int64); y1 = np.minimum(y0 + 1, ih - 1); ly = (ys - y0.astype(F32))[:, None]
    x0 = xs.astype(np.int64); x1 = np.minimum(x0 + 1, iw - 1); lx = (xs - x0.astype(F32))[None, :]
    top = (F32(1) - lx) * src[y0][:, x0] + lx * src[y0][:, x1]
    bot = (F32(1) - lx) * src[y1][:, x0] + lx * src[y1][:, x1]
    return ((F32(1) - ly) * top + ly * bot).astype(F32)


def depth_input_size(hh, ww):
    """Depth-Anything-V2 Resize(518, keep_aspect_ratio, multiple 14, lower_bound)."""
    sh, sw = 518 / hh, 518 / ww
    if sw > sh:
        sh = sw
    else:
        sw = sh

    def c(x):
        y = int(np.round(x / 14) * 14)
        if y < 518:
            y = int(np.ceil(x / 14) * 14)
        return y
    return c(sh * hh), c(sw * ww)


def depth_all():
    s = sess("depth")
    maps = []
    for i in range(N):
        img = np.asarray(Image.fromarray(frame(i)).resize((w, h), Image.BILINEAR))
        back = ((to_unit(img) + 1.0) / 2.0 * 255).astype(np.uint8)     # rgb_to_depth
        raw = np.ascontiguousarray(np.moveaxis(back, 0, -1))
        image = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB) / 255.0          # infer_image
        dh, dw = depth_input_size(h, w)
        image = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_CUBIC)
        image = (image - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
        x = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(F32)[None]
        d = s.run(["depth"], {"image": x})[0][0]
        maps.append(bilinear_aligned(d, h, w))
    d = np.stack(maps)
    d = (d - d.min()) / (d.max() - d.min())
    return (d * 2 - 1).astype(F32)


def gaussian(ks, sigma):
    x = np.arange(ks, dtype=F32) - F32(ks // 2)
    if ks % 2 == 0:
        x = x + F32(0.5)
    g = np.exp(-x * x / (F32(2) * F32(sigma) * F32(sigma))).astype(F32)
    return (g / g.sum()).astype(F32)


def cubic_w(t):
    a = F32(-0.75)

    def c1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def c2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]


def bicubic_aligned(src, oh, ow):
    """ATen upsample_bicubic2d, align_corners=True, of a 2-D float32 map:
    per output pixel, four cubic interpolations along x, then one along y."""
    ih, iw = src.shape

    def taps(n_in, n_out):
        sc = F32(n_in - 1) / F32(n_out - 1)
        p = (sc * np.arange(n_out, dtype=F32)).astype(F32)
        f = np.floor(p)
        t = (p - f).astype(F32)
        idx = np.stack([np.clip(f.astype(np.int64) - 1 + k, 0, n_in - 1) for k in range(4)], 1)
        return idx, [wk.astype(F32) for wk in cubic_w(t)]
    xi, xw = taps(iw, ow)
    yi, yw = taps(ih, oh)
    rows = np.zeros((ih, ow), F32)
    for k in range(4):
        rows = (rows + src[:, xi[:, k]] * xw[k][None, :]).astype(F32)
    out = np.zeros((oh, ow), F32)
    for k in range(4):
        out = (out + rows[yi[:, k]] * yw[k][:, None]).astype(F32)
    return out


def resize_with_antialiasing(img, size):
    """diffusers _resize_with_antialiasing of one CxHxW float32 image."""
    _, ih, iw = img.shape
    sig = (max((ih / size[0] - 1.0) / 2.0, 0.001), max((iw / size[1] - 1.0) / 2.0, 0.001))
    ks = [int(max(2.0 * 2 * sig[0], 3)), int(max(2.0 * 2 * sig[1], 3))]
    ks = [k + 1 if k % 2 == 0 else k for k in ks]
    gy, gx = gaussian(ks[0], sig[0]), gaussian(ks[1], sig[1])
    out = []
    for ch in img:
        p = np.pad(ch, ((0, 0), (ks[1] // 2, ks[1] // 2)), mode="reflect")
        bx = np.zeros_like(ch)
        for k, g in enumerate(gx):
            bx = (bx + p[:, k:k + iw] * g).astype(F32)
        p = np.pad(bx, ((ks[0] // 2, ks[0] // 2), (0, 0)), mode="reflect")
        by = np.zeros_like(ch)
        for k, g in enumerate(gy):
            by = (by + p[k:k + ih] * g).astype(F32)
        out.append(bicubic_aligned(by, size[0], size[1]))
    return np.stack(out)


def karras():
    rho, lo, hi = 7.0, 0.002 ** (1 / 7.0), 700.0 ** (1 / 7.0)
    ramp = np.linspace(0, 1, STEPS)
    s = (hi + ramp * (lo - hi)) ** rho
    s = np.concatenate([s, [0.0]]).astype(F32)
    t = (F32(0.25) * np.log(s[:-1])).astype(F32)
    return s, t


def pipeline(unet_name, cond_a, cond_b, noise_a, noise_b, noise_x, hh, ww):
    """DiffusionVASPipeline.__call__ with the tiny engines and the pass's
    UNet (unet: amodal segmentation, unet_completion: content
    completion); returns uint8 frames."""
    f = cond_a.shape[0]
    clip, enc, unet, dec = sess("clip_vision"), sess("vae_encoder"), sess(unet_name), sess("vae_decoder")
    mean = np.array([0.48145466, 0.4578275, 0.40821073], F32)[:, None, None]
    std = np.array([0.26862954, 0.26130258, 0.27577711], F32)[:, None, None]
    emb = []
    for i in range(f):
        x = (resize_with_antialiasing(cond_a[i], (224, 224)) + F32(1.0)) / F32(2.0)
        x = ((x - mean) / std).astype(F32)
        emb.append(clip.run(["image_embeds"], {"pixel_values": x[None]})[0][0])
    ehs = np.zeros((2 * f, 1, 1024), F32)
    ehs[1::2, 0] = np.stack(emb)

    def condition(c, nz):
        out = []
        for i in range(f):
            x = c[i].copy()
            if x.min() >= 0:                       # VaeImageProcessor.preprocess
                x = F32(2.0) * x - F32(1.0)
            x = (x + F32(NOISE_AUG) * nz[i]).astype(F32)
            out.append(enc.run(["latent"], {"sample": x[None]})[0][0])
        return np.stack(out)
    lat_a, lat_b = condition(cond_a, noise_a), condition(cond_b, noise_b)
    sig, ts = karras()
    x = (noise_x * F32((float(sig.max()) ** 2 + 1) ** 0.5)).astype(F32)
    cond = np.concatenate([np.zeros((1, f, 8) + lat_a.shape[2:], F32),
                           np.concatenate([lat_a, lat_b], 1)[None]])
    ids = np.array([[7, 127, NOISE_AUG]] * 2, F32)
    for i in range(STEPS):
        s = sig[i]
        inp = (np.stack([x, x]) / ((s * s + F32(1)) ** F32(0.5))).astype(F32)
        inp = np.concatenate([inp, cond], 2)
        v = unet.run(["noise_pred"], {"sample": inp, "timestep": np.array([ts[i]], F32),
                                      "encoder_hidden_states": ehs, "added_time_ids": ids})[0]
        vu, vc = v[0], v[1]
        vg = vu + F32(GUIDANCE) * (vc - vu)
        x0 = vg * (-s / (s * s + F32(1)) ** F32(0.5)) + (x / (s * s + F32(1)))
        x = (x + (x - x0) / s * (sig[i + 1] - s)).astype(F32)
    frames = []
    for i in range(0, f, CHUNK):
        z = (x[i:i + CHUNK] * F32(1 / 0.18215)).astype(F32)
        y = dec.run(["sample"], {"latent": z})[0]
        y = np.clip(y / F32(2) + F32(0.5), 0, 1)
        frames.append((np.moveaxis(y, 1, -1) * F32(255)).round().astype(np.uint8))
    return np.concatenate(frames)


def keep_largest_component(m):
    n, labels, stats, _ = cv2.connectedComponentsWithStats((m > 0).astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(m, np.uint8)
    return (labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])).astype(np.uint8)


def bbox_fake(m):
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return False
    bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    return bw / m.shape[1] >= 0.7 or bh / m.shape[0] >= 0.7 or min(bw, bh) / max(bw, bh) < 0.2


def main():
    rng = np.random.default_rng(2026)
    depth = depth_all()
    modal = np.stack([modal_mask(i) for i in range(N)])
    cond_a = np.stack([np.repeat(to_unit(np.asarray(mask_image(m).resize((w, h), Image.BILINEAR)))[None], 3, 0)
                       for m in modal])
    cond_b = np.repeat(depth[:, None], 3, 1)
    na = rng.standard_normal(cond_a.shape).astype(F32)
    nb = rng.standard_normal(cond_b.shape).astype(F32)
    nx = rng.standard_normal((N, 4, h // 8, w // 8)).astype(F32)
    rgb = pipeline("unet", cond_a, cond_b, na, nb, nx, h, w)
    full, com = [], []
    for i in range(N):
        pil = Image.fromarray(rgb[i])
        fm = keep_largest_component((np.asarray(pil.resize((W, H))).astype(np.int32).sum(-1) > 600).astype(np.uint8))
        cm = keep_largest_component((np.asarray(pil.resize((W2, H2))).astype(np.int32).sum(-1) > 600).astype(np.uint8))
        if modal[i].sum() > fm.sum() or bbox_fake(cm):
            cm = np.asarray(Image.fromarray(modal[i]).resize((W2, H2), Image.NEAREST))
        full.append(fm)
        com.append(cm)
    full, com = np.stack(full), np.stack(com)

    s0, s1 = SPAN
    ca, cb = [], []
    for i in range(s0, s1 + 1):
        r = (to_unit(np.asarray(Image.fromarray(frame(i)).resize((W2, H2), Image.BILINEAR))) + 1) / 2
        mh = (to_unit(np.asarray(mask_image(modal[i]).resize((W2, H2), Image.BILINEAR))) > 0).astype(F32)
        ca.append((r * mh + (1 - mh)) * 2 - 1)
        u = np.logical_or(com[i], mh > 0)
        cb.append(np.repeat(np.where(u, 1, -1).astype(F32)[None], 3, 0))
    ca, cb = np.stack(ca).astype(F32), np.stack(cb).astype(F32)
    cna = rng.standard_normal(ca.shape).astype(F32)
    cnb = rng.standard_normal(cb.shape).astype(F32)
    cnx = rng.standard_normal((len(ca), 4, H2 // 8, W2 // 8)).astype(F32)
    crgb = pipeline("unet_completion", ca, cb, cna, cnb, cnx, H2, W2)
    completed = np.stack([cv2.resize(f, (W, H), interpolation=cv2.INTER_LINEAR) for f in crgb])

    for name, a in [("depth", depth), ("modal", modal), ("noise_a", na), ("noise_b", nb), ("noise_x", nx),
                    ("rgb", rgb), ("full", full), ("com", com),
                    ("c_noise_a", cna), ("c_noise_b", cnb), ("c_noise_x", cnx), ("c_rgb", crgb), ("completed", completed)]:
        np.save(os.path.join(OUT, f"stage_{name}.npy"), a)
    print("amodal areas", full.reshape(N, -1).sum(1), "completion mask areas", com.reshape(N, -1).sum(1))


if __name__ == "__main__":
    main()
