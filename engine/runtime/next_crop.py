"""A tracked person's next crop from their pose (as rtmlib's ``pose_to_bbox``), plain
functions the tracker (``engine.runtime.tracker``) applies after each frame's inference.

``pose_to_box`` is the box around the keypoints the model is sure of, extended down to
where the body continues when only the upper body (or the head) is sure;
``no_collapse`` keeps it from shrinking too fast against an earlier box (the last one,
or a person detector's)."""
from __future__ import annotations

import numpy as np

from uniskel.engine.runtime import crop as cropmod
from uniskel.engine import skeleton

SHOULDERS = [skeleton.INDEX["left_shoulder"], skeleton.INDEX["right_shoulder"]]
HIPS = [skeleton.INDEX["left_hip"], skeleton.INDEX["right_hip"]]
#: shoulder midpoint to hip midpoint, in shoulder widths (about 1.3 for an adult facing
#: the camera; less, so a turned person's box does not overshoot)
TORSO_PER_SHOULDERS = 1.2
EARS = [skeleton.INDEX["left_ear"], skeleton.INDEX["right_ear"]]
EYES = [skeleton.INDEX["left_eye"], skeleton.INDEX["right_eye"]]
#: shoulder width in ear-to-ear widths (about 40 cm against 15), and ear-to-ear in
#: eye-to-eye widths (15 cm against 6.3)
SHOULDERS_PER_EARS = 2.7
EARS_PER_EYES = 2.3


def pose_to_box(keypoints: np.ndarray, threshold: float = skeleton.DRAW_THRESHOLD,
                min_points: int = 4):
    """The box to crop next, or None (fewer than ``min_points`` sure points): around the
    keypoints the model is sure of (confidence above ``threshold``); for a person seen
    from the waist up (shoulders sure, hips not: a model that gives hidden points
    confidence 0), extended down by a torso's length (TORSO_PER_SHOULDERS x the
    shoulder width), so the next crop holds the body down to the picture's edge
    instead of closing in on the face. With the shoulders unsure as well, their width
    and place come from the ears' (or eyes') spacing."""
    box = cropmod.keypoint_box(keypoints, threshold, min_points)
    if box is None:
        return None
    sure = keypoints[:, 2] > threshold
    if sure[HIPS].any():
        return box
    if sure[SHOULDERS].all():
        shoulders = keypoints[SHOULDERS, :2]
        width = float(np.linalg.norm(shoulders[0] - shoulders[1]))
        bottom = float(shoulders[:, 1].mean()) + TORSO_PER_SHOULDERS * width
        return (box[0], box[1], box[2], max(box[3], bottom))
    # shoulders unsure too (a close-up, the model's sure points down to the face):
    # the shoulders' place and width from the head's, so the crop keeps the body
    for pair, per in ((EARS, SHOULDERS_PER_EARS),
                      (EYES, SHOULDERS_PER_EARS * EARS_PER_EYES)):
        if sure[pair].all():
            face = keypoints[pair, :2]
            width = per * float(np.linalg.norm(face[0] - face[1]))
            cx, cy = face.mean(0)
            bottom = float(cy) + (0.5 + TORSO_PER_SHOULDERS) * width
            return (min(box[0], cx - width / 2), box[1], max(box[2], cx + width / 2),
                    max(box[3], bottom))
    return box


def no_collapse(box, old, max_shrink: float):
    """``box``, no narrower or shorter than ``max_shrink`` x ``old``: a frame or two in
    which the model is sure only of a face must not shrink the next crop onto the face
    (and lose the person); widened about its centre, lengthened downwards (where a body
    continues below a head)."""
    x0, y0, x1, y1 = box
    w, h = old[2] - old[0], old[3] - old[1]
    if x1 - x0 < max_shrink * w:
        cx, half = (x0 + x1) / 2, max_shrink * w / 2
        x0, x1 = cx - half, cx + half
    if y1 - y0 < max_shrink * h:
        y1 = y0 + max_shrink * h
    return (x0, y0, x1, y1)
