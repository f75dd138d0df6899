#!/usr/bin/env python3
"""Export the SAM-3 tracker (PyPI sam3) into body4d's four segment engines
and its constants file, with the I/O contracts of segment.Contracts():

  image_encoder     img[1,3,1008,1008] -> fpn0[1,32,288,288] (conv_s0 applied),
                    fpn1[1,64,144,144] (conv_s1 applied), fpn2[1,256,72,72], pos2[1,256,72,72]
  memory_attention  src[5184,B,256], src_pos[5184,B,256], prompt[Nk,B,64],
                    prompt_pos[Nk,B,64], num_obj_ptr_tokens (int64 scalar)
                    -> pix_feat_with_mem[B,256,72,72]
  mask_decoder      image_embed[B,256,72,72], fpn0, fpn1, point_coords[B,N,2]
                    (model pixels, padding point included), point_labels[B,N] int32,
                    mask_input[B,1,288,288], has_mask_input[1]
                    -> masks[B,4,288,288], iou[B,4], obj_ptr[B,4,256], obj_score[B,1]
  memory_encoder    pix_feat[B,256,72,72], mask[B,1,1008,1008] (already ×20−10)
                    -> maskmem[B,64,72,72], maskmem_pos[B,64,72,72]
  constants.npz     maskmem_tpos_enc, no_mem_embed, no_obj_ptr, no_obj_embed_spatial,
                    obj_ptr_tpos_proj_weight, obj_ptr_tpos_proj_bias

The memory attention is re-expressed for export (reference notes A.8): RoPE
with real cos/sin instead of complex numbers, the key rotation applied per
5184-token memory by reshaping instead of repeating the table, and the
pointer tokens (the last num_obj_ptr_tokens keys) left unrotated with a
dynamic slice. Everything else calls the sam3 modules as they are.

STATUS: written against sam3 0.1.4 and run only on random weights (see
--random); never run on the real checkpoint, which is gated. With a
checkpoint (setup_random.py's random sam3.pt) the image encoder does not
export: the ViT's RoPE uses torch.view_as_complex, which the ONNX exporter
does not support. real_vit_rope swaps in the real cos/sin form (torch
outputs equal), exports and passes the onnxruntime check (README).

    python export.py --checkpoint sam3.pt --out models/sam3   # real weights
    python export.py --random --out /tmp/sam3-random          # random weights, check only

TensorRT (from the ONNX files; dynamic B, N and Nk need profiles):

    trtexec --onnx=segment_image_encoder.onnx --saveEngine=segment_image_encoder.plan --fp16
    trtexec --onnx=segment_memory_attention.onnx --saveEngine=segment_memory_attention.plan --fp16 \
        --minShapes=src:5184x1x256,src_pos:5184x1x256,prompt:5188x1x64,prompt_pos:5188x1x64 \
        --optShapes=src:5184x2x256,src_pos:5184x2x256,prompt:36352x2x64,prompt_pos:36352x2x64 \
        --maxShapes=src:5184x8x256,src_pos:5184x8x256,prompt:51916x8x64,prompt_pos:51916x8x64
    trtexec --onnx=segment_mask_decoder.onnx --saveEngine=segment_mask_decoder.plan \
        --minShapes=image_embed:1x256x72x72,fpn0:1x32x288x288,fpn1:1x64x144x144,point_coords:1x2x2,point_labels:1x2,mask_input:1x1x288x288 \
        --optShapes=image_embed:2x256x72x72,fpn0:2x32x288x288,fpn1:2x64x144x144,point_coords:2x2x2,point_labels:2x2,mask_input:2x1x288x288 \
        --maxShapes=image_embed:8x256x72x72,fpn0:8x32x288x288,fpn1:8x64x144x144,point_coords:8x17x2,point_labels:8x17,mask_input:8x1x288x288
      (kept FP32: the decoder's transposed convolutions lose accuracy in FP16, notes A.8)
    trtexec --onnx=segment_memory_encoder.onnx --saveEngine=segment_memory_encoder.plan --fp16 \
        --minShapes=pix_feat:1x256x72x72,mask:1x1x1008x1008 --optShapes=pix_feat:2x256x72x72,mask:2x1x1008x1008 \
        --maxShapes=pix_feat:8x256x72x72,mask:8x1x1008x1008
"""
import argparse
import io
import os
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/export
from exportlib import save_from, update_manifest  # noqa: E402


def cpu_patch():
    """sam3 builds a few buffers on "cuda" unconditionally; map them to the
    CPU when no GPU is present."""
    if torch.cuda.is_available():
        return

    def cpu(kw):
        d = kw.get("device")
        if d is not None and "cuda" in str(d):
            kw["device"] = "cpu"
        return kw

    for name in ["zeros", "ones", "full", "empty", "arange", "tensor", "randn", "rand", "linspace"]:
        f = getattr(torch, name)
        setattr(torch, name, (lambda f: lambda *a, **kw: f(*a, **cpu(kw)))(f))
    torch.Tensor.cuda = lambda self, *a, **kw: self
    torch.Tensor.pin_memory = lambda self, *a, **kw: self


def bpe_vocab():
    """sam3 0.1.4's wheel omits the BPE vocabulary its builder opens
    (site-packages/assets/, outside the package); open_clip_torch's wheel
    ships the same CLIP file. Only the text encoder, which is not exported,
    reads it."""
    import sam3
    own = os.path.join(os.path.dirname(sam3.__file__), "..", "assets", "bpe_simple_vocab_16e6.txt.gz")
    if os.path.exists(own):
        return own
    try:
        import open_clip
    except ImportError:
        sys.exit(f"segment export: sam3's BPE vocabulary {os.path.normpath(own)} is missing and open_clip_torch "
                 "(which ships it) is not installed: pip install open_clip_torch")
    path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    print(f"segment export: sam3's BPE vocabulary is missing; using open_clip_torch's {path}")
    return path


def _rotate(x, cos, sin):
    """apply_rotary_enc for [..., L, D] with a [L, D/2] table: (re, im)
    pairs times (cos + i sin)."""
    re, im = x[..., 0::2], x[..., 1::2]
    return torch.stack([re * cos - im * sin, re * sin + im * cos], dim=-1).flatten(-2)


def _rope_attention(attn, q, k, v, cos, sin, num_k_exclude_rope):
    """RoPEAttention.forward (heads = 1 in the tracker) for export."""
    q = attn._separate_heads(attn.q_proj(q), attn.num_heads)
    k = attn._separate_heads(attn.k_proj(k), attn.num_heads)
    v = attn._separate_heads(attn.v_proj(v), attn.num_heads)
    L = cos.shape[0]
    q = _rotate(q, cos, sin)
    nr = k.shape[-2] - num_k_exclude_rope
    kr, kp = k[:, :, :nr], k[:, :, nr:]
    b, h, _, d = kr.shape
    kr = _rotate(kr.reshape(b, h, -1, L, d), cos, sin).reshape(b, h, -1, d)
    k = torch.cat([kr, kp], dim=2)
    out = F.scaled_dot_product_attention(q, k, v)
    return attn.out_proj(attn._recombine_heads(out))


class MemoryAttention(nn.Module):
    """TransformerEncoderCrossAttention as the tracker calls it."""

    def __init__(self, tracker):
        super().__init__()
        self.enc = tracker.transformer.encoder
        self.g = tracker.image_size // tracker.backbone_stride
        a = self.enc.layers[0].self_attn
        self.dim = a.internal_dim // a.num_heads
        self.theta = 10000.0

    def rope_table(self, src):
        """compute_axial_cis as real cos/sin, computed in the graph from
        the input's length (a constant table would be larger than the
        network's weights)."""
        dim, g = self.dim, self.g
        freqs = 1.0 / (self.theta ** (torch.arange(0, dim, 4)[: (dim // 4)].float() / dim))
        t = torch.arange(src.shape[0], dtype=torch.float32)
        tx, ty = t % g, torch.div(t, g, rounding_mode="floor")
        ang = torch.cat([torch.outer(tx, freqs), torch.outer(ty, freqs)], dim=-1)
        return torch.cos(ang), torch.sin(ang)

    def forward(self, src, src_pos, prompt, prompt_pos, num_obj_ptr_tokens):
        self.cos, self.sin = self.rope_table(src)
        out = (src + 0.1 * src_pos).transpose(0, 1)
        memory, pos = prompt.transpose(0, 1), prompt_pos.transpose(0, 1)
        for layer in self.enc.layers:
            t = layer.norm1(out)
            out = out + _rope_attention(layer.self_attn, t, t, t, self.cos, self.sin, 0)
            t = layer.norm2(out)
            out = out + _rope_attention(layer.cross_attn_image, t, memory + pos, memory, self.cos, self.sin, num_obj_ptr_tokens)
            t = layer.norm3(out)
            out = out + layer.linear2(layer.activation(layer.linear1(t)))
        out = self.enc.norm(out)
        return out.transpose(1, 2).reshape(out.shape[0], out.shape[2], self.g, self.g)


class MaskDecoder(nn.Module):
    """Prompt encoder + mask decoder, all four outputs, pointers of all four
    tokens; no gating (the host does it)."""

    def __init__(self, tracker):
        super().__init__()
        self.pe = tracker.sam_prompt_encoder
        self.md = tracker.sam_mask_decoder
        self.proj = tracker.obj_ptr_proj

    def forward(self, image_embed, fpn0, fpn1, point_coords, point_labels, mask_input, has_mask_input):
        sparse = self.pe._embed_points(point_coords, point_labels, pad=False)
        no = self.pe.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = has_mask_input * self.pe.mask_downscaling(mask_input) + (1 - has_mask_input) * no
        dense = dense.expand(image_embed.shape[0], -1, image_embed.shape[2], image_embed.shape[3])
        masks, iou, tokens, score = self.md.predict_masks(
            image_embeddings=image_embed, image_pe=self.pe.get_dense_pe(), sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, repeat_image=False, high_res_features=[fpn0, fpn1])
        return masks, iou, self.proj(tokens), score


class MemoryEncoder(nn.Module):
    """SimpleMaskEncoder with the mask already scaled. Its mask path
    upsamples 1008 -> 1152 with antialias=True, which ONNX lacks; when
    upsampling, PyTorch's antialiased bilinear filter has the same taps as
    plain bilinear (support 1), so the export uses plain bilinear."""

    def __init__(self, tracker):
        super().__init__()
        self.mb = tracker.maskmem_backbone

    def forward(self, pix_feat, mask):
        interpolate = F.interpolate

        def plain(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None, antialias=False):
            if antialias and size is not None and all(s >= d for s, d in zip(size, x.shape[-2:])):
                antialias = False
            return interpolate(x, size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners,
                               recompute_scale_factor=recompute_scale_factor, antialias=antialias)

        F.interpolate = plain
        try:
            out = self.mb(pix_feat, mask, skip_mask_sigmoid=True)
        finally:
            F.interpolate = interpolate
        return out["vision_features"], out["vision_pos_enc"][0]


def real_vit_rope(backbone):
    """The ViT's RoPE multiplies by a complex table (view_as_complex), which
    the ONNX exporter does not support: replace each attention's table by
    its real cos/sin and rotate with _rotate (same arithmetic)."""
    import types
    from sam3.model.vitdet import Attention

    def apply_rope(self, q, k):
        return (_rotate(q.float(), self.rope_cos, self.rope_sin).type_as(q),
                _rotate(k.float(), self.rope_cos, self.rope_sin).type_as(k))

    for m in backbone.modules():
        if isinstance(m, Attention) and m.use_rope and m.freqs_cis is not None:
            fc = m.freqs_cis
            m.register_buffer("rope_cos", fc.real.float().contiguous(), persistent=False)
            m.register_buffer("rope_sin", fc.imag.float().contiguous(), persistent=False)
            m._apply_rope = types.MethodType(apply_rope, m)


class ImageEncoder(nn.Module):
    """The tracker's forward_image: backbone (sam2 neck levels) then the
    decoder's conv_s0/conv_s1 on the two high-resolution levels."""

    def __init__(self, tracker, backbone):
        super().__init__()
        real_vit_rope(backbone)
        self.backbone = backbone
        self.s0 = tracker.sam_mask_decoder.conv_s0
        self.s1 = tracker.sam_mask_decoder.conv_s1

    def forward(self, img):
        out = self.backbone.forward_image(img)["sam2_backbone_out"]
        fpn, pos = out["backbone_fpn"][-3:], out["vision_pos_enc"][-3:]
        return self.s0(fpn[0]), self.s1(fpn[1]), fpn[2], pos[2]


class EmptyGeometry(nn.Module):
    """SequenceGeometryEncoder.forward for the empty geometric prompt that
    detection passes (Sam3Image._get_dummy_prompt: no points, boxes or
    masks): only its CLS token is left, projected, normed and run through
    the encoder layers against the image. The zero-sized point and box
    branches the module runs on the empty prompt add nothing, and the
    ONNX exporter's shape inference divides by zero on them (SIGFPE), so
    the export skips them; the parity test checks the outputs are the same."""

    def __init__(self, geo):
        super().__init__()
        self.geo = geo

    def forward(self, geo_prompt, img_feats, img_sizes, img_pos_embeds=None):
        g = self.geo
        assert geo_prompt.point_embeddings.shape[0] == 0 and geo_prompt.box_embeddings.shape[0] == 0
        assert geo_prompt.mask_embeddings is None
        feats, pos = img_feats[-1], img_pos_embeds[-1]
        bs = feats.shape[1]
        x = g.cls_embed.weight.view(1, 1, g.d_model).repeat(1, bs, 1)
        mask = torch.zeros(bs, 1, dtype=torch.bool)
        if g.final_proj is not None:
            x = g.norm(g.final_proj(x))
        if g.encode is not None:
            for lay in g.encode:
                x = lay(tgt=x, memory=feats, tgt_key_padding_mask=mask, pos=pos)
            x = g.encode_norm(x)
        return x, mask


class Detector(nn.Module):
    """Sam3Image.forward_grounding for one frame and one text prompt with no
    geometric prompt (as Sam3VideoBase.run_backbone_and_detection calls it
    through forward_video_grounding_multigpu): the SAM-3 backbone levels,
    the dummy geometry prompt (its CLS token), the text-conditioned
    encoder, the decoder with its presence token, the dot-product scorer,
    the box head and the segmentation head. text is the text encoder's
    output for the concept with the padding cut (all its tokens valid).
    The outputs are the last decoder layer's: class logits before the
    presence score is joined (supervise_joint_box_scores is switched off
    in the graph; detect.Postprocess joins them as the reference does),
    the presence logit, boxes (cx, cy, w, h relative) and mask logits."""

    def __init__(self, model):
        super().__init__()
        real_vit_rope(model.backbone)
        self.model = model

    def forward(self, img, text):
        from types import SimpleNamespace
        m = self.model
        backbone_out = {**m.backbone.forward_image(img), "language_features": text.transpose(0, 1),
                        "language_mask": torch.zeros(1, text.shape[1], dtype=torch.bool)}
        ids = torch.zeros(1, dtype=torch.long)
        joint, geo = m.supervise_joint_box_scores, m.geometry_encoder
        m.supervise_joint_box_scores, m.geometry_encoder = False, EmptyGeometry(geo)
        try:
            out = m.forward_grounding(backbone_out=backbone_out, find_input=SimpleNamespace(img_ids=ids, text_ids=ids),
                                      find_target=None, geometric_prompt=m._get_dummy_prompt())
        finally:
            m.supervise_joint_box_scores, m.geometry_encoder = joint, geo
        return out["pred_logits"][..., 0], out["presence_logit_dec"], out["pred_boxes"], out["pred_masks"]


def concept_embedding(model, concept="person"):
    """The text encoder's output for concept, [T,256] float32 with the
    padding tokens cut (segment.readEmbedding reads it)."""
    t = model.backbone.forward_text([concept], device="cpu")
    feats, pad = t["language_features"][:, 0], t["language_mask"][0]
    e = feats[~pad].detach().float().cpu().numpy().astype(np.float32)
    if not np.isfinite(e).all():
        raise SystemExit(f"segment export: the text encoder's {concept!r} embedding is not finite "
                         f"({int((~np.isfinite(e)).sum())} of {e.size} values); a checkpoint without its "
                         "text encoder? Random weights need random_text_init")
    return e


def vit_engines(model, out):
    """The engines that run SAM-3's ViT, the image encoder and the concept
    detector (in that order), for export(); the "person" embedding is
    written to out now, before the detector's export patches the ViT (the
    text path does not touch it either way). Returns (modules, files)."""
    os.makedirs(out, exist_ok=True)
    write_npy(os.path.join(out, "segment_concept_person.npy"), concept_embedding(model.detector.eval()))
    modules = {"image_encoder": ImageEncoder(model.tracker.eval(), model.detector.backbone.eval()),
               "detector": Detector(model.detector)}
    return modules, [("concept_person", "segment_concept_person.npy")]


def random_text_init(model, seed=0):
    """For random-weight builds only: sam3 0.1.4 allocates its text
    encoder's positional embedding and text projection with torch.empty and
    relies on the checkpoint to fill them, so an unloaded model embeds every
    concept as NaN. Fill them as CLIP initialises them (normal, std 0.01 and
    width^-0.5) and return their names."""
    enc = model.backbone.language_backbone.encoder
    g = torch.Generator().manual_seed(seed)
    done = []
    with torch.no_grad():
        if isinstance(enc.positional_embedding, torch.nn.Parameter):
            enc.positional_embedding.copy_(torch.randn(enc.positional_embedding.shape, generator=g) * 0.01)
            done.append("positional_embedding")
        if isinstance(enc.text_projection, torch.nn.Parameter):
            w = enc.text_projection.shape[0]
            enc.text_projection.copy_(torch.randn(enc.text_projection.shape, generator=g) * w ** -0.5)
            done.append("text_projection")
    return done


def write_npy(path, a):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False)


def constants(tracker):
    t = lambda x: x.detach().float().cpu().numpy().astype(np.float32)
    return {
        "maskmem_tpos_enc": t(tracker.maskmem_tpos_enc),
        "no_mem_embed": t(tracker.no_mem_embed),
        "no_obj_ptr": t(tracker.no_obj_ptr),
        "no_obj_embed_spatial": t(tracker.no_obj_embed_spatial),
        "obj_ptr_tpos_proj_weight": t(tracker.obj_ptr_tpos_proj.weight),
        "obj_ptr_tpos_proj_bias": t(tracker.obj_ptr_tpos_proj.bias),
    }


def write_npz(path, arrays):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, buf.getvalue())


def example_inputs(tracker, B=2, N=3, nk_mem=2):
    S = tracker.image_size
    g = S // tracker.backbone_stride
    l = 4 * g
    f = lambda *s: torch.randn(*s)
    return {
        "image_encoder": (f(1, 3, S, S),),
        "memory_attention": (f(g * g, B, 256), f(g * g, B, 256), f(nk_mem * g * g + 8, B, 64),
                             f(nk_mem * g * g + 8, B, 64), torch.tensor(8, dtype=torch.int64)),
        "mask_decoder": (f(B, 256, g, g), f(B, 32, l, l), f(B, 64, l // 2, l // 2), torch.rand(B, N, 2) * S,
                         torch.tensor([[1, 0, -1]] * B, dtype=torch.int32)[:, :N], f(B, 1, l, l),
                         torch.ones(1)),
        "memory_encoder": (f(B, 256, g, g), f(B, 1, S, S)),
        "detector": (f(1, 3, S, S), f(1, N + 2, 256)),
    }


NAMES = {
    "image_encoder": (["img"], ["fpn0", "fpn1", "fpn2", "pos2"], {}),
    "memory_attention": (["src", "src_pos", "prompt", "prompt_pos", "num_obj_ptr_tokens"], ["pix_feat_with_mem"],
                         {"src": {1: "B"}, "src_pos": {1: "B"}, "prompt": {0: "Nk", 1: "B"}, "prompt_pos": {0: "Nk", 1: "B"},
                          "pix_feat_with_mem": {0: "B"}}),
    "mask_decoder": (["image_embed", "fpn0", "fpn1", "point_coords", "point_labels", "mask_input", "has_mask_input"],
                     ["masks", "iou", "obj_ptr", "obj_score"],
                     {"image_embed": {0: "B"}, "fpn0": {0: "B"}, "fpn1": {0: "B"}, "point_coords": {0: "B", 1: "N"},
                      "point_labels": {0: "B", 1: "N"}, "mask_input": {0: "B"}, "masks": {0: "B"}, "iou": {0: "B"},
                      "obj_ptr": {0: "B"}, "obj_score": {0: "B"}}),
    "memory_encoder": (["pix_feat", "mask"], ["maskmem", "maskmem_pos"],
                       {"pix_feat": {0: "B"}, "mask": {0: "B"}, "maskmem": {0: "B"}, "maskmem_pos": {0: "B"}}),
    "detector": (["img", "text"], ["logits", "presence", "boxes", "masks"],
                 {"text": {1: "T"}}),
}


def fp16_initializers(path):
    """Store float weights as float16 with a Cast back to float32 (the
    computation stays float32; the caller rounds the weights first)."""
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(path)
    g = m.graph
    keep, casts = [], []
    for init in g.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype != np.float32 or a.size < 64:
            keep.append(init)
            continue
        h = a.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), a):
            keep.append(init)  # not a rounded weight (a fixed table): keep exact
            continue
        keep.append(numpy_helper.from_array(h, init.name + "_fp16"))
        casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=onnx.TensorProto.FLOAT))
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    with open(path, "wb") as f:
        f.write(m.SerializeToString(deterministic=True))


def export(modules, out, check=True, opset=17, fp16_weights=False):
    """Export each module to out/segment_<name>.onnx and, with check, compare
    onnxruntime against PyTorch on random inputs of other sizes than the
    traced ones. A network over protobuf's 2 GB (the real-size detector)
    keeps its weights in segment_<name>.onnx.data; returns the manifest
    file entries [(name_data, file)] for those."""
    import shutil
    import tempfile
    os.makedirs(out, exist_ok=True)
    tracker = modules["_tracker"]
    data_files = []
    for name, mod in modules.items():
        if name.startswith("_"):
            continue
        ins, outs, dyn = NAMES[name]
        path = os.path.join(out, f"segment_{name}.onnx")
        tmp = tempfile.mkdtemp(prefix=f"segment_{name}_", dir=out)
        try:
            torch.onnx.export(mod.eval(), example_inputs(tracker)[name], os.path.join(tmp, "model.onnx"),
                              input_names=ins, output_names=outs, dynamic_axes=dyn, opset_version=opset,
                              dynamo=False,
                              # keep the RoPE table computed in the graph
                              do_constant_folding=name != "memory_attention")
            data = save_from(os.path.join(tmp, "model.onnx"), path)
        finally:
            shutil.rmtree(tmp)
        if data is not None:
            data_files.append((name + "_data", os.path.basename(data)))
        if fp16_weights:
            fp16_initializers(path)
        if check:
            import onnxruntime as ort
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            args = example_inputs(tracker, B=3, N=2, nk_mem=3)[name]
            with torch.no_grad():
                want = mod(*args)
            if isinstance(want, torch.Tensor):
                want = (want,)
            got = sess.run(None, {n: a.numpy() for n, a in zip(ins, args)})
            for o, w, g in zip(outs, want, got):
                err = float(np.abs(w.numpy() - g).max())
                print(f"{name}/{o}: max |onnx - torch| = {err:.3g}")
    return data_files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", help="SAM-3 checkpoint (sam3.pt)")
    ap.add_argument("--random", action="store_true", help="random weights (export check only)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cpu_patch()
    from sam3.model_builder import build_sam3_video_model, build_tracker

    model = None
    if args.random:
        tracker = build_tracker(apply_temporal_disambiguation=True).eval()
    else:
        model = build_sam3_video_model(checkpoint_path=args.checkpoint, load_from_HF=False, bpe_path=bpe_vocab())
        tracker = model.tracker.eval()
    modules = {"_tracker": tracker, "memory_attention": MemoryAttention(tracker),
               "mask_decoder": MaskDecoder(tracker), "memory_encoder": MemoryEncoder(tracker)}
    files = [("constants", "segment_constants.npz")]
    os.makedirs(args.out, exist_ok=True)
    with torch.no_grad():
        if model is not None:
            vit, vit_files = vit_engines(model, args.out)
            modules.update(vit)
            files += vit_files
        files += export(modules, args.out)
    write_npz(os.path.join(args.out, "segment_constants.npz"), constants(tracker))
    # The five engines (three with --random: no image encoder, no
    # detector), the constants and the "person" embedding in
    # OUT/manifest.yaml, other entries kept.
    names = [n for n in NAMES if n in modules]
    print(update_manifest(args.out, "segment", [(n, f"segment_{n}.onnx", "fp32") for n in names], files))


if __name__ == "__main__":
    main()
