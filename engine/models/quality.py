"""How good is a predicted pose? One number per person, for ranking and records.

Two scores, both from a pose's own keypoint confidences (``(N, 21, 3)`` arrays):

- ``mean_confidence``: mmpose's rescoring rule, the mean confidence of the points above
  0.2 (0 where none is). Any backend has it; BlazePose is scored with it.
- ``estimate``: a model's *quality* estimate, its expected OKS (object keypoint
  similarity with the truth, in [0, 1]) as ``sigmoid(conf . w + b)`` over all 21
  confidences. ``w`` and ``b`` travel in the model config (``quality``: 21 weights then
  the bias) and are fitted by ``uniskel quality`` on the model's own
  predictions for jittered training crops, where the truth is known.

``person_scores`` picks the estimate where a model carries one, else the rule.
"""
from __future__ import annotations

import numpy as np

from uniskel.engine import skeleton

SCORE_THR = 0.2  # keypoint confidence counted by mmpose's rule


def mean_confidence(conf: np.ndarray, thr: float = SCORE_THR) -> np.ndarray:
    """(N, K) confidences -> (N,) mean of those above ``thr`` (0 where none is)."""
    conf = np.asarray(conf, np.float64)
    good = conf > thr
    return np.where(good.any(-1), (conf * good).sum(-1) / np.maximum(good.sum(-1), 1), 0.0)


def check_coefficients(coef, where: str = "model config") -> np.ndarray:
    """``quality`` from a config -> float64 (22,) array; a wrong length is a ValueError."""
    c = np.asarray(coef, np.float64).reshape(-1)
    if c.shape != (skeleton.NUM_KEYPOINTS + 1,) or not np.isfinite(c).all():
        raise ValueError(f"{where}: 'quality' must be {skeleton.NUM_KEYPOINTS + 1} finite "
                         f"numbers (a weight per keypoint, then the bias), got {c.size}")
    return c


def estimate(conf: np.ndarray, coef) -> np.ndarray:
    """(N, 21) confidences -> (N,) expected OKS from the model's fitted coefficients."""
    c = check_coefficients(coef)
    z = np.asarray(conf, np.float64) @ c[:-1] + c[-1]
    return 1.0 / (1.0 + np.exp(-z))


def person_scores(kpts: np.ndarray, coef=(), subset=None) -> np.ndarray:
    """(N, 21, 3) -> (N,): the model's quality estimate when ``coef`` is given, else the
    mean-confidence rule over ``subset`` (keypoint indices; default all)."""
    kpts = np.asarray(kpts)
    if len(coef):
        return estimate(kpts[..., 2], coef)
    conf = kpts[..., 2] if subset is None else kpts[:, subset, 2]
    return mean_confidence(conf)
