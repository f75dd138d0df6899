#!/usr/bin/env python3
"""Golden for the whole mesh stage on the tiny model set
(testdata/models/tiny): the reference's pre- and post-processing around
the same ONNX engines run by onnxruntime, on a fixed two-frame clip.

Reference code (imported from SAM3DB_SRC, a checkout of
facebookresearch/sam-3d-body, as in golden.py): prepare_batch with the
estimator's transforms, get_ray_condition and CameraEncoder's
downsampling, _get_decoder_condition, MHRHead.forward (the 519 -> 204
decoding), PerspectiveHead.perspective_projection and _full_to_crop; the
keypoint-token inputs follow keypoint_token_update_fn and
keypoint3d_token_update_fn.

MHR itself: the official `mhr` package needs Python 3.12 and pymomentum,
so the tiny character is evaluated by the small numpy MHR below, which is
first checked against testdata/mhr/golden.npz (the official package's
outputs for the same character) and refuses to run if it differs.

    SAM3DB_SRC=/path/to/sam-3d-body /work/venvs/mesh/bin/python tools/golden/mesh/stage.py

Writes testdata/mesh/stage.npz.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import golden as G  # noqa: E402  (sets up the reference imports)

ROOT = os.path.join(HERE, "..", "..", "..")
TINY = os.path.join(ROOT, "testdata", "models", "tiny")
MHR_DIR = os.path.join(ROOT, "testdata", "mhr", "tiny")

W, H, FRAMES = 160, 120, 2
# Person rectangles per frame (x0, y0, x1, y1), x1/y1 exclusive.
RECTS = {1: [(30, 20, 70, 110), (34, 22, 76, 112)], 2: [(90, 50, 150, 80), (0, 0, 20, 30)]}


def frame(i):
    """pix[y, x, c] = (5x + 11y + 37c + 3i + (x*y mod 13)) mod 256."""
    y, x, c = np.meshgrid(np.arange(H), np.arange(W), np.arange(3), indexing="ij")
    return ((5 * x + 11 * y + 37 * c + 3 * i + (x * y) % 13) % 256).astype(np.uint8)


# ---- numpy MHR for the tiny character (checked against the official package's goldens) ----

def rot_xyz(a):
    cx, cy, cz = np.cos(a)
    sx, sy, sz = np.sin(a)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def rot_quat(q):
    x, y, z, w = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


class NumpyMHR:
    def __init__(self, d):
        a = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".npy")}
        self.a = a
        self.J = a["parents"].shape[0]
        self.V = a["base_shape"].shape[0]

    def forward(self, ident, params, expr=None):
        a, J = self.a, self.J
        jp = a["parameter_transform"].astype(np.float64) @ params.astype(np.float64)
        gt, gR, gs = [None] * J, [None] * J, [None] * J
        for j in range(J):
            p = jp[7 * j:7 * j + 7]
            t = p[0:3] + a["translation_offsets"][j]
            R = rot_quat(a["pre_rotations"][j]) @ rot_xyz(p[3:6])
            s = 2.0 ** p[6]
            par = a["parents"][j]
            if par >= 0:
                t = gt[par] + gs[par] * gR[par] @ t
                R = gR[par] @ R
                s = gs[par] * s
            gt[j], gR[j], gs[j] = t, R, s
        rest = a["base_shape"].astype(np.float64) + np.tensordot(ident, a["identity_basis"], 1)
        if expr is not None:
            rest = rest + np.tensordot(expr, a["expression_basis"], 1)
        feat = []
        for j in range(2, J):
            R = rot_xyz(jp[7 * j + 3:7 * j + 6])
            feat += [R[0, 0] - 1, R[1, 0], R[2, 0], R[0, 1], R[1, 1] - 1, R[2, 1]]
        feat = np.array(feat)
        hid = np.zeros(a["corrective_blendshapes"].shape[0])
        np.add.at(hid, a["corrective_indices"][0], a["corrective_weights"] * feat[a["corrective_indices"][1]])
        rest = rest + np.tensordot(np.maximum(hid, 0), a["corrective_blendshapes"], 1)
        verts = np.zeros((self.V, 3))
        ib = a["inverse_bind_pose"]
        for v, j, w in zip(a["skin_vertex"], a["skin_joint"], a["skin_weight"]):
            Rb, tb, sb = rot_quat(ib[j, 3:7]), ib[j, 0:3], ib[j, 7]
            tc, Rc, sc = gt[j] + gs[j] * gR[j] @ tb, gR[j] @ Rb, gs[j] * sb
            verts[v] += w * (tc + sc * Rc @ rest[v])
        joints = np.array(gt)
        allp = np.concatenate([verts, joints])
        kp = np.zeros((a["keypoint_row"].max() + 1 if len(a["keypoint_row"]) else 0, 3))
        kp = np.zeros((70, 3))
        np.add.at(kp, a["keypoint_row"], a["keypoint_weight"][:, None] * allp[a["keypoint_col"]])
        return verts, joints, kp

    def check(self):
        g = np.load(os.path.join(ROOT, "testdata", "mhr", "golden.npz"))
        worst = 0.0
        for i in range(g["model"].shape[0]):
            v, _, kp = self.forward(g["identity"][i], g["model"][i], g["expr"][i])
            scale = max(np.abs(g["verts"][i]).max(), 1)
            worst = max(worst, np.abs(v - g["verts"][i]).max() / scale, np.abs(kp - g["keypoints"][i]).max() / scale)
        if worst > 1e-4:
            raise SystemExit(f"numpy MHR differs from the official package's goldens by {worst:.3g}")
        print(f"numpy MHR vs official goldens: max relative error {worst:.2g}")


class MHRModule(nn.Module):
    """MHR as MHRHead calls it: (shape, model_params, expr) -> verts (cm), skel_state."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, shape, model_params, expr):
        vs, sk = [], []
        for b in range(shape.shape[0]):
            v, j, _ = self.m.forward(shape[b].double().numpy(), model_params[b].double().numpy(), None)
            vs.append(v)
            s = np.zeros((self.m.J, 8))
            s[:, 0:3], s[:, 6], s[:, 7] = j, 1, 1
            sk.append(s)
        return torch.tensor(np.array(vs), dtype=torch.float32), torch.tensor(np.array(sk), dtype=torch.float32)


def head_module(m):
    hd = np.load(os.path.join(TINY, "mesh_head.npz"))
    head = G.MHRHead.__new__(G.MHRHead)
    nn.Module.__init__(head)
    head.num_shape_comps, head.num_scale_comps, head.num_hand_comps, head.num_face_comps = 45, 28, 54, 72
    head.enable_hand_model, head.body_cont_dim, head.npose, head.num_hand_pose_comps = False, 260, 519, 54
    head.proj = nn.Identity()
    for k in hd.files:
        setattr(head, k, nn.Parameter(torch.from_numpy(hd[k]), requires_grad=False))
    a = m.a
    km = np.zeros((70, m.V + m.J), np.float32)
    np.add.at(km, (a["keypoint_row"], a["keypoint_col"]), a["keypoint_weight"])
    head.keypoint_mapping = nn.Parameter(torch.from_numpy(km), requires_grad=False)
    head.faces = nn.Parameter(torch.zeros(1, 3).long(), requires_grad=False)
    head.mhr = MHRModule(m)
    return head


def main():
    m = NumpyMHR(MHR_DIR)
    m.check()
    head = head_module(m)
    cam_head = G.PerspectiveHead(input_dim=8, img_size=(512, 512))
    sess = {n: ort.InferenceSession(os.path.join(TINY, f"mesh_{n}.onnx"), providers=["CPUExecutionProvider"])
            for n in ["backbone", "decoder"] + [f"decoder_layer{i}" for i in range(1, 6)]}
    out = {}
    for f in range(FRAMES):
        img = frame(f)
        ids = sorted(RECTS)
        masks = np.zeros((len(ids), H, W, 1), np.uint8)
        for i, pid in enumerate(ids):
            x0, y0, x1, y1 = RECTS[pid][f]
            masks[i, y0:y1, x0:x1] = 255
        import cv2
        boxes = []
        for i in range(len(ids)):
            bx, by, bw, bh = cv2.boundingRect(masks[i, :, :, 0])
            boxes.append([bx, by, bx + bw, by + bh])
        boxes = np.array(boxes, np.float32)
        f_default = (W * W + H * H) ** 0.5
        K = np.array([[f_default, 0, W / 2], [0, f_default, H / 2], [0, 0, 1]], np.float32)
        transform = G.Compose([G.GetBBoxCenterScale(), G.TopdownAffine(input_size=(512, 512), use_udp=False),
                               G.VisionTransformWrapper(G.ToTensor())])
        batch = G.prepare_batch(img, transform, boxes, masks, np.ones(len(ids), np.float32),
                                cam_int=torch.from_numpy(K)[None])
        P = len(ids)
        import types
        fake = types.SimpleNamespace(cfg=G.Cfg(MODEL=G.Cfg(DECODER=G.Cfg(CONDITION_TYPE="cliff", USE_INTRIN_CENTER=True))))
        fake._batch_size, fake._max_num_person = 1, P
        fake._flatten_person = types.MethodType(G.BaseModel._flatten_person, fake)
        cond = G.SAM3DBody._get_decoder_condition(fake, batch).numpy()
        enc = G.CameraEncoder(8, 16)
        seen = {}

        class Record(nn.Module):
            def forward(self, pos):
                seen["pos"] = pos
                return torch.zeros(pos.shape[0], pos.shape[1], 99)

        enc.camera = Record()
        enc(torch.zeros(P, 8, 32, 32), G.SAM3DBody.get_ray_condition(fake, batch)[0])
        rays = seen["pos"][..., :2].reshape(P, 32, 32, 2).permute(0, 3, 1, 2).contiguous().numpy()
        mean = torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
        x = ((batch["img"][0] - mean) / std).numpy()
        feats = sess["backbone"].run(None, {"image": x})[0]
        prompt = np.zeros((P, 1, 3), np.float32)
        prompt[:, :, 2] = -2
        dec = dict(zip([o.name for o in sess["decoder"].get_outputs()], sess["decoder"].run(None, {
            "features": feats, "mask": batch["mask"][0].numpy().astype(np.float32),
            "mask_score": np.ones((P, 1), np.float32), "condition": cond, "rays": rays, "prompt": prompt})))
        ctx, cur = dec["context"], dec
        for layer in range(1, 7):
            po = head.forward(torch.from_numpy(cur["pose"]))
            j3d = po["pred_keypoints_3d"]
            cam = cam_head.perspective_projection(
                j3d, torch.from_numpy(cur["camera"]), batch["bbox_center"][0], batch["bbox_scale"][0][:, 0],
                batch["ori_img_size"][0], torch.from_numpy(K)[None].expand(P, 3, 3), use_intrin_center=True)
            if layer == 6:
                break
            kpc = G.SAM3DBody._full_to_crop(fake, batch, cam["pred_keypoints_2d"])
            kp01 = kpc + 0.5
            invalid = ((kp01[..., 0] < 0) | (kp01[..., 0] > 1) | (kp01[..., 1] < 0) | (kp01[..., 1] > 1)
                       | (cam["pred_keypoints_2d_depth"] < 1e-5))
            pel = (j3d[:, [9]] + j3d[:, [10]]) / 2
            name = f"decoder_layer{layer}"
            cur = dict(zip([o.name for o in sess[name].get_outputs()], sess[name].run(None, {
                "prev_tokens": cur["tokens"], "prev_augment": cur["augment"], "context": ctx,
                "keypoints_2d": kpc.numpy().astype(np.float32), "keypoints_valid": (~invalid).numpy().astype(np.float32),
                "keypoints_3d": (j3d - pel).numpy().astype(np.float32)})))
        shape, params, _ = po["shape"], po["mhr_model_params"], None
        for i, pid in enumerate(ids):
            key = f"f{f}_p{pid}"
            out[key + "_model"] = po["mhr_model_params"][i].double().numpy()
            out[key + "_shape"] = po["shape"][i].double().numpy()
            out[key + "_cam_t"] = cam["pred_cam_t"][i].double().numpy()
            out[key + "_kp2d"] = cam["pred_keypoints_2d"][i].double().numpy()
            out[key + "_kp3d"] = j3d[i].double().numpy()
            out[key + "_hand_boxes"] = cur["hand_boxes"][i].astype(np.float64)
    np.savez_compressed(os.path.join(ROOT, "testdata", "mesh", "stage.npz"), **out)
    print(json.dumps({k: v.shape for k, v in out.items() if k.startswith("f0_p1")}, default=list))


if __name__ == "__main__":
    main()
