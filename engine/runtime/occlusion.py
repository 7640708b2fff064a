"""Painting out the people in front of someone before their crop goes to the model.

In a crowd, the crop of a person half hidden behind someone nearer the camera is mostly
that nearer person, and a single-person model (MoveNet's network picks the most salient
person in its crop) puts its points on them. The pipeline (``engine.runtime.pipeline``) infers
the people in front first, then paints, in flat grey, their silhouettes (this frame's
keypoints: torso, limbs, head; ``silhouette``) over the crop of the person behind, so
the model sees only who is left: the pixels of the person in front are not the hidden
person's anyway.

Beside that, whoever stands close: when another person's box touches someone's, what
lies outside their own box (widened by ``KEEP_MARGIN``) is blacked out of their crop
(``keep_inside``). A square crop of a narrow box in a crowd is mostly the neighbours, and
the model took one of them instead (on the crowd pan most people missed were such: their
pose landed on a neighbour and was dropped outside their box). Black, as the crop's
border beyond the frame is. Someone newly found in such a crop must be surer than the
pose bar (``MASKED_NEW_BAR``) and overlap nobody surer (``MASKED_NEW_IOU``): a box
holding only part of someone (their legs), or halves of two people, then gives a pose of
that part, a second skeleton on a person already shown.

And whoever is followed by their own pose (tracked, their crop from their last keypoints,
not a fresh detector box), in everyone mode: what lies beyond their box widened by
``TRACKED_MARGIN`` is blacked out of their crop too. Nobody grows by half their size
between two frames; what lies further out is a neighbour, and a square crop of a narrow
person holds one, whom the model then followed: the crop slid onto them over a few
frames, and the person came back under a new id (on the COCO pans, with the Thunder-width
student, most id switches were such).

"In front": the other's box overlaps this person's, reaches lower in the picture (feet
nearer the camera on a floor or street) by ``LOWER`` of this person's height, and is at
least ``TALLER`` times as tall (``in_front``). Only what the model was sure of is
painted.
"""
from __future__ import annotations

import cv2
import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.runtime.boxes import iou

I = skeleton.INDEX
TORSO = [I[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
HEAD = [I[n] for n in skeleton.HEAD_POINTS]
SHOULDERS = [I["left_shoulder"], I["right_shoulder"]]
#: limb thickness and head radius, in shoulder widths
LIMB_WIDTH, HEAD_RADIUS = 0.3, 0.4
#: how much lower (in this person's heights) the other's box must reach to be in front
LOWER = 0.05
#: and how tall, in this person's heights
TALLER = 1.0
GREY = 127
#: the margin kept round a person's box in a crowded crop, in box widths / heights
KEEP_MARGIN = 0.1
#: the margin kept round a tracked person's box in their crop from their last pose
#: (everyone mode), in box widths / heights: on the COCO pans, with stage G's int8
#: student, id switches per 100 frames were 1.82 unmasked, 0.71 at 0.15, 0.56 at 0.25,
#: 0.79 at 0.4 (docs/measurements.md, "Tracked crops kept near their box")
TRACKED_MARGIN = 0.25
#: a person newly found in a crowded crop is taken at this multiple of the pose bar
#: (``Tracker.min_score``): at 1.0 v2 showed 24 ghosts of 151 on the stills (19 of 137
#: unmasked), at 1.25 17; at 1.5 it found 72.9% of the pans instead of 79%
#: (docs/measurements.md, "Crowded crops kept inside their box")
MASKED_NEW_BAR = 1.25
#: and only where their box overlaps nobody tracked, nor anyone new and surer, at this
#: IoU: a box over halves of two people crossing became a third person for a frame; at
#: 0.3 people standing close in the stills were dropped too
MASKED_NEW_IOU = 0.45


def masked_new_left_out(boxes, tracked, scores, masked, bar: float) -> set[int]:
    """Of the poses found in crops kept inside their box, the new people's to leave out
    (indices): ``boxes`` each pose's crop box, ``tracked`` whether it is of someone
    tracked, ``scores`` its score, ``masked`` whether its crop was kept inside its box,
    ``bar`` the pose bar (``Tracker.min_score``). Someone new whose crop was masked is
    taken only at ``MASKED_NEW_BAR`` times the bar, and where their box overlaps nobody
    tracked, nor anyone new and surer who is taken, at ``MASKED_NEW_IOU``. The surest are
    decided first, so that of a box over halves of two people and each of them, the box
    over halves gives way, and the one it outranked does not lose their skeleton to it."""
    out: set[int] = set()
    for i in sorted(range(len(boxes)), key=lambda i: -scores[i]):
        if tracked[i] or not masked[i]:
            continue
        if scores[i] < MASKED_NEW_BAR * bar or any(
                j != i and j not in out and iou(boxes[i], boxes[j]) >= MASKED_NEW_IOU
                and (tracked[j] or scores[j] > scores[i]) for j in range(len(boxes))):
            out.add(i)
    return out


def in_front(other, box) -> bool:
    """Whether the person with box ``other`` stands in front of the one with ``box``
    (boxes (x0, y0, x1, y1), frame pixels)."""
    overlap = min(other[2], box[2]) > max(other[0], box[0]) \
        and min(other[3], box[3]) > max(other[1], box[1])
    height, other_height = box[3] - box[1], other[3] - other[1]
    return bool(overlap and other[3] > box[3] + LOWER * height
                and other_height >= TALLER * height)



def fronts(boxes, still) -> list[tuple[list[int], list]]:
    """For each of ``boxes``: (the indices of the other boxes in front of it, the items
    of ``still`` -- (something, its box) pairs: people carried over a frame -- whose box
    is in front of it)."""
    return [([j for j, other in enumerate(boxes) if j != i and in_front(other, box)],
             [t for t, there in still if in_front(there, box)])
            for i, box in enumerate(boxes)]


def silhouette(mask: np.ndarray, keypoints: np.ndarray, threshold: float) -> None:
    """Fill (255) in ``mask`` the rough outline of a person from their keypoints (21, 3)
    in the mask's pixels: the torso, the skeleton's edges as thick lines and a disc
    round the head points, sized by their shoulder width (or, with the shoulders unsure,
    a quarter of the height of their sure points)."""
    sure = keypoints[:, 2] > threshold
    if sure.sum() < 2:
        return
    xy = keypoints[:, :2]
    if sure[SHOULDERS].all():
        unit = float(np.linalg.norm(xy[SHOULDERS[0]] - xy[SHOULDERS[1]]))
    else:
        unit = 0.25 * float(np.ptp(xy[sure, 1]))
    if unit < 2:
        return
    if sure[TORSO].all():
        cv2.fillPoly(mask, [np.round(xy[TORSO]).astype(np.int32)], 255)
    width = max(int(round(LIMB_WIDTH * unit)), 1)
    for a, b in skeleton.EDGES:  # the limbs (and spine, face) as thick lines
        if sure[a] and sure[b]:
            cv2.line(mask, tuple(np.round(xy[a]).astype(int)), tuple(np.round(xy[b]).astype(int)),
                     255, width)
    head = [i for i in HEAD if sure[i]]
    if head:
        cv2.circle(mask, tuple(np.round(xy[head].mean(0)).astype(int)),
                   max(int(round(HEAD_RADIUS * unit)), 1), 255, -1)


def paint_out(crop: np.ndarray, others: list[np.ndarray], threshold: float) -> None:
    """Paint grey, in place, over ``crop`` (H, W, 3) the silhouettes of ``others``
    (keypoints (21, 3) in the crop's pixels)."""
    if not others:
        return
    mask = np.zeros(crop.shape[:2], np.uint8)
    for keypoints in others:
        silhouette(mask, keypoints, threshold)
    crop[mask > 0] = GREY


def crowded(boxes) -> list[bool]:
    """For each of ``boxes`` (x0, y0, x1, y1): whether another of them overlaps it."""
    return [any(j != i and iou(a, b) > 0 for j, b in enumerate(boxes))
            for i, a in enumerate(boxes)]


def keep_inside(crop: np.ndarray, box, margin: float = KEEP_MARGIN) -> None:
    """Black out, in place, what of ``crop`` (H, W, 3) lies outside ``box`` (x0, y0, x1,
    y1 in the crop's pixels) widened by ``margin`` of its width and height a side."""
    h, w = crop.shape[:2]
    x0, y0, x1, y1 = box[:4]
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    left, top = int(np.clip(np.floor(x0 - mx), 0, w)), int(np.clip(np.floor(y0 - my), 0, h))
    right = int(np.clip(np.ceil(x1 + mx), 0, w))
    bottom = int(np.clip(np.ceil(y1 + my), 0, h))
    crop[:, :left] = 0
    crop[:, right:] = 0
    crop[:top] = 0
    crop[bottom:] = 0

