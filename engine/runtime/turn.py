"""A second look at someone lying down or upside down: their crop again, turned upright.

The pose models learned mostly from upright people; an athlete upside down (a handstand,
a dive) or someone lying on the floor is read worse. When a pose says the body lies
``MIN_DEGREES`` or more off upright (the line from the hips' middle to the shoulders'),
the same box is cropped again, turned by the quarter turn that stands the body up, and the
turned reading is kept if it is surer (mean confidence of COCO's 17 points, by more than
``MARGIN``): a wrong reading of the body's direction costs a crop, not the pose.

On LSPET 7500-7999 (athletes, a third of them sideways or upside down) it lifts the
shipped student's limbs from 63.4 to 66.7 PCK@0.2, upper neck from 81.9 to 85.1 and
head top from 75.8 to 78.4 (``uniskel eval --format lsp --range 7500:8000`` against the
same with ``--no-turn``; the model card, assets/models/README.md, has the other sets).

Used by the pipeline (``engine.runtime.pipeline``) and by the evaluation's ground-truth
crops (``training.evaluate``), so both read a turned person the same way.
"""
from __future__ import annotations

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.runtime import crop as cropmod

#: quarter turns of a crop (degrees, as ``crop.warp_matrix``'s ``rot``)
TURNS = (90, 180, 270)
#: a body this far off upright (degrees) is looked at again, turned
MIN_DEGREES = 60.0
#: the turned reading is kept when its mean confidence is higher by more than this
#: (0.02: a few false turns fewer on COCO's people than at 0, same on LSPET's athletes)
MARGIN = 0.02

_I = skeleton.INDEX
_SHOULDERS = [_I["left_shoulder"], _I["right_shoulder"]]
_HIPS = [_I["left_hip"], _I["right_hip"]]
#: the points a body's direction is read from
TORSO = _SHOULDERS + _HIPS
_COCO = list(skeleton.COCO_SUBSET)
#: each turn's rotation of a direction in the frame into the crop
_ROTATIONS = {r: cropmod.warp_matrix((0.0, 0.0), (1.0, 1.0), (2, 2), r)[:, :2] for r in TURNS}


def body_up(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 2 or 3) -> (..., 2): from the hips' middle to the shoulders' (pixels)."""
    k = np.asarray(keypoints, np.float64)
    return k[..., _SHOULDERS, :2].mean(-2) - k[..., _HIPS, :2].mean(-2)


def turn_for(keypoints: np.ndarray) -> int:
    """The quarter turn (degrees) of a crop that stands this pose's body up (frame
    pixels); 0 when it is within ``MIN_DEGREES`` of upright (or its shoulders and hips
    coincide)."""
    u = body_up(keypoints)
    if not np.all(np.isfinite(u)) or np.hypot(*u) < 1e-6 \
            or np.degrees(np.arctan2(abs(u[0]), -u[1])) < MIN_DEGREES:
        return 0
    return max(TURNS, key=lambda r: -(_ROTATIONS[r] @ u)[1])  # the crop's up is -y


def surer(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether pose ``b`` (21, 3) is surer than ``a``: its mean confidence of COCO's 17
    higher by more than ``MARGIN``."""
    return float(np.mean(b[_COCO, 2])) > float(np.mean(a[_COCO, 2])) + MARGIN


def look_again(images, boxes, poses: np.ndarray, infer, input_size, padding: float,
               *, turns=None, dress=None) -> tuple[np.ndarray, np.ndarray, int]:
    """A second look at the people whose pose lies turned from their crop's turn.

    ``images``: one RGB frame, or one per pose; ``boxes``: the (x0, y0, x1, y1) each pose
    was cropped from; ``turns``: (n,) the quarter turn each was cropped at (default 0:
    unturned; the pipeline crops a tracked person at the turn their last pose took, so
    someone going down to the floor is followed round); ``poses``: (n, 21, 3) in frame pixels; ``infer``: crops
    (B, H, W, 3) uint8 -> (B, 21, 3) in crop pixels; ``dress(i, crop, warp)``: done to
    pose i's turned crop before it is inferred (the pipeline blacks out and paints the
    people round them, as in their first crop). Returns (the poses, the surer reading of
    each: a new array, or ``poses`` itself when nobody was looked at again; the turn each
    kept pose was read at; how many crops were inferred again)."""
    n = len(poses)
    turns = np.zeros(n, int) if turns is None else np.array(turns, int, copy=True)
    again = [(i, t) for i in range(n) if (t := turn_for(poses[i])) != turns[i]]
    if not again:  # people standing: nothing to copy
        return poses, turns, 0
    poses = np.array(poses, dtype=np.float64, copy=True)
    single = isinstance(images, np.ndarray)
    h_in, w_in = (int(v) for v in input_size)
    crops = np.zeros((len(again), h_in, w_in, 3), np.uint8)
    inverses = []
    for j, (i, turn) in enumerate(again):
        c, s = cropmod.box_to_center_scale(boxes[i], (h_in, w_in), padding)
        m = cropmod.warp_matrix(c, s, (h_in, w_in), turn)
        crops[j] = cropmod.crop(images if single else images[i], m, (h_in, w_in))
        if dress is not None:
            dress(i, crops[j], m)
        inverses.append(cropmod.invert(m))
    out = np.asarray(infer(crops), dtype=np.float64)
    for j, (i, turn) in enumerate(again):
        q = out[j].copy()
        q[:, :2] = cropmod.apply(inverses[j], out[j, :, :2])
        if surer(poses[i], q):
            poses[i], turns[i] = q, turn
    return poses, turns, len(again)
