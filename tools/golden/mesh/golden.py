#!/usr/bin/env python3
"""Goldens for package mesh: SAM-3D-Body's crop, CLIFF condition, ray map,
519 -> 204 parameter decoding and camera translation, computed by the
reference's own functions on fixed inputs.

The reference code is not vendored: point SAM3DB_SRC at a checkout of
facebookresearch/sam-3d-body (b5c765a) and the script imports from it:
prepare_batch with the estimator's transforms (GetBBoxCenterScale,
TopdownAffine, ToTensor), SAM3DBody._get_decoder_condition,
SAM3DBody.get_ray_condition, CameraEncoder's downsampling, MHRHead.forward
(with the MHR call itself replaced by a recorder: only the parameters fed
to MHR are compared here; MHR has its own parity in testdata/mhr),
PerspectiveHead.perspective_projection and SAM3DBody._full_to_crop.

    python3.11 -m venv .venv/mesh
    .venv/mesh/bin/pip install -r tools/golden/mesh/requirements.txt
    SAM3DB_SRC=/path/to/sam-3d-body .venv/mesh/bin/python tools/golden/mesh/golden.py

Writes testdata/mesh/golden.npz; with --hand, testdata/mesh/hand.npz:
full mode's functions (roma's XZY Euler angles, fix_wrist_euler,
rotation_angle_difference, _get_hand_box with the left box mirrored and
transform_hand's crops, and the hand head's MHRHead.forward with
enable_hand_model). The frame image is a formula that the Go
test recomputes (see image()).
"""
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn

SRC = os.environ.get("SAM3DB_SRC", ".venv/sam3db-src")
sys.path.insert(0, SRC)
# get_ray_condition moves its grid to the GPU; on the CPU that is a no-op.
torch.Tensor.cuda = lambda self, *a, **k: self

from torchvision.transforms import ToTensor  # noqa: E402

from sam_3d_body.data.transforms import Compose, GetBBoxCenterScale, TopdownAffine, VisionTransformWrapper  # noqa: E402
from sam_3d_body.data.utils.prepare_batch import prepare_batch  # noqa: E402
from sam_3d_body.models.heads.camera_head import PerspectiveHead  # noqa: E402
from sam_3d_body.models.heads.mhr_head import MHRHead  # noqa: E402
from sam_3d_body.models.meta_arch.base_model import BaseModel  # noqa: E402
from sam_3d_body.models.meta_arch.sam3d_body import SAM3DBody  # noqa: E402
from sam_3d_body.models.modules.camera_embed import CameraEncoder  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "testdata", "mesh")
W, H = 320, 240
# The people: (x0, y0, x1, y1) mask rectangles (x1, y1 exclusive): a tall
# box, a wide box, one cut by the frame's corner and one of 3x4 pixels.
RECTS = [(100, 40, 160, 220), (10, 150, 250, 200), (280, 0, 320, 90), (200, 20, 203, 24)]
K = np.array([[300.0, 0, 170.5], [0, 310.0, 118.25], [0, 0, 1]], np.float32)


def image():
    """The frame: pix[y, x, c] = (7x + 13y + 29c + (x*y mod 17)) mod 256."""
    y, x, c = np.meshgrid(np.arange(H), np.arange(W), np.arange(3), indexing="ij")
    return ((7 * x + 13 * y + 29 * c + (x * y) % 17) % 256).astype(np.uint8)


class Cfg(dict):
    __getattr__ = dict.__getitem__


# ---- pieces shared with stage.py ----

def crop_transform(**kw):
    """The estimator's transform (kw to GetBBoxCenterScale: padding=0.9
    for transform_hand)."""
    return Compose([GetBBoxCenterScale(**kw), TopdownAffine(input_size=(512, 512), use_udp=False),
                    VisionTransformWrapper(ToTensor())])


def rect_masks(rects, h, w):
    """0/255 masks [P,h,w,1] of rectangles (x0, y0, x1, y1; x1, y1
    exclusive), as SAM-Body4D passes them, and their boxes as the app
    makes them (cv2.boundingRect, no padding) as float32 [P,4]."""
    import cv2
    masks = np.zeros((len(rects), h, w, 1), np.uint8)
    boxes = []
    for i, (x0, y0, x1, y1) in enumerate(rects):
        masks[i, y0:y1, x0:x1] = 255
        bx, by, bw, bh = cv2.boundingRect(masks[i, :, :, 0])
        boxes.append([bx, by, bx + bw, by + bh])
    return masks, np.array(boxes, np.float32)


def cliff_cfg():
    return Cfg(MODEL=Cfg(DECODER=Cfg(CONDITION_TYPE="cliff", USE_INTRIN_CENTER=True)))


def flat_model(P, **attrs):
    """A stand-in for the model object of one image with P people: the
    functions called on it read only attrs (cfg) and the
    person-flattening helper."""
    fake = types.SimpleNamespace(**attrs)
    fake._batch_size, fake._max_num_person = 1, P
    fake._flatten_person = types.MethodType(BaseModel._flatten_person, fake)
    return fake


def encoder_rays(rays_full):
    """The rays [P,2,512,512] as CameraEncoder downsamples them to the
    token grid (before appending z=1 and its Fourier features): [P,2,32,32]."""
    P = rays_full.shape[0]
    enc = CameraEncoder(8, 16)
    seen = {}

    class Record(nn.Module):
        def forward(self, pos):
            seen["pos"] = pos
            return torch.zeros(pos.shape[0], pos.shape[1], 99)

    enc.camera = Record()
    enc(torch.zeros(P, 8, 32, 32), rays_full)
    return seen["pos"][..., :2].reshape(P, 32, 32, 2).permute(0, 3, 1, 2)


def normalize(x):
    """data_preprocess: ImageNet mean and std."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
    return (x - mean) / std


def zero_pose():
    """The 519 head outputs of the zero pose (identity 6D rotations, zero
    angles as (sin, cos) = (0, 1))."""
    zero = np.zeros(519, np.float32)
    zero[0:6] = [1, 0, 0, 0, 1, 0]
    zero[6:144] = np.tile([1, 0, 0, 0, 1, 0], 23)
    zero[144:260] = np.tile([0, 1], 58)
    return zero


def bare_head(hand, bufs, mhr):
    """An MHRHead without its networks (proj is the identity): the
    buffers bufs (numpy arrays, by name), no faces and mhr as MHR."""
    head = MHRHead.__new__(MHRHead)
    nn.Module.__init__(head)
    head.num_shape_comps, head.num_scale_comps, head.num_hand_comps, head.num_face_comps = 45, 28, 54, 72
    head.enable_hand_model, head.body_cont_dim, head.npose, head.num_hand_pose_comps = hand, 260, 519, 54
    head.proj = nn.Identity()
    for k, v in bufs.items():
        setattr(head, k, nn.Parameter(torch.from_numpy(v), requires_grad=False))
    head.faces = nn.Parameter(torch.zeros(1, 3).long(), requires_grad=False)
    head.mhr = mhr
    return head


def crops():
    img = image()
    masks, boxes = rect_masks(RECTS, H, W)
    batch = prepare_batch(img, crop_transform(), boxes, masks, np.ones(len(RECTS), np.float32),
                          cam_int=torch.from_numpy(K)[None])

    fake = flat_model(len(RECTS), cfg=cliff_cfg())
    cond = SAM3DBody._get_decoder_condition(fake, batch)
    rays_full = SAM3DBody.get_ray_condition(fake, batch)[0]                # [P,2,512,512]

    # CameraEncoder downsamples the rays to the token grid and appends z=1
    # before its Fourier features; record what reaches them.
    rays = encoder_rays(rays_full)

    x = batch["img"][0]                                                    # [P,3,512,512] in [0,1]
    norm = normalize(x)                                                    # data_preprocess
    crop_u8 = torch.round(x * 255).to(torch.uint8).permute(0, 2, 3, 1)     # ToTensor is x/255
    idx = np.arange(0, norm[0].numel(), 997)
    return {
        "boxes": boxes.astype(np.float64),
        "bbox_center": batch["bbox_center"][0].double().numpy(),
        "bbox_scale": batch["bbox_scale"][0].double().numpy(),
        "affine": batch["affine_trans"][0].double().numpy(),
        "crops": crop_u8.numpy(),
        "mask_crops": batch["mask"][0, :, 0].round().to(torch.uint8).numpy(),
        "norm_index": idx,
        "norm_values": norm.reshape(len(RECTS), -1)[:, idx].numpy(),
        "condition": cond.double().numpy(),
        "rays": rays.double().numpy(),
        "K": K.astype(np.float64),
    }, batch


class RecordMHR(nn.Module):
    """Stands in for MHR: records what mhr_forward feeds it."""

    def __init__(self, nverts):
        super().__init__()
        self.nverts = nverts

    def forward(self, shape, model_params, expr):
        self.seen = (shape.clone(), model_params.clone(), expr.clone())
        B = shape.shape[0]
        skel = torch.zeros(B, 127, 8)
        skel[..., 6] = 1  # unit quaternions
        return torch.zeros(B, self.nverts, 3), skel


def decoding(rng):
    bufs = {
        "scale_mean": rng.standard_normal(68).astype(np.float32) * 0.1,
        "scale_comps": rng.standard_normal((28, 68)).astype(np.float32) * 0.1,
        "hand_pose_mean": rng.standard_normal(54).astype(np.float32) * 0.3,
        "hand_pose_comps": rng.standard_normal((54, 54)).astype(np.float32) * 0.3,
    }
    perm = rng.permutation(np.arange(68, 122))
    bufs["hand_joint_idxs_left"], bufs["hand_joint_idxs_right"] = perm[:27].astype(np.int64), perm[27:].astype(np.int64)
    nv = 4
    head = bare_head(False, {**bufs, "keypoint_mapping": np.zeros((70, nv + 127), np.float32)}, RecordMHR(nv))

    # Poses: random continuous values, the zero pose, a rotation 1e-4 from
    # gimbal lock (θy = π/2) and one with a 3-DoF joint's 6D pair parallel
    # to trigger batchXYZfrom6D's singular branch.
    n = 6
    pose = (rng.standard_normal((n, 519)) * 0.7).astype(np.float32)
    pose[1] = zero_pose()
    a = np.pi / 2 - 1e-4
    pose[2, 0:6] = [0, 0, -1, np.sin(0.3), np.cos(0.3), 0]  # columns of Ry(≈π/2)·Rx(0.3)
    pose[2, 0:3] = [np.cos(a), 0, -np.sin(a)]
    pose[3, 6:12] = [0, 0, 1, 0, 0, 2]                       # a ∥ b for the first body joint
    out = head.forward(torch.from_numpy(pose))
    shape, model_params, expr = head.mhr.seen
    return {**bufs, "pose": pose, "global_rot": out["global_rot"].double().numpy(),
            "model_params": model_params.double().numpy(), "shape": shape.double().numpy(),
            "expr": expr.double().numpy()}


def camera(rng, batch):
    P = len(RECTS)
    cam_head = PerspectiveHead(input_dim=8, img_size=(512, 512))
    pred_cam = torch.from_numpy(np.stack([-(0.8 + 0.4 * rng.random(P)), rng.standard_normal(P) * 0.1,
                                          rng.standard_normal(P) * 0.1], 1).astype(np.float32))
    pts = torch.from_numpy((rng.standard_normal((P, 70, 3)) * 0.4).astype(np.float32))
    out = cam_head.perspective_projection(
        pts, pred_cam, batch["bbox_center"][0], batch["bbox_scale"][0][:, 0], batch["ori_img_size"][0],
        torch.from_numpy(K)[None].expand(P, 3, 3), use_intrin_center=True)
    crop2d = SAM3DBody._full_to_crop(flat_model(P), batch, out["pred_keypoints_2d"])
    return {"pred_cam": pred_cam.double().numpy(), "points": pts.double().numpy(),
            "cam_t": out["pred_cam_t"].double().numpy(), "kp2d": out["pred_keypoints_2d"].double().numpy(),
            "depth": out["pred_keypoints_2d_depth"].double().numpy(), "kp2d_crop": crop2d.double().numpy()}


def main():
    rng = np.random.default_rng(20251127)
    c, batch = crops()
    arrays = {**c, **{"dec_" + k: v for k, v in decoding(rng).items()}, **{"cam_" + k: v for k, v in camera(rng, batch).items()}}
    os.makedirs(OUT, exist_ok=True)
    np.savez_compressed(os.path.join(OUT, "golden.npz"), **arrays)
    for k, v in sorted(arrays.items()):
        print(f"{k}: {v.dtype} {list(v.shape)}")


# ---- "full" mode's functions (python golden.py --hand -> testdata/mesh/hand.npz) ----

def hand_functions(rng):
    import roma
    from sam_3d_body.models.modules.mhr_utils import fix_wrist_euler, rotation_angle_difference
    out = {}
    # roma's intrinsic XZY Euler angles, both ways.
    ang = torch.from_numpy(rng.uniform(-1.5, 1.5, (8, 3)))
    R = roma.euler_to_rotmat("XZY", ang)
    out["xzy_angles"], out["xzy_rotmat"] = ang.numpy(), R.numpy()
    out["xzy_back"] = roma.rotmat_to_euler("XZY", R).numpy()
    # fix_wrist_euler on angles across (−π, π), both branches.
    a = torch.from_numpy(rng.uniform(-np.pi, np.pi, (24, 3)))
    out["fix_in"], out["fix_out"] = a.numpy(), fix_wrist_euler(a).numpy()
    # rotation_angle_difference, with an identical pair and a near-π one.
    A = roma.random_rotmat(8, dtype=torch.float64)
    B = roma.random_rotmat(8, dtype=torch.float64)
    B[0] = A[0]
    B[1] = A[1] @ roma.rotvec_to_rotmat(torch.tensor([0, 0, np.pi - 1e-3], dtype=torch.float64))
    out["angle_a"], out["angle_b"], out["angle"] = A.numpy(), B.numpy(), rotation_angle_difference(A, B).numpy()
    return out


def hand_boxes(rng, batch):
    """_get_hand_box on the person crops of crops(), then the left box
    mirrored and both cut by transform_hand, as run_inference does."""
    P = len(RECTS)
    fake = types.SimpleNamespace(cfg=Cfg(MODEL=Cfg(IMAGE_SIZE=[512, 512])))
    hb = torch.from_numpy(rng.uniform(0.05, 0.95, (P, 2, 4)).astype(np.float32))
    hb[0, 0, 2:] = torch.tensor([0.001, 0.0005])  # a tiny box
    hb[1, 1, :2] = torch.tensor([0.999, 0.001])   # a box at the crop's corner
    pose_output = {"mhr": {"hand_box": hb}}
    b = dict(batch)
    left, right = SAM3DBody._get_hand_box(fake, pose_output, b)
    flipped = left.copy()
    flipped[:, 0] = W - left[:, 2] - 1
    flipped[:, 2] = W - left[:, 0] - 1
    transform_hand = crop_transform(padding=0.9)
    img = image()
    bl = prepare_batch(img[:, ::-1], transform_hand, flipped, cam_int=torch.from_numpy(K)[None])
    br = prepare_batch(img, transform_hand, right, cam_int=torch.from_numpy(K)[None])
    return {"fractions": hb.double().numpy(), "left": left.astype(np.float64), "right": right.astype(np.float64),
            "left_flipped": flipped.astype(np.float64),
            "left_center": bl["bbox_center"][0].double().numpy(), "left_scale": bl["bbox_scale"][0].double().numpy(),
            "left_affine": bl["affine_trans"][0].double().numpy(),
            "right_center": br["bbox_center"][0].double().numpy(), "right_scale": br["bbox_scale"][0].double().numpy(),
            "right_affine": br["affine_trans"][0].double().numpy(),
            "left_crops": torch.round(bl["img"][0] * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()}


def hand_decoding(rng):
    """MHRHead.forward of the hand head (enable_hand_model): the
    wrist-centric global rotation and translation, non-hand parameters
    zeroed; MHR replaced by a recorder as in decoding()."""
    import roma
    d = decoding(np.random.default_rng(7))  # the body head's buffers, reused
    bufs = {k: d[k] for k in ["scale_mean", "scale_comps", "hand_pose_mean", "hand_pose_comps",
                              "hand_joint_idxs_left", "hand_joint_idxs_right"]}
    bufs["local_to_world_wrist"] = roma.random_rotmat(1, dtype=torch.float32)[0].numpy()
    bufs["right_wrist_coords"] = rng.standard_normal(3).astype(np.float32) * 0.3
    bufs["root_coords"] = rng.standard_normal(3).astype(np.float32) * 0.1
    bufs["nonhand_param_idxs"] = np.sort(rng.permutation(204)[:145]).astype(np.int64)
    head = bare_head(True, {**bufs, "keypoint_mapping": np.zeros((70, 4 + 127), np.float32)}, RecordMHR(4))
    pose = (rng.standard_normal((5, 519)) * 0.7).astype(np.float32)
    out = head.forward(torch.from_numpy(pose))
    shape, model_params, _ = head.mhr.seen
    return {**bufs, "pose": pose, "global_rot": out["global_rot"].double().numpy(),
            "body_pose": out["body_pose"].double().numpy(),
            "model_params": model_params.double().numpy(), "shape": shape.double().numpy()}


def main_hand():
    rng = np.random.default_rng(20251128)
    torch.manual_seed(20251128)  # roma.random_rotmat draws from torch's generator
    _, batch = crops()
    arrays = {**{"fn_" + k: v for k, v in hand_functions(rng).items()},
              **{"box_" + k: v for k, v in hand_boxes(rng, batch).items()},
              **{"hdec_" + k: v for k, v in hand_decoding(rng).items()}}
    np.savez_compressed(os.path.join(OUT, "hand.npz"), **arrays)
    for k, v in sorted(arrays.items()):
        print(f"{k}: {v.dtype} {list(v.shape)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--hand"]:
        main_hand()
    else:
        main()
