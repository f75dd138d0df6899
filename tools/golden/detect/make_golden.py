#!/usr/bin/env python3
"""Goldens for package detect's post-processing, computed by the
reference's own functions (PyPI sam3 0.1.4), not a re-implementation:

  score  inverse_sigmoid (sam3/model/model_misc.py) as
         Sam3Image._update_scores_and_boxes joins the class and presence
         scores (supervise_joint_box_scores), then sigmoid;
  nms    nms_masks (sam3/perflib/nms.py) with the video model's
         score_threshold_detection=0.5, det_nms_thresh=0.1;
  keep   probs > 0.5 among the NMS survivors (Sam3VideoBase.run_detection);
  boxes  box_cxcywh_to_xyxy (sam3/model/box_ops.py) times the frame size;
  masks  F.interpolate(bilinear, align_corners=False) to the frame, > 0.

The raw outputs are seeded random: Gaussian-blob mask logits with
near-duplicate queries (so NMS drops some), random class logits, and a
presence logit per case (one case so low that nothing is kept).

    python3 -m venv VENV && VENV/bin/pip install -r tools/golden/segment/requirements.txt
    VENV/bin/python tools/golden/detect/make_golden.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from sam3.model.box_ops import box_cxcywh_to_xyxy
from sam3.model.model_misc import inverse_sigmoid
from sam3.perflib.nms import nms_masks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "testdata", "detect")
Q, MH, MW = 24, 36, 36
W, H = 100, 70
CASES = {"people": 3.0, "weak": 1.5, "nobody": -9.0}  # presence logits


def raw(rng, presence):
    ys, xs = np.mgrid[0:MH, 0:MW].astype(np.float32)
    masks = np.empty((Q, MH, MW), np.float32)
    boxes = np.empty((Q, 4), np.float32)
    centres = rng.uniform(6, 30, size=(Q // 2, 2))
    for q in range(Q):
        # Queries come in pairs around the same centre: duplicates for NMS.
        cx, cy = centres[q // 2] + rng.normal(0, 2.5, size=2)
        r = rng.uniform(3, 9)
        masks[q] = r - np.hypot(xs - cx, ys - cy) + rng.normal(0, 0.3, size=(MH, MW))
        boxes[q] = [cx / MW, cy / MH, 2 * r / MW, 2 * r / MH]
    logits = rng.normal(1.0, 2.5, size=Q).astype(np.float32)
    return logits, np.float32(presence), boxes, masks


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(17)
    for name, presence in CASES.items():
        logits, pres, boxes, masks = raw(rng, presence)
        lt = torch.from_numpy(logits)[None, :, None]
        pt = torch.tensor([[pres]])
        joint = inverse_sigmoid(lt.sigmoid() * pt.sigmoid().unsqueeze(2)).clamp(min=-10.0, max=10.0)
        probs = joint.squeeze(-1).sigmoid()[0]
        mt = torch.from_numpy(masks)
        keep = nms_masks(probs, mt, prob_threshold=0.5, iou_threshold=0.1)
        kept = torch.where(keep & (probs > 0.5))[0]
        xyxy = box_cxcywh_to_xyxy(torch.from_numpy(boxes))[kept] * torch.tensor([W, H, W, H])
        up = F.interpolate(mt[kept][:, None], size=(H, W), mode="bilinear", align_corners=False)[:, 0] > 0
        print(f"{name}: {int((probs > 0.5).sum())} above 0.5, {len(kept)} kept")
        np.save(os.path.join(OUT, f"{name}_logits.npy"), logits)
        np.save(os.path.join(OUT, f"{name}_presence.npy"), np.array([pres], np.float32))
        np.save(os.path.join(OUT, f"{name}_boxes.npy"), boxes)
        np.save(os.path.join(OUT, f"{name}_masks.npy"), masks)
        np.save(os.path.join(OUT, f"{name}_kept.npy"), kept.numpy().astype(np.int64))
        np.save(os.path.join(OUT, f"{name}_scores.npy"), probs[kept].numpy().astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_xyxy.npy"), xyxy.numpy().astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_up.npy"), up.numpy().astype(np.uint8))


if __name__ == "__main__":
    main()
