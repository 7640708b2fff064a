"""A person's look, cheaply: the colours of their clothes, as a small HSV histogram of
two patches of the frame found from their keypoints, the torso (between the shoulders
and the hips) and the thighs (between the hips and the knees). The tracker keeps one per
person, updated slowly (``blend``), to tell who someone found again is
(``engine.runtime.identities``); Norfair's and DeepSORT's re-identification in the
small (no network: a few tens of microseconds a person).

A signature is a float32 vector: for each patch a histogram over ``BINS`` colours
(hue x saturation for the coloured pixels, brightness for the grey ones), summing to 1,
or all zeros where that patch was not seen. ``similarity`` is the Bhattacharyya
coefficient over the patches both signatures saw (1: the same colours, 0: none alike).
"""
from __future__ import annotations

import cv2
import numpy as np

from uniskel.engine.skeleton import INDEX

HUES, SATS, GREYS = 8, 3, 4
BINS = HUES * SATS + GREYS  # per patch
PATCHES = 2  # torso, thighs
SIZE = BINS * PATCHES
_SIDE = 16  # a patch is resampled to at most this many pixels a side
_SHOULDERS = (INDEX["left_shoulder"], INDEX["right_shoulder"])
_HIPS = (INDEX["left_hip"], INDEX["right_hip"])
_KNEES = (INDEX["left_knee"], INDEX["right_knee"])


def _histogram(patch_rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(patch_rgb, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.int32)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    coloured = (s >= 48) & (v >= 40)
    bins = np.where(coloured,
                    (h * HUES // 180) * SATS + np.minimum((s - 48) * SATS // 208, SATS - 1),
                    HUES * SATS + np.minimum(v * GREYS // 256, GREYS - 1))
    hist = np.bincount(bins, minlength=BINS).astype(np.float32)
    return hist / max(float(hist.sum()), 1.0)


def _patch(frame: np.ndarray, x0: float, y0: float, x1: float, y1: float):
    h, w = frame.shape[:2]
    x0, x1 = int(max(x0, 0)), int(min(x1, w))
    y0, y1 = int(max(y0, 0)), int(min(y1, h))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    # every n-th pixel, at most ``_SIDE`` a side (a resize costs ten times as much)
    sy, sx = -(-(y1 - y0) // _SIDE), -(-(x1 - x0) // _SIDE)
    return np.ascontiguousarray(frame[y0:y1:sy, x0:x1:sx])


def signature(frame: np.ndarray | None, keypoints: np.ndarray,
              threshold: float = 0.05) -> np.ndarray | None:
    """The look of the person whose ``keypoints`` (21, 3, frame pixels) are sure above
    ``threshold``, from the RGB ``frame``; None when their shoulders or hips are not
    sure (nothing to find the torso by) or there is no frame."""
    if frame is None:
        return None
    k = keypoints
    sure = k[:, 2] > threshold
    if not (sure[list(_SHOULDERS)].all() and sure[list(_HIPS)].all()):
        return None
    out = np.zeros(SIZE, np.float32)
    shoulders, hips = k[list(_SHOULDERS), :2], k[list(_HIPS), :2]
    # the torso: between the shoulders' and the hips' x (narrowed a little: arms and
    # the background at its sides), from below the shoulders to the hips
    xs = np.concatenate([shoulders[:, 0], hips[:, 0]])
    left, right = float(xs.min()), float(xs.max())
    inset = 0.15 * (right - left)
    top, bottom = float(shoulders[:, 1].mean()), float(hips[:, 1].mean())
    top += 0.1 * (bottom - top)
    patch = _patch(frame, left + inset, top, right - inset, bottom)
    if patch is None:
        return None
    out[:BINS] = _histogram(patch)
    if sure[list(_KNEES)].all():
        knees = k[list(_KNEES), :2]
        xs = np.concatenate([hips[:, 0], knees[:, 0]])
        left, right = float(xs.min()), float(xs.max())
        inset = 0.1 * (right - left)
        patch = _patch(frame, left + inset, bottom, right - inset,
                       float(knees[:, 1].mean()))
        if patch is not None:
            out[BINS:] = _histogram(patch)
    return out


def similarity(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Bhattacharyya coefficient of two signatures over the patches both saw (0..1),
    None when they share none (or either is None)."""
    if a is None or b is None:
        return None
    total, n = 0.0, 0
    for p in range(PATCHES):
        pa, pb = a[p * BINS:(p + 1) * BINS], b[p * BINS:(p + 1) * BINS]
        sa, sb = float(pa.sum()), float(pb.sum())
        if sa <= 0 or sb <= 0:
            continue
        total += float(np.sqrt(pa * pb).sum() / np.sqrt(sa * sb))
        n += 1
    return total / n if n else None


def blend(old: np.ndarray | None, new: np.ndarray | None, rate: float) -> np.ndarray | None:
    """``old`` moved ``rate`` of the way to ``new``, patch by patch (a patch only one of
    them saw is taken from that one)."""
    if old is None:
        return None if new is None else new.copy()
    if new is None:
        return old
    out = old.copy()
    for p in range(PATCHES):
        s = slice(p * BINS, (p + 1) * BINS)
        if new[s].sum() <= 0:
            continue
        out[s] = new[s] if old[s].sum() <= 0 else (1 - rate) * old[s] + rate * new[s]
    return out
