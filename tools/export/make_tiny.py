#!/usr/bin/env python3
"""Make body4d's tiny models: one small random-weight ONNX model for every
engine the pipeline uses, each with exactly the I/O contract its stage
declares (segment/, amodal/, fov/, mesh/ contract.go), plus the segment
stage's constants, the manifest, and goldens for engine/ort's tests.

The models compute something small but real (pools, 1x1 convs, resizes,
attention, matmuls) so that every output depends on the inputs; their
weights are random, so their outputs mean nothing. Each stage's own issue
brings tiny versions of the reference architecture for its parity tests.

Deterministic: fixed seeds, fixed ONNX serialisation, zip entries with a
fixed date; re-running reproduces every file byte for byte.

    python3 -m venv .venv && .venv/bin/pip install -r tools/export/requirements-tiny.txt
    .venv/bin/python tools/export/make_tiny.py            # writes sample/models/tiny/
"""
import argparse
import hashlib
import io
import json
import os
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
F32, I64, I32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32


class Graph:
    """A tiny ONNX graph builder: ops return the name of their output."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.n = 0

    def input(self, name, dtype, shape):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, src, name, dtype, shape):
        self.nodes.append(helper.make_node("Identity", [src], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def const(self, arr, name=None):
        self.n += 1
        name = name or f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def weight(self, *shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        scale = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32))

    def op(self, kind, *ins, **attrs):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(kind, list(ins), [out], **attrs))
        return out

    # Common pieces.
    def conv1x1(self, x, cin, cout, conv_dims=2):
        w = self.weight(cout, cin, *([1] * conv_dims))
        b = self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32))
        return self.op("Conv", x, w, b)

    def pool(self, x, k):
        return self.op("AveragePool", x, kernel_shape=[k, k], strides=[k, k])

    def resize(self, x, scales):
        roi = self.const(np.zeros(0, np.float32))
        return self.op("Resize", x, roi, self.const(np.asarray(scales, np.float32)), mode="linear")

    def matmul(self, x, cin, cout):
        return self.op("MatMul", x, self.weight(cin, cout))

    def reshape(self, x, shape):
        return self.op("Reshape", x, self.const(np.asarray(shape, np.int64)))

    def model(self):
        g = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="body4d tools/export/make_tiny.py", producer_version="1")
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        return m


# ---- segment (SAM-3 tracker): reference note segment-amodal.md A.3 / D ----

def segment_image_encoder():
    g = Graph("segment_image_encoder", 101)
    img = g.input("img", F32, [1, 3, 1008, 1008])
    p14 = g.pool(img, 14)                                   # [1,3,72,72]
    # Channel 0 of the features is -1, "no mask here": the tiny tracker's
    # mask pathway (see segment_mask_decoder) runs through it.
    keep = np.ones((1, 256, 1, 1), np.float32)
    keep[0, 0] = 0
    fpn2 = g.op("Sub", g.op("Mul", g.op("Tanh", g.conv1x1(p14, 3, 256)), g.const(keep)), g.const(1 - keep))
    up = g.resize(p14, [1, 1, 4, 4])                        # [1,3,288,288]
    fpn0 = g.op("Tanh", g.conv1x1(up, 3, 32))
    fpn1 = g.op("Tanh", g.conv1x1(g.pool(fpn0, 2), 32, 64))  # [1,64,144,144]
    pos2 = g.op("Sin", g.conv1x1(fpn2, 256, 256))
    g.output(fpn0, "fpn0", F32, [1, 32, 288, 288])
    g.output(fpn1, "fpn1", F32, [1, 64, 144, 144])
    g.output(fpn2, "fpn2", F32, [1, 256, 72, 72])
    g.output(pos2, "pos2", F32, [1, 256, 72, 72])
    return g


def segment_detector():
    """SAM-3's concept detector (segment/detector.go). Random weights with
    a built-in pathway, so that auto mode finds someone on any clip: four
    queries with fixed upright elliptical masks and matching boxes, class
    logits 3, 2, -3, -4 (the first two are people, scores ≈ 0.93 and
    0.86 with the presence logit ≈ 4; the others fall below 0.5), each
    moved by at most ±0.25 by the image and the presence by ±0.25 by the
    text, so every output depends on its inputs."""
    g = Graph("segment_detector", 106)
    img = g.input("img", F32, [1, 3, 1008, 1008])
    text = g.input("text", F32, [1, "T", 256])
    Q = 4
    p14 = g.pool(img, 14)                                   # [1,3,72,72]
    feat = g.op("Tanh", g.conv1x1(p14, 3, Q))               # [1,Q,72,72]
    # (cx, cy, rx, ry) relative: two people side by side, two more.
    blobs = np.array([[0.3, 0.55, 0.12, 0.3], [0.7, 0.55, 0.12, 0.3],
                      [0.5, 0.2, 0.1, 0.1], [0.5, 0.85, 0.1, 0.1]], np.float32)
    ys, xs = (np.mgrid[0:72, 0:72].astype(np.float32) + 0.5) / 72
    shape = np.stack([5 * (1 - ((xs - cx) / rx) ** 2 - ((ys - cy) / ry) ** 2) for cx, cy, rx, ry in blobs])[None]
    masks = g.resize(g.op("Add", g.const(shape.astype(np.float32)), feat), [1, 1, 4, 4])  # [1,Q,288,288]
    gap = g.reshape(g.op("GlobalAveragePool", feat), [1, Q])
    quarter = g.const(np.float32(0.25))
    logits = g.op("Add", g.const(np.array([[3, 2, -3, -4]], np.float32)), g.op("Mul", g.op("Tanh", gap), quarter))
    tmean = g.op("ReduceMean", text, axes=[1, 2], keepdims=0)  # [1]
    presence = g.op("Add", g.const(np.array([[4]], np.float32)),
                    g.op("Mul", g.op("Tanh", g.reshape(tmean, [1, 1])), quarter))
    boxes = np.concatenate([blobs[:, :2], 2 * blobs[:, 2:]], axis=1)[None]
    g.output(logits, "logits", F32, [1, "Q"])
    g.output(presence, "presence", F32, [1, 1])
    g.output(g.const(boxes.astype(np.float32)), "boxes", F32, [1, "Q", 4])
    g.output(masks, "masks", F32, [1, "Q", 288, 288])
    return g


def segment_concept_person():
    """The "person" text embedding: random [T,256] for the tiny set."""
    rng = np.random.default_rng(107)
    return (rng.standard_normal((5, 256)) * 0.02).astype(np.float32)


# The tiny tracker has random weights but a built-in mask pathway, so
# that on the sample clip it draws plausible masks and the later stages
# have people to work on: the decoder draws an upright elliptical blob at
# each positive click (and removes one at each negative click), the memory
# encoder keeps the mask in channel 0 (+1 person, -1 not), the memory
# attention passes the mean of its memories' channel 0 to the features'
# channel 0 (the image encoder's is -1), and the decoder marks where at
# least 30% of the memories had the person, so a tracked frame inherits
# the mask of the frames in memory. The object score is the mask's
# largest logit.
# The real networks' cost (full attention over every memory token) is not
# reproduced: the tiny memory attention pools its memories.


def segment_memory_attention():
    g = Graph("segment_memory_attention", 102)
    src = g.input("src", F32, [5184, "B", 256])
    src_pos = g.input("src_pos", F32, [5184, "B", 256])
    prompt = g.input("prompt", F32, ["Nk", "B", 64])
    prompt_pos = g.input("prompt_pos", F32, ["Nk", "B", 64])
    nptr = g.input("num_obj_ptr_tokens", I64, [])
    q = g.op("Add", src, g.op("Mul", src_pos, g.const(np.float32(0.1))))
    q = g.reshape(g.op("Transpose", q, perm=[1, 2, 0]), [-1, 256, 72, 72])    # [B,256,72,72]
    # The spatial memories are the first Nk - nptr tokens, 5184 per frame.
    nk = g.op("Gather", g.op("Shape", prompt), g.const(np.array(0, np.int64)))
    nsp = g.op("Unsqueeze", g.op("Sub", nk, nptr), g.const(np.array([0], np.int64)))
    sp = g.op("Slice", prompt, g.const(np.array([0], np.int64)), nsp, g.const(np.array([0], np.int64)))
    sp = g.op("Reshape", g.op("Transpose", sp, perm=[1, 2, 0]), g.const(np.array([0, 0, -1, 5184], np.int64)))  # [B,64,M,5184]
    nmem = g.op("Div", g.op("Cast", g.op("Sub", nk, nptr), to=F32), g.const(np.float32(5184)))
    mean = g.op("Div", g.op("ReduceSum", sp, g.const(np.array([2], np.int64)), keepdims=0),
                g.op("Max", nmem, g.const(np.float32(1))))                       # [B,64,5184]
    mem = g.op("Reshape", mean, g.const(np.array([0, 0, 72, 72], np.int64)))     # [B,64,72,72]
    mix = g.op("Add", q, g.op("Mul", g.conv1x1(mem, 64, 256), g.const(np.float32(0.1))))
    rest = g.op("Slice", mix, g.const(np.array([1], np.int64)), g.const(np.array([256], np.int64)), g.const(np.array([1], np.int64)))
    ch0 = g.op("Slice", mem, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)), g.const(np.array([1], np.int64)))
    o = g.op("Concat", ch0, rest, axis=1)
    o = g.op("Add", o, g.op("Mul", g.op("Cast", nptr, to=F32), g.const(np.float32(1e-4))))
    g.output(o, "pix_feat_with_mem", F32, ["B", 256, 72, 72])
    return g


def segment_mask_decoder():
    g = Graph("segment_mask_decoder", 103)
    feat = g.input("image_embed", F32, ["B", 256, 72, 72])
    fpn0 = g.input("fpn0", F32, ["B", 32, 288, 288])
    fpn1 = g.input("fpn1", F32, ["B", 64, 144, 144])
    coords = g.input("point_coords", F32, ["B", "N", 2])
    labels = g.input("point_labels", I32, ["B", "N"])
    mask_in = g.input("mask_input", F32, ["B", 1, 288, 288])
    has_mask = g.input("has_mask_input", F32, [1])
    # Points: Fourier features of the normalised coordinates plus a label embedding.
    pe = g.op("Sin", g.matmul(g.op("Mul", coords, g.const(np.float32(1 / 1008))), 2, 16))
    lab = g.op("Mul", g.op("Unsqueeze", g.op("Cast", labels, to=F32), g.const(np.array([2], np.int64))), g.weight(1, 16))
    tok = g.op("ReduceMean", g.op("Add", pe, lab), axes=[1], keepdims=0)        # [B,16]
    pvec = g.reshape(g.matmul(tok, 16, 256), [-1, 256, 1, 1])
    m = g.op("Mul", g.conv1x1(g.pool(mask_in, 4), 1, 256), has_mask)
    fused = g.op("Add", g.op("Add", feat, m), pvec)
    lo = g.resize(g.conv1x1(fused, 256, 4), [1, 1, 4, 4])
    mid = g.resize(g.conv1x1(fpn1, 64, 4), [1, 1, 2, 2])
    noise = g.op("Add", g.op("Add", lo, mid), g.conv1x1(fpn0, 32, 4))
    # The mask pathway: blobs at the clicks (model pixels; 288² cells of
    # 3.5 px), plus the memory's mask in feature channel 0.
    cell = (np.arange(288, dtype=np.float32) + 0.5) * 3.5
    px = g.op("Unsqueeze", g.op("Gather", coords, g.const(np.array(0, np.int64)), axis=2), g.const(np.array([2, 3], np.int64)))
    py = g.op("Unsqueeze", g.op("Gather", coords, g.const(np.array(1, np.int64)), axis=2), g.const(np.array([2, 3], np.int64)))
    dx = g.op("Div", g.op("Sub", g.const(cell.reshape(1, 1, 1, 288)), px), g.const(np.float32(30)))
    dy = g.op("Div", g.op("Sub", g.const(cell.reshape(1, 1, 288, 1)), py), g.const(np.float32(150)))
    d2 = g.op("Add", g.op("Mul", dx, dx), g.op("Mul", dy, dy))                   # [B,N,288,288]
    blob = g.op("Exp", g.op("Mul", d2, g.const(np.float32(-0.5))))
    w = g.op("Sub", g.op("Cast", g.op("Equal", labels, g.const(np.array(1, np.int32))), to=F32),
             g.op("Cast", g.op("Equal", labels, g.const(np.array(0, np.int32))), to=F32))
    w = g.op("Unsqueeze", w, g.const(np.array([2, 3], np.int64)))                 # [B,N,1,1]
    clicks = g.op("ReduceSum", g.op("Mul", blob, w), g.const(np.array([1], np.int64)), keepdims=1)  # [B,1,288,288]
    memmask = g.resize(g.op("Slice", feat, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)),
                             g.const(np.array([1], np.int64))), [1, 1, 4, 4])     # [B,1,288,288]
    base = g.op("Add", g.op("Add", g.op("Mul", clicks, g.const(np.float32(10))), g.op("Mul", memmask, g.const(np.float32(5)))),
                g.const(np.float32(2)))
    masks = g.op("Add", base, g.op("Mul", noise, g.const(np.float32(0.1))))      # [B,4,288,288]
    gl = g.op("ReduceMean", fused, axes=[2, 3], keepdims=0)                      # [B,256]
    iou = g.op("Sigmoid", g.matmul(gl, 256, 4))
    score = g.op("ReduceMax", base, axes=[2, 3], keepdims=0)                     # [B,1]
    ptr = g.reshape(g.op("Tanh", g.matmul(gl, 256, 1024)), [-1, 4, 256])
    g.output(masks, "masks", F32, ["B", 4, 288, 288])
    g.output(iou, "iou", F32, ["B", 4])
    g.output(ptr, "obj_ptr", F32, ["B", 4, 256])
    g.output(score, "obj_score", F32, ["B", 1])
    return g


def segment_memory_encoder():
    g = Graph("segment_memory_encoder", 104)
    feat = g.input("pix_feat", F32, ["B", 256, 72, 72])
    mask = g.input("mask", F32, ["B", 1, 1008, 1008])
    m = g.pool(mask, 14)
    mem = g.op("Tanh", g.op("Add", g.conv1x1(feat, 256, 64), g.conv1x1(m, 1, 64)))
    # Channel 0 keeps the mask itself (the host gives it ×20−10: to [-1, 1]).
    rest = g.op("Slice", mem, g.const(np.array([1], np.int64)), g.const(np.array([64], np.int64)), g.const(np.array([1], np.int64)))
    mem = g.op("Concat", g.op("Div", m, g.const(np.float32(10))), rest, axis=1)
    pos = g.op("Sin", g.conv1x1(m, 1, 64))
    g.output(mem, "maskmem", F32, ["B", 64, 72, 72])
    g.output(pos, "maskmem_pos", F32, ["B", 64, 72, 72])
    return g


def segment_constants():
    rng = np.random.default_rng(105)
    r = lambda *s: (rng.standard_normal(s) * 0.02).astype(np.float32)
    return {
        "maskmem_tpos_enc": r(7, 1, 1, 64),
        "no_mem_embed": r(1, 1, 256),
        "no_obj_ptr": r(1, 256),
        "no_obj_embed_spatial": r(1, 64),
        "obj_ptr_tpos_proj_weight": r(64, 256),
        "obj_ptr_tpos_proj_bias": r(64),
    }


# ---- amodal (Diffusion-VAS + Depth Anything V2): segment-amodal.md C ----

def amodal_clip_vision():
    g = Graph("amodal_clip_vision", 201)
    x = g.input("pixel_values", F32, ["B", 3, 224, 224])
    f = g.op("Flatten", g.pool(x, 14), axis=1)              # [B,768]
    g.output(g.op("Tanh", g.matmul(f, 768, 1024)), "image_embeds", F32, ["B", 1024])
    return g


def amodal_vae_encoder():
    g = Graph("amodal_vae_encoder", 202)
    x = g.input("sample", F32, ["B", 3, "H", "W"])
    g.output(g.op("Tanh", g.conv1x1(g.pool(x, 8), 3, 4)), "latent", F32, ["B", 4, "h", "w"])
    return g


def amodal_unet(name, seed):
    """The amodal-segmentation UNet and the content-completion UNet: the
    same network with other weights, as in Diffusion-VAS."""
    def build():
        g = Graph(name, seed)
        x = g.input("sample", F32, [2, "F", 12, "h", "w"])
        t = g.input("timestep", F32, [1])
        ehs = g.input("encoder_hidden_states", F32, ["F2", 1, 1024])
        ids = g.input("added_time_ids", F32, [2, 3])
        y = g.conv1x1(g.op("Transpose", x, perm=[0, 2, 1, 3, 4]), 12, 4, conv_dims=3)  # [2,4,F,h,w]
        e = g.op("ReduceMean", g.reshape(ehs, [2, -1, 1024]), axes=[1], keepdims=0)    # [2,1024]
        cond = g.op("Add", g.matmul(e, 1024, 4), g.matmul(ids, 3, 4))                  # [2,4]
        cond = g.op("Add", cond, g.op("Mul", t, g.const(np.float32(0.1))))
        y = g.op("Tanh", g.op("Add", y, g.reshape(cond, [2, 4, 1, 1, 1])))
        g.output(g.op("Transpose", y, perm=[0, 2, 1, 3, 4]), "noise_pred", F32, [2, "F", 4, "h", "w"])
        return g
    return build


def amodal_vae_decoder():
    g = Graph("amodal_vae_decoder", 204)
    z = g.input("latent", F32, ["F", 4, "h", "w"])
    y = g.op("Tanh", g.resize(g.conv1x1(z, 4, 3), [1, 1, 8, 8]))
    g.output(y, "sample", F32, ["F", 3, "H", "W"])
    return g


def amodal_depth():
    g = Graph("amodal_depth", 205)
    x = g.input("image", F32, ["B", 3, "H", "W"])
    d = g.op("Relu", g.resize(g.conv1x1(g.pool(x, 14), 3, 1), [1, 1, 14, 14]))
    g.output(g.op("Squeeze", d, g.const(np.array([1], np.int64))), "depth", F32, ["B", "H", "W"])
    return g


# ---- fov (MoGe-2): mesh-fov.md C ----

def fov_moge():
    g = Graph("fov_moge", 301)
    x = g.input("image", F32, [1, 3, "H", "W"])
    nt = g.input("num_tokens", I64, [])
    f = g.resize(g.op("Tanh", g.conv1x1(g.pool(x, 14), 3, 8)), [1, 1, 14, 14])  # [1,8,H,W]
    c = g.conv1x1(f, 8, 3)
    xy = g.op("Slice", c, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64)), g.const(np.array([1], np.int64)))
    zr = g.op("Slice", c, g.const(np.array([2], np.int64)), g.const(np.array([3], np.int64)), g.const(np.array([1], np.int64)))
    z = g.op("Exp", g.op("Mul", g.op("Tanh", zr), g.const(np.float32(0.3))))  # the exp remap: z = e^.
    # x, y = (uv/f + small noise)·z with uv MoGe's view-plane grid and a
    # normalised focal f = 0.9: random weights, but the points of a real
    # pinhole camera, so that the focal solve finds a plausible camera.
    shp = g.op("Cast", g.op("Shape", x), to=F32)
    hf = g.op("Gather", shp, g.const(np.array(2, np.int64)))
    wf = g.op("Gather", shp, g.const(np.array(3, np.int64)))
    diag = g.op("Sqrt", g.op("Add", g.op("Mul", wf, wf), g.op("Mul", hf, hf)))

    def axis(n, shape):  # ((i + 0.5)/n·2 − 1)·n/diag = (2i + 1 − n)/diag
        i = g.op("Range", g.const(np.float32(0)), n, g.const(np.float32(1)))
        t = g.op("Div", g.op("Sub", g.op("Add", g.op("Mul", i, g.const(np.float32(2))), g.const(np.float32(1))), n), diag)
        return g.op("Reshape", t, g.const(np.asarray(shape, np.int64)))

    u = g.op("Expand", axis(wf, [1, 1, 1, -1]), g.op("Shape", zr))
    v = g.op("Expand", axis(hf, [1, 1, -1, 1]), g.op("Shape", zr))
    uv = g.op("Div", g.op("Concat", u, v, axis=1), g.const(np.float32(0.9)))
    xy = g.op("Add", uv, g.op("Mul", g.op("Tanh", xy), g.const(np.float32(0.05))))
    pts = g.op("Concat", g.op("Mul", xy, z), z, axis=1)
    n = g.conv1x1(f, 8, 3)
    n = g.op("Div", n, g.op("Add", g.op("ReduceL2", n, axes=[1], keepdims=1), g.const(np.float32(1e-6))))
    mask = g.op("Squeeze", g.op("Sigmoid", g.conv1x1(f, 8, 1)), g.const(np.array([1], np.int64)))
    ls = g.op("ReduceMean", f, axes=[1, 2, 3], keepdims=0)
    ls = g.op("Add", ls, g.op("Mul", g.op("Cast", nt, to=F32), g.const(np.float32(1e-4))))
    scale = g.op("Exp", g.reshape(ls, [1]))
    g.output(g.op("Transpose", pts, perm=[0, 2, 3, 1]), "points", F32, [1, "H", "W", 3])
    g.output(g.op("Transpose", n, perm=[0, 2, 3, 1]), "normal", F32, [1, "H", "W", 3])
    g.output(mask, "mask", F32, [1, "H", "W"])
    g.output(scale, "metric_scale", F32, [1])
    return g


# ---- mesh (SAM-3D-Body): mesh-fov.md A ----

def mesh_backbone():
    g = Graph("mesh_backbone", 401)
    x = g.input("image", F32, ["B", 3, 512, 512])
    g.output(g.op("Tanh", g.conv1x1(g.pool(x, 16), 3, 1280)), "features", F32, ["B", 1280, 32, 32])
    return g


MESH_TOKENS = 1024  # decoder token width (DECODER.DIM)
MESH_RANK = 4       # low-rank stand-ins for the 1024/1280-wide layers keep the files small


def mesh_init_pose():
    """init_pose of the tiny head: the reference's zero pose in its
    continuous form (6D identity per 3-DoF joint, (sin 0, cos 0) per
    1-DoF joint), zeros for shape, scales, hands and face."""
    x = np.zeros(519, np.float32)
    x[0:6] = [1, 0, 0, 0, 1, 0]
    x[6:6 + 138] = np.tile([1, 0, 0, 0, 1, 0], 23)
    x[6 + 138:6 + 138 + 116] = np.tile([0, 1], 58)
    return x


def mesh_lowrank(g, x, cin, cout, scale=1.0):
    return g.op("Mul", g.matmul(g.matmul(x, cin, MESH_RANK), MESH_RANK, cout), g.const(np.float32(scale)))


def mesh_heads(g, tokens, hand=False):
    """The heads on the pose token (token 0): pose = FFN + init_pose,
    camera = FFN + init_camera (s ~ 1 after the head's negation), hand
    boxes through a sigmoid. The hand decoder's (hand=True): smaller
    FFNs, another init_camera, no hand boxes."""
    t0 = g.op("Tanh", g.op("Gather", tokens, g.const(np.array(0, np.int64)), axis=1))  # [B,1024]
    pose_scale, cam_scale, cam0 = (0.02, 0.01, -0.3) if hand else (0.1, 0.05, -1)
    pose = g.op("Add", mesh_lowrank(g, t0, MESH_TOKENS, 519, pose_scale), g.const(mesh_init_pose()))
    cam = g.op("Add", mesh_lowrank(g, t0, MESH_TOKENS, 3, cam_scale), g.const(np.array([cam0, 0, 0], np.float32)))
    if not hand:
        hands = g.reshape(g.op("Sigmoid", mesh_lowrank(g, t0, MESH_TOKENS, 8)), [-1, 2, 4])
    g.output(pose, "pose", F32, ["B", 519])
    g.output(cam, "camera", F32, ["B", 3])
    if not hand:
        g.output(hands, "hand_boxes", F32, ["B", 2, 4])


def mesh_decoder(name="mesh_decoder", seed=402, prompted=False, hand=False):
    """decoder (hand_decoder with hand=True). With prompted, decoder_prompt:
    the decoder started from a previous estimate (run_keypoint_prompt),
    prev_estimate [B, 522] feeding the previous-estimate token instead of
    the constant initial estimate."""
    def build():
        g = Graph(name, seed)
        feat = g.input("features", F32, ["B", 1280, 32, 32])
        mask = g.input("mask", F32, ["B", 1, 512, 512])
        score = g.input("mask_score", F32, ["B", 1])
        cond = g.input("condition", F32, ["B", 3])
        rays = g.input("rays", F32, ["B", 2, 32, 32])
        prompt = g.input("prompt", F32, ["B", "N", 3])
        prev = g.input("prev_estimate", F32, ["B", 522]) if prompted else None
        # Context: features + mask embedding (scaled by its score) + ray
        # embedding. A hand crop has mask_score 0: the no-mask embedding.
        m = g.op("Mul", g.conv1x1(g.pool(g.op("Mul", mask, g.const(np.float32(1 / 255))), 16), 1, 1280),
                 g.reshape(score, [-1, 1, 1, 1]))
        ctx = g.op("Tanh", g.op("Add", g.op("Add", feat, m), g.conv1x1(rays, 2, 1280)))
        gl = g.op("ReduceMean", ctx, axes=[2, 3], keepdims=0)                                  # [B,1280]
        h = g.op("Tanh", g.op("Add", mesh_lowrank(g, gl, 1280, MESH_TOKENS), g.matmul(cond, 3, MESH_TOKENS)))
        # Tokens: pose, previous estimate, N prompts, 2 hand, 70 + 70 keypoint tokens.
        b = g.op("Slice", g.op("Shape", cond), g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)))
        const_tok = lambda k: g.op("Expand", g.op("MatMul", g.weight(1, k, MESH_RANK), g.weight(MESH_RANK, MESH_TOKENS)),
                                   g.op("Concat", b, g.const(np.array([k, MESH_TOKENS], np.int64)), axis=0))
        t0 = g.op("Unsqueeze", h, g.const(np.array([1], np.int64)))
        if prompted:
            t1 = g.op("Unsqueeze", g.op("Tanh", mesh_lowrank(g, prev, 522, MESH_TOKENS)), g.const(np.array([1], np.int64)))
        else:
            t1 = const_tok(1)
        tokens = g.op("Concat", t0, t1, g.op("Tanh", g.matmul(prompt, 3, MESH_TOKENS)), const_tok(142), axis=1)
        g.output(ctx, "context", F32, ["B", 1280, 32, 32])
        g.output(tokens, "tokens", F32, ["B", "T", MESH_TOKENS])
        g.output(g.op("Tanh", g.op("Mul", tokens, g.const(np.float32(0.5)))), "augment", F32, ["B", "T", MESH_TOKENS])
        mesh_heads(g, tokens, hand)
        return g
    return build


def mesh_decoder_layer(i, name="mesh_decoder_layer", seed=402, hand=False):
    """decoder_layer{i} (hand_decoder_layer{i} with hand=True)."""
    def build():
        g = Graph(f"{name}{i}", seed + i)
        tokens = g.input("prev_tokens", F32, ["B", "T", MESH_TOKENS])
        augment = g.input("prev_augment", F32, ["B", "T", MESH_TOKENS])
        ctx = g.input("context", F32, ["B", 1280, 32, 32])
        kp2 = g.input("keypoints_2d", F32, ["B", 70, 2])
        valid = g.input("keypoints_valid", F32, ["B", 70])
        kp3 = g.input("keypoints_3d", F32, ["B", 70, 3])
        # Keypoint refresh: context sampled at the keypoints (grid_sample
        # at 2·kp, zeros outside, as the reference), masked, projected;
        # pelvis-centred 3-D keypoints through a small layer.
        grid = g.op("Unsqueeze", g.op("Mul", kp2, g.const(np.float32(2))), g.const(np.array([2], np.int64)))
        smp = g.op("GridSample", ctx, grid, mode="bilinear", padding_mode="zeros", align_corners=0)  # [B,1280,70,1]
        smp = g.op("Transpose", g.reshape(smp, [0, 1280, 70]), perm=[0, 2, 1])                     # [B,70,1280]
        vmask = g.op("Unsqueeze", valid, g.const(np.array([2], np.int64)))
        upd = g.op("Mul", mesh_lowrank(g, smp, 1280, MESH_TOKENS), vmask)
        upd = g.op("Add", upd, g.op("Tanh", g.matmul(kp3, 3, MESH_TOKENS)))
        x = g.op("Add", tokens, g.op("ReduceMean", upd, axes=[1], keepdims=1))
        # The layer: self- and cross-attention reduced to low-rank mixes.
        x = g.op("Add", x, g.op("Tanh", mesh_lowrank(g, g.op("Add", x, augment), MESH_TOKENS, MESH_TOKENS, 0.5)))
        gl = g.op("Unsqueeze", g.op("ReduceMean", ctx, axes=[2, 3], keepdims=0), g.const(np.array([1], np.int64)))
        x = g.op("Add", x, mesh_lowrank(g, gl, 1280, MESH_TOKENS, 0.5))
        g.output(x, "tokens", F32, ["B", "T", MESH_TOKENS])
        aug = g.op("Add", augment, g.op("Mul", g.op("ReduceMean", upd, axes=[1], keepdims=1), g.const(np.float32(0.1))))
        g.output(aug, "augment", F32, ["B", "T", MESH_TOKENS])
        mesh_heads(g, x, hand)
        return g
    return build


def mesh_hand_head():
    """Full mode's head buffers (mesh.ReadHandHead): the hand head's own
    scale and hand PCA (as mesh_head), its wrist transfer buffers, the
    non-hand parameters it zeroes, and the body head's rest rotations of
    the two wrist twist joints. The tiny MHR character has 16 joints, so
    `joints` names six of them for the reference's lower-arm, twist and
    wrist joints (76, 77, 78 and 40, 41, 42 in MHR's 127)."""
    rng = np.random.default_rng(450)
    h = mesh_head()
    h["scale_mean"] = (rng.standard_normal(68) * 0.05).astype(np.float32)
    h["scale_comps"] = (rng.standard_normal((28, 68)) * 0.02).astype(np.float32)

    def rot(v):
        th = np.linalg.norm(v)
        k = v / th
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        return (np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K).astype(np.float32)

    h["local_to_world_wrist"] = rot(rng.standard_normal(3) * 0.8)
    h["right_wrist_coords"] = (rng.standard_normal(3) * 20).astype(np.float32)
    h["root_coords"] = (rng.standard_normal(3) * 5).astype(np.float32)
    keep = set(range(0, 6)) | set(range(95, 122)) | set(range(136, 204))
    h["nonhand_param_idxs"] = np.array([i for i in range(204) if i not in keep], np.int64)
    h["joints"] = np.array([10, 11, 12, 13, 14, 15], np.int64)
    h["twist_joint_rotation"] = np.stack([rot(rng.standard_normal(3) * 0.5), rot(rng.standard_normal(3) * 0.5)])
    return h


def mesh_head():
    """The MHR head's buffers (mesh.ReadHead): random scale PCA, the
    zero-pose hand mean, identity hand components (as the reference sets
    them) and the hand joints at the body's hand parameters (68..121)."""
    rng = np.random.default_rng(409)
    hand_mean = np.zeros(54, np.float32)
    pos = 0
    for dofs in [3, 1, 1, 3, 1, 1, 3, 1, 1, 3, 1, 1, 2, 3, 1, 1]:
        hand_mean[pos:pos + 2 * dofs] = [1, 0, 0, 0, 1, 0] if dofs == 3 else [0, 1] * dofs
        pos += 2 * dofs
    return {
        "scale_mean": (rng.standard_normal(68) * 0.05).astype(np.float32),
        "scale_comps": (rng.standard_normal((28, 68)) * 0.02).astype(np.float32),
        "hand_pose_mean": hand_mean,
        "hand_pose_comps": np.eye(54, dtype=np.float32),
        "hand_joint_idxs_left": np.arange(68, 95, dtype=np.int64),
        "hand_joint_idxs_right": np.arange(95, 122, dtype=np.int64),
    }


def mesh_mhr_zip(path):
    """The tiny MHR character of testdata/mhr/tiny (tools/export/mhr/make_tiny.py)
    as one zip archive, so that one checksum covers it."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "mhr", "tiny")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name in sorted(os.listdir(src)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with open(os.path.join(src, name), "rb") as f:
                z.writestr(info, f.read())


ENGINES = [
    ("segment", "image_encoder", segment_image_encoder),
    ("segment", "memory_attention", segment_memory_attention),
    ("segment", "mask_decoder", segment_mask_decoder),
    ("segment", "memory_encoder", segment_memory_encoder),
    ("segment", "detector", segment_detector),
    ("amodal", "clip_vision", amodal_clip_vision),
    ("amodal", "vae_encoder", amodal_vae_encoder),
    ("amodal", "unet", amodal_unet("amodal_unet", 203)),
    ("amodal", "unet_completion", amodal_unet("amodal_unet_completion", 206)),
    ("amodal", "vae_decoder", amodal_vae_decoder),
    ("amodal", "depth", amodal_depth),
    ("fov", "moge", fov_moge),
    ("mesh", "backbone", mesh_backbone),
    ("mesh", "decoder", mesh_decoder()),
] + [("mesh", f"decoder_layer{i}", mesh_decoder_layer(i)) for i in range(1, 6)] + [
    ("mesh", "decoder_prompt", mesh_decoder("mesh_decoder_prompt", 430, prompted=True)),
    ("mesh", "hand_decoder", mesh_decoder("mesh_hand_decoder", 440, hand=True)),
] + [("mesh", f"hand_decoder_layer{i}", mesh_decoder_layer(i, "mesh_hand_decoder_layer", 440, hand=True))
     for i in range(1, 6)]

# Concrete sizes for the dynamic dims in the goldens, and explicit values
# for inputs a formula cannot stand in for.
GOLDEN_DIMS = {
    "segment/memory_attention": {"B": 2, "Nk": 5184 + 16},  # one memory frame and 4 pointers
    "segment/mask_decoder": {"B": 2, "N": 3},
    "segment/memory_encoder": {"B": 2},
    "segment/detector": {"T": 5},
    "amodal/clip_vision": {"B": 2},
    "amodal/vae_encoder": {"B": 2, "H": 64, "W": 128},
    "amodal/unet": {"F": 3, "F2": 6, "h": 8, "w": 16},
    "amodal/unet_completion": {"F": 3, "F2": 6, "h": 8, "w": 16},
    "amodal/vae_decoder": {"F": 3, "h": 8, "w": 16},
    "amodal/depth": {"B": 1, "H": 56, "W": 112},
    "fov/moge": {"H": 42, "W": 56},
    "mesh/backbone": {"B": 2},
    "mesh/decoder": {"B": 2, "N": 1},
    **{f"mesh/decoder_layer{i}": {"B": 2, "T": 145} for i in range(1, 6)},
    "mesh/decoder_prompt": {"B": 2, "N": 4},
    "mesh/hand_decoder": {"B": 2, "N": 1},
    **{f"mesh/hand_decoder_layer{i}": {"B": 2, "T": 145} for i in range(1, 6)},
}
GOLDEN_VALUES = {
    ("segment/memory_attention", "num_obj_ptr_tokens"): np.array(16, np.int64),
    ("segment/mask_decoder", "point_labels"): np.array([[1, 0, -1], [2, 3, -1]], np.int32),
    ("segment/mask_decoder", "has_mask_input"): np.array([1], np.float32),
    ("amodal/unet", "timestep"): np.array([0.25 * np.log(700.0)], np.float32),
    ("amodal/unet_completion", "timestep"): np.array([0.25 * np.log(700.0)], np.float32),
    ("fov/moge", "num_tokens"): np.array(3600, np.int64),
}
SAMPLES = 2048  # output values stored per golden tensor


def pattern(n, seed):
    """The golden input formula, shared with engine/ort/tiny_test.go:
    x[i] = float32(((i*7919 + seed) mod 2003) / 1001.5 - 1), in float64."""
    i = np.arange(n, dtype=np.int64)
    return (((i * 7919 + seed) % 2003) / 1001.5 - 1.0).astype(np.float32)


def sample_indices(n):
    k = np.arange(min(n, SAMPLES), dtype=np.int64)
    return (k * n) // min(n, SAMPLES) if n else k


def golden(key, model_path):
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    dims = GOLDEN_DIMS.get(key, {})
    feeds, desc = {}, {}
    for idx, inp in enumerate(sess.get_inputs()):
        shape = [d if isinstance(d, int) else dims[d] for d in inp.shape]
        fixed = GOLDEN_VALUES.get((key, inp.name))
        if fixed is not None:
            feeds[inp.name] = fixed
            desc[inp.name] = {"shape": list(fixed.shape), "values": fixed.reshape(-1).tolist()}
        else:
            assert inp.type == "tensor(float)", (key, inp.name, inp.type)
            seed = 17 * (idx + 1)
            n = int(np.prod(shape))
            feeds[inp.name] = pattern(n, seed).reshape(shape)
            desc[inp.name] = {"shape": shape, "pattern_seed": seed}
    outs = sess.run(None, feeds)
    result = {}
    for o, v in zip(sess.get_outputs(), outs):
        flat = v.reshape(-1).astype(np.float64)
        ix = sample_indices(flat.size)
        result[o.name] = {
            "shape": list(v.shape),
            "sum": float(flat.sum()),
            "sum_sq": float((flat * flat).sum()),
            "indices": ix.tolist(),
            "values": flat[ix].tolist(),
        }
    return {"engine": key, "inputs": desc, "outputs": result}


def write_npz(path, arrays):
    """np.savez with a fixed zip date, so the file is reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arrays[name], allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "sample", "models", "tiny"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)

    manifest = ["# Written by tools/export/make_tiny.py; do not edit.", "format: 1", "name: tiny",
                "description: Tiny random-weight models with the real engines' I/O contracts. "
                "They show that every part runs; their outputs are not meaningful.", "engines:"]
    for stage, name, build in ENGINES:
        fname = f"{stage}_{name}.onnx"
        path = os.path.join(out, fname)
        with open(path, "wb") as f:
            f.write(build().model().SerializeToString(deterministic=True))
        manifest += [f"  - stage: {stage}", f"    name: {name}", f"    file: {fname}",
                     "    backend: onnx", "    precision: fp32", f"    sha256: {sha256(path)}"]
        key = f"{stage}/{name}"
        with open(os.path.join(out, "golden", f"{stage}_{name}.json"), "w") as f:
            json.dump(golden(key, path), f, separators=(",", ":"))
            f.write("\n")
        print(f"{key}: {os.path.getsize(path)} bytes")

    consts = os.path.join(out, "segment_constants.npz")
    write_npz(consts, segment_constants())
    manifest += ["files:", "  - stage: segment", "    name: constants", "    file: segment_constants.npz",
                 f"    sha256: {sha256(consts)}"]
    concept = os.path.join(out, "segment_concept_person.npy")
    with open(concept, "wb") as f:
        np.lib.format.write_array(f, segment_concept_person(), allow_pickle=False)
    manifest += ["  - stage: segment", "    name: concept_person", "    file: segment_concept_person.npy",
                 f"    sha256: {sha256(concept)}"]
    for name, write in [("head", lambda p: write_npz(p, mesh_head())), ("mhr", mesh_mhr_zip),
                        ("hand_head", lambda p: write_npz(p, mesh_hand_head()))]:
        path = os.path.join(out, f"mesh_{name}.npz")
        write(path)
        manifest += ["  - stage: mesh", f"    name: {name}", f"    file: mesh_{name}.npz", f"    sha256: {sha256(path)}"]
    with open(os.path.join(out, "manifest.yaml"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
