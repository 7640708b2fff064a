"""Top-down crops: a person box -> an affine warp to the model input, and back.

Shared by the engine (live frames) and training (dataset samples), so a keypoint is
mapped the same way everywhere.
"""
from __future__ import annotations

import cv2
import numpy as np


def box_to_center_scale(box, input_size: tuple[int, int], padding: float = 1.25):
    """(x0, y0, x1, y1) -> centre and (w, h) of a crop with the model's aspect ratio."""
    x0, y0, x1, y1 = map(float, box)
    h_in, w_in = input_size
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2], dtype=np.float32)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    aspect = w_in / h_in
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return c, np.array([w * padding, h * padding], dtype=np.float32)


def warp_matrix(center, scale, input_size: tuple[int, int], rot: float = 0.0) -> np.ndarray:
    """2x3 affine mapping the crop (centre, size (w, h), rotation in degrees) to the input."""
    h_in, w_in = input_size
    s = w_in / float(scale[0])
    a = np.deg2rad(rot)
    cos, sin = np.cos(a) * s, np.sin(a) * s
    # rotate about the centre, scale, then move the centre to the middle of the input
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]], dtype=np.float64)
    m[:, 2] = np.array([w_in / 2, h_in / 2]) - m[:, :2] @ np.asarray(center, np.float64)
    return m


def invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (..., 2) points."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def crop(image: np.ndarray, m: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    h_in, w_in = input_size
    return cv2.warpAffine(image, m, (w_in, h_in), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def keypoint_box(kpts: np.ndarray, min_conf: float = 0.0, min_points: int = 2):
    """Tight box (x0, y0, x1, y1) around keypoints with confidence > min_conf, or None."""
    k = np.asarray(kpts)
    ok = k[:, 2] > min_conf
    if ok.sum() < min_points:
        return None
    xy = k[ok, :2]
    return (*xy.min(0), *xy.max(0))
