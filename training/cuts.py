"""Framings for evaluation (``uniskel eval --cut``, training/evaluate.py): whole labelled
people re-framed as a camera that cuts them off would show them -- at mid-torso (a
webcam at a desk) or as a close-up -- with ``meta["cut_y"]`` where the picture ends.
Training's own cuts, as augmentation of crops, are training/framing.py's."""
from __future__ import annotations

from uniskel.engine import skeleton


def cut_mid_torso(instances) -> list:
    """Each person whose shoulders and hips are labelled, as if the picture ended at their
    mid-torso (halfway between the shoulders' and the hips' mean height), the way a
    webcam frames a person at a desk: the box is clipped there, ``meta["cut_y"]`` says
    where the picture ends (``predict`` blacks out the rest). Others are left out."""
    import dataclasses

    idx = skeleton.INDEX
    parts = [idx[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    out = []
    for inst in instances:
        if not inst.mask[parts].all():
            continue
        y = inst.keypoints[parts, 1]
        cut = float((y[:2].mean() + y[2:].mean()) / 2)
        x0, y0, x1, y1 = inst.box
        if cut <= y0 + 4:
            continue
        out.append(dataclasses.replace(inst, box=(x0, y0, x1, min(y1, cut)),
                                       meta={**inst.meta, "cut_y": cut}))
    return out


def cut_close_up(instances) -> list:
    """Each upright person whose shoulders and a face point are labelled, framed as a
    camera close to them (a webcam at arm's length, someone passing near a street
    camera) frames them: the box from above the head to half a shoulder width below the
    shoulders, the picture ending there (``meta["cut_y"]``). Others are left out."""
    import dataclasses

    out = []
    for inst in instances:
        frame = skeleton.head_and_shoulders(inst.keypoints, inst.mask)
        if frame is None:
            continue
        (sx, sy), top, unit = frame
        cut = sy + 0.5 * unit
        box = (sx - 0.9 * unit, top - 0.5 * unit, sx + 0.9 * unit, cut)
        out.append(dataclasses.replace(inst, box=box, meta={**inst.meta, "cut_y": cut}))
    return out


def split_at_cut(instances):
    """The labelled points of cut ``instances`` (each with ``meta["cut_y"]``) -> (gt
    (N, 21, 3), visible (N, 21): labelled and above the cut, hidden (N, 21): labelled
    and not above it). ``uniskel eval --cut`` scores by it; ``uniskel quality`` fits the
    point power on the hidden ones."""
    import numpy as np

    from uniskel.training.datasets import stack_keypoints

    gt, mask = stack_keypoints(instances)
    cut = np.array([i.meta["cut_y"] for i in instances])[:, None]
    visible = mask & (gt[..., 1] < cut)
    return gt, visible, mask & ~visible


#: ``uniskel eval --cut``: framings in which the picture ends part way down a person
CUTS = {"mid-torso": cut_mid_torso, "close-up": cut_close_up}
