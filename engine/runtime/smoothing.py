"""One Euro filter (Casiez et al., CHI 2012) for keypoints: smooth when still, quick when moving.

Vectorised over all keypoints of a person. As in MediaPipe's landmark smoothing, the
speed that opens the filter is measured in object sizes per second (``scale`` = the
person's size in pixels), so one setting suits near and far people alike.
``KeypointSmoother`` keeps one filter per track id and forgets a track's state when the
track is lost, so a re-acquired person does not glide in from where the old one was.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff, dt: float):
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filter an array signal (any shape) sampled at increasing times (seconds)."""

    def __init__(self, min_cutoff: float = 0.5, beta: float = 8.0, d_cutoff: float = 1.0,
                 default_dt: float = 1 / 30):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.default_dt = default_dt
        self.reset()

    def reset(self) -> None:
        self._x = None   # last filtered value
        self._dx = None  # last filtered derivative (object sizes per second)
        self._t = None

    def shift(self, d) -> None:
        """Move the filtered value by ``d`` (broadcast over it): the signal's frame of
        reference moved, not the signal."""
        if self._x is not None:
            self._x = self._x + np.asarray(d, np.float64)

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t if t is not None and self._t is not None else 0.0
        if not dt > 0:  # repeated or missing timestamps: assume the nominal frame rate
            dt = self.default_dt
        self._t = t
        dx = (x - self._x) / dt / max(scale, 1e-6)
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        return self._x.copy()


class KeypointSmoother:
    """One ``OneEuroFilter`` per track over the (x, y) of its 21 keypoints."""

    def __init__(self, min_cutoff: float = 0.5, beta: float = 8.0, d_cutoff: float = 1.0):
        self.params = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self._filters: dict[int, OneEuroFilter] = {}

    def __call__(self, track_id: int, keypoints: np.ndarray, t: float, scale: float) -> np.ndarray:
        """(21, 3) -> a new (21, 3) with smoothed x, y (confidence unchanged)."""
        f = self._filters.get(track_id)
        if f is None:
            f = self._filters[track_id] = OneEuroFilter(**self.params)
        out = np.array(keypoints, dtype=np.float32)
        out[:, :2] = f(keypoints[:, :2], t, scale)
        return out

    def shift(self, dx: float, dy: float) -> None:
        """The picture moved by (dx, dy) pixels (the camera): each track's filtered
        points move with it, so a pan is not smoothed as the people's own motion."""
        for f in self._filters.values():
            f.shift(np.array([dx, dy]))

    def keep_only(self, track_ids) -> None:
        """Forget every track not in ``track_ids`` (lost tracks start fresh)."""
        keep = set(track_ids)
        for tid in list(self._filters):
            if tid not in keep:
                del self._filters[tid]

    def reset(self) -> None:
        self._filters.clear()
