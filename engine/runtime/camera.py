"""The camera's own motion from frame to frame, so a pan moves everyone tracked with it.

A person carried over a frame (not inferred: the live budget shares crops out) moves on
by their own damped velocity, and someone just found has none: in a pan, or a
hand-held phone's sway, their crops and carried skeletons fall behind the picture. The
shift between two frames is read by phase correlation (``cv2.phaseCorrelate``) of small
grey copies, and the tracker, its lost people and the smoother are moved by it before
the frame is tracked: their velocities become motion in the scene, not on the screen,
and while the camera moves it alone says where they will be.

The shift is read in a grid of tiles, those mostly covered by someone tracked left out,
and taken where most tiles agree on it: someone walking past a still camera moves the
tiles they cover, a pan moves them all.

On the COCO pans, live (``python scripts/coverage.py --set pans --live --repeat 3``):
found 84.5% -> 90.3%, id switches 1.32 -> 0.21 per 100 frames (docs/measurements.md).
On the crossing clips (a still camera, two large people walking) it reads no shift on
any frame. About 1 ms a frame on 2 cores; everyone mode only.
"""
from __future__ import annotations

import cv2
import numpy as np

#: width (px) of the grey copy the shift is read on, in a grid of tiles
WIDTH = 160
GRID = (3, 4)  # rows, columns
#: a shift under this (frame pixels) is the camera standing still (the crossing clips'
#: still camera reads 0; the edge of someone walking in a tile can pull it by 2)
MIN_SHIFT = 3.0
#: a tile read this unsure (``phaseCorrelate``'s response) is not counted: no texture, a
#: cut, a blur
MIN_RESPONSE = 0.2
#: the camera moved when at least this many tiles were read, and this share of them
#: agree with their median within ``AGREE`` px of the grey copy: someone walking past a
#: still camera moves the tiles they cover, not the rest; a camera walking forward (the
#: street clip) moves each side its own way (at 3, 0.6 and 0.75 px a few of its frames
#: read as an 11 px pan, and its ids switched on them)
MIN_TILES, MIN_AGREE, AGREE = 4, 0.75, 0.4
#: tiles this much covered by a tracked person's box are not read (blanking the boxes
#: out of the tiles read instead lost the pans' gain: fewer tiles agreed)
MAX_COVERED = 0.5


class CameraMotion:
    """Reads the shift of each frame against the last one (``shift``)."""

    def __init__(self, width: int = WIDTH, grid: tuple[int, int] = GRID):
        self.width, self.grid = width, grid
        self.reset()

    def reset(self) -> None:
        self._last: np.ndarray | None = None
        self._window: np.ndarray | None = None

    def shift(self, frame: np.ndarray, boxes=()) -> tuple[float, float]:
        """(dx, dy) in frame pixels that the picture moved since the last frame given
        (RGB uint8 (H, W, 3)), ``boxes`` (x0, y0, x1, y1, frame pixels: the people
        tracked) left out of the read; (0, 0) for the first frame, a frame of another
        size, a still camera (under ``MIN_SHIFT``) or tiles that disagree."""
        h, w = frame.shape[:2]
        k = self.width / w
        rows, cols = self.grid
        small = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY),
                           (self.width, max(4 * rows, round(h * k))),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        last, self._last = self._last, small
        if last is None or last.shape != small.shape:
            return 0.0, 0.0
        th, tw = small.shape[0] // rows, small.shape[1] // cols
        if self._window is None or self._window.shape != (th, tw):
            self._window = cv2.createHanningWindow((tw, th), cv2.CV_32F)
        covered = np.zeros(small.shape, bool)
        for x0, y0, x1, y1 in (b[:4] for b in boxes):
            covered[max(int(y0 * k), 0):int(np.ceil(y1 * k)) + 1,
                    max(int(x0 * k), 0):int(np.ceil(x1 * k)) + 1] = True
        reads = []
        for r in range(rows):
            for c in range(cols):
                tile = np.s_[r * th:(r + 1) * th, c * tw:(c + 1) * tw]
                if covered[tile].mean() > MAX_COVERED:
                    continue
                # contiguous copies: phaseCorrelate misreads a strided view
                d, response = cv2.phaseCorrelate(last[tile].copy(), small[tile].copy(),
                                                 self._window)
                if response >= MIN_RESPONSE:
                    reads.append(d)
        if len(reads) < MIN_TILES:
            return 0.0, 0.0
        reads = np.array(reads)
        median = np.median(reads, axis=0)
        if np.mean(np.abs(reads - median).max(axis=1) <= AGREE) < MIN_AGREE:
            return 0.0, 0.0
        dx, dy = median / k
        if np.hypot(dx, dy) < MIN_SHIFT:
            return 0.0, 0.0
        return float(dx), float(dy)
