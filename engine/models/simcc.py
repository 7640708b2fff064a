"""SimCC coordinate classification, the one codec: targets (training) and decoding (engine).

A coordinate ``c`` in input pixels lives in bin ``c * split_ratio``; a keypoint's x and y
are two 1-D distributions over those bins, ``softmax(BETA * logits)`` (RTMPose's
convention). ``SimCC`` holds the settings (as MMPose's ``SimCCLabel``): the training loss
builds its targets with ``SimCC.targets``, every backend decodes with ``SimCC.decode``,
and the tests use both; the defaults live here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BETA = 10.0             # distributions are softmax(BETA * logits)
SIGMA = (2.45, 2.83)    # Gaussian target width in bins (x, y): RTMPose-t's, halved with the input
SPLIT_RATIO = 2.0       # bins per input pixel
WINDOW = 3              # bins each side of the peak that decoding weighs


@dataclass(frozen=True)
class SimCC:
    """The codec of one model: its split ratio, target width, beta and decode window."""

    split_ratio: float = SPLIT_RATIO
    sigma: tuple[float, float] = SIGMA
    beta: float = BETA
    window: int = WINDOW

    @classmethod
    def of(cls, cfg) -> "SimCC":
        """From a ModelConfig or its dict (as an ONNX file's ``uniskel_config`` carries)."""
        get = cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
        return cls(split_ratio=float(get("split_ratio") or SPLIT_RATIO),
                   window=int(get("decode_window") or WINDOW))

    def encode(self, coords: np.ndarray, bins: tuple[int, int]):
        """(K, 2) input-pixel coords -> unnormalised Gaussian targets (K, bx), (K, by)."""
        return encode(coords, bins, self.split_ratio, self.sigma)

    def targets(self, coords, bins: tuple[int, int]):
        """Torch: (B, K, 2) input-pixel coords -> normalised targets (B, K, bx), (B, K, by)."""
        import torch

        out = []
        for axis, n in enumerate(bins):
            grid = torch.arange(n, device=coords.device, dtype=coords.dtype)
            mu = coords[..., axis:axis + 1] * self.split_ratio
            g = torch.exp(-((grid - mu) ** 2) / (2 * self.sigma[axis] ** 2))
            out.append(g / g.sum(-1, keepdim=True).clamp_min(1e-12))
        return out

    def decode(self, simcc_x: np.ndarray, simcc_y: np.ndarray) -> np.ndarray:
        return decode(simcc_x, simcc_y, self.split_ratio, self.beta, self.window)


def encode(coords: np.ndarray, bins: tuple[int, int], split_ratio: float = SPLIT_RATIO,
           sigma: tuple[float, float] = SIGMA) -> tuple[np.ndarray, np.ndarray]:
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


def decode(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = SPLIT_RATIO,
           beta: float = BETA, window: int = WINDOW) -> np.ndarray:
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
