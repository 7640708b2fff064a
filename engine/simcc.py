"""SimCC coordinate classification: targets (training) and decoding (engine).

A coordinate ``c`` in input pixels lives in bin ``c * split_ratio``; a keypoint's x and y
are two 1-D distributions over those bins.
"""
from __future__ import annotations

import numpy as np


def encode(coords: np.ndarray, bins: tuple[int, int], split_ratio: float,
           sigma: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian SimCC targets for (K, 2) input-pixel coords -> (K, bx), (K, by), unnormalised."""
    bx, by = bins
    mx = coords[:, 0:1] * split_ratio
    my = coords[:, 1:2] * split_ratio
    tx = np.exp(-((np.arange(bx)[None] - mx) ** 2) / (2 * sigma[0] ** 2))
    ty = np.exp(-((np.arange(by)[None] - my) ** 2) / (2 * sigma[1] ** 2))
    return tx.astype(np.float32), ty.astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def decode(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float,
           beta: float = 10.0, window: int = 3) -> np.ndarray:
    """Logits (B, K, bx), (B, K, by) -> (B, K, 3) of x, y (input pixels) and confidence.

    Position: the argmax refined by the probability-weighted mean of ``window`` bins each
    side. Confidence: the probability mass in that window, geometric mean of x and y, so
    it lies in [0, 1] and is high only when both axes are sharp and agree with the peak.
    """
    out = []
    for logits in (simcc_x, simcc_y):
        p = _softmax(np.asarray(logits, dtype=np.float32) * beta)
        n = p.shape[-1]
        peak = p.argmax(-1)
        offs = np.arange(-window, window + 1)
        idx = np.clip(peak[..., None] + offs, 0, n - 1)
        w = np.take_along_axis(p, idx, -1)
        mass = w.sum(-1)
        pos = (w * idx).sum(-1) / np.maximum(mass, 1e-12)
        out.append((pos / split_ratio, mass))
    (x, cx), (y, cy) = out
    return np.stack([x, y, np.sqrt(cx * cy)], axis=-1).astype(np.float32)
