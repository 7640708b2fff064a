"""Framings of the student v2's recipe, as augmentation of the one pipeline: pictures cut
at a random height (a person at a desk reaching the bottom of a webcam picture) and
close-ups (head and shoulders down to the waist, the picture ending there).

A cut is a line in the crop (a, b, c: a x + b y + c >= 0 is below it); the labelled points
below it are *hidden*: no longer visible labels, and for a heatmap student their maps
must be empty (``losses.heatmap_points_loss``'s ``hidden``), so that nothing is drawn
where the picture has nothing. Teachers run on the cut crop teach nothing below the line.

``AugmentConfig.cut_prob`` (the share of cut pictures: half of them cut before cropping,
the box then what is left, as a person detector would box it; the rest cut across the
crop, box as labelled) and ``closeup_prob`` turn them on (training/data.py).
"""
from __future__ import annotations

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.runtime import crop

NO_CUT = np.array([0.0, 0.0, -1.0])  # a cut line nothing is below
SHOULDER_PAIR = [skeleton.INDEX["left_shoulder"], skeleton.INDEX["right_shoulder"]]
_CUT_BETWEEN = [skeleton.INDEX[n] for n in ("left_shoulder", "right_shoulder",
                                            "left_knee", "right_knee")]


def below(line, xy) -> np.ndarray:
    """Which points (..., 2) lie below a cut ``line`` (a, b, c): a x + b y + c >= 0."""
    return xy[..., 0] * line[0] + xy[..., 1] * line[1] + line[2] >= 0


#: where training's cuts fall, as shares of the way from the shoulders down to the knees
#: (v2's recipe: from 30% down to the knees; eval's mid-torso cut is at about 25%)
CUT_SPAN = (0.3, 1.0)


def cut_row(kpts, mask, rng, span=CUT_SPAN):
    """A random height between the shoulders and the knees (``span``: from this share of
    the way from the higher pair down to that one), or None where they are not labelled.
    A person upside down (knees above the shoulders: a handstand, a dive) is cut between
    them too, hiding the shoulders and head, as ``uniskel eval --cut mid-torso`` cuts them (its mid-torso height hides
    whatever is below); without it such cuts were never trained, and the shoulders
    below a cut stayed drawn (58% after 1,200 whole-network steps of
    training/configs/student_v3_thunder192_whole.toml's recipe)."""
    if not mask[_CUT_BETWEEN].all():
        return None
    ys = kpts[_CUT_BETWEEN, 1]
    shoulders, knees = ys[:2].mean(), ys[2:].mean()
    top, bottom = (min(ys[:2]), max(ys[2:])) if knees >= shoulders \
        else (min(ys[2:]), max(ys[:2]))
    if bottom - top < 8:
        return None
    return float(rng.uniform(top + span[0] * (bottom - top), top + span[1] * (bottom - top)))


def cut(patch, kpts, mask, rng, span=CUT_SPAN):
    """Black out the crop below a random height between the shoulders and the knees
    (``cut_row``); -> (patch, the row where the picture now ends; its height when not cut)."""
    height = patch.shape[0]
    row = cut_row(kpts, mask, rng, span)
    if row is None:
        return patch, height
    row = int(row)
    if not 0 < row < height:
        return patch, height
    patch = patch.copy()
    patch[row:] = 0
    return patch, row


def closeup(kpts, mask, rng):
    """A close-up framing of a labelled person, as a webcam at a desk or someone passing
    near a camera gives: (box, the row where the picture ends) from above the head to
    between just under the shoulders and the waist; None without labelled shoulders and
    face, or not upright (``skeleton.head_and_shoulders``)."""
    frame = skeleton.head_and_shoulders(kpts, mask)
    if frame is None:
        return None
    (sx, sy), top, unit = frame
    half = rng.uniform(0.8, 1.2) * unit
    top -= rng.uniform(0.3, 0.7) * unit
    bottom = sy + rng.uniform(0.3, 2.2) * unit
    return (sx - half, top, sx + half, bottom), bottom


def before_crop(image, box, kpts, mask, cut_prob: float, closeup_prob: float, rng,
                span=CUT_SPAN):
    """The framings decided on the whole picture: -> (image, box, the image row where the
    picture now ends or None, whether a close-up). Draws from ``rng`` only for the
    framings that are on; ``span``: where cuts fall (``cut_row``)."""
    if closeup_prob > 0 and rng.random() < closeup_prob:
        near = closeup(kpts, mask, rng)
        if near is not None:  # the picture ends below the chest or at the waist
            box, cut_y = near
            image = image.copy()
            image[max(int(np.ceil(cut_y)), 0):] = 0
            return image, box, cut_y, True
    if cut_prob > 0 and rng.random() < cut_prob / 2:  # the box is what is left
        cut_y = cut_row(kpts, mask, rng, span)
        if cut_y is not None and cut_y > box[1] + 8:
            image = image.copy()
            image[int(np.ceil(cut_y)):] = 0
            return image, (box[0], box[1], box[2], min(box[3], cut_y)), cut_y, False
    return image, box, None, False


def line_in_crop(m, cut_y) -> np.ndarray:
    """The image row ``cut_y`` carried into the crop by the affine ``m`` (image -> crop,
    rotation and flip included), as a cut line whose "below" is the picture's below."""
    ends = crop.apply(m, np.array([[0.0, cut_y], [1.0, cut_y]]))
    d = ends[1] - ends[0]
    normal = np.array([-d[1], d[0]])
    if normal @ crop.apply(m, np.array([[0.0, cut_y + 1.0]]))[0] - normal @ ends[0] < 0:
        normal = -normal
    return np.array([normal[0], normal[1], -normal @ ends[0]])


def after_crop(patch, coords, mask, cut_y, m, cut_prob: float, rng, span=CUT_SPAN):
    """The framings decided on the crop: -> (patch, the crop's cut line). A picture cut
    before cropping keeps its line; otherwise (with the rest of ``cut_prob``) the crop
    is cut straight across."""
    if cut_y is not None:
        return patch, line_in_crop(m, cut_y)
    if cut_prob > 0 and rng.random() < cut_prob / (2 - cut_prob):
        patch, row = cut(patch, coords, mask, rng, span)
        if row < patch.shape[0]:
            return patch, np.array([0.0, 1.0, -float(row)])
    return patch, NO_CUT
