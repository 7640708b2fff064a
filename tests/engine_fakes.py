"""Test doubles for the engine: a backend that 'sees' bright blobs, and synthetic frames.

A synthetic person is a white rectangle on a dark frame; ``BlobBackend`` puts the 21
keypoints on a grid inside the bright pixels of a crop (confidence 1), or returns
confidence 0 when a crop has none, so tracking logic can be tested exactly.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from uniskel.engine.backends.base import Backend


class FakeClock:
    """Stands in for the ``time`` module in ``engine.runtime.pipeline`` (``monotonic`` and
    ``perf_counter``: one clock that only moves when a test moves it), so the frame-rate
    logic can be tested exactly: ``monkeypatch.setattr(pipeline_module, "time", clock)``."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def monotonic(self) -> float:
        return self.now

    perf_counter = monotonic

    def charge(self, fn, seconds: float, per_item: bool = False):
        """``fn`` (one argument), costing ``seconds`` of this clock a call, or a call per
        item of its argument (a backend's crops)."""
        def timed(x):
            self.now += seconds * (len(x) if per_item else 1)
            return fn(x)
        return timed

    def feed(self, pipeline, frames, seconds_apart: float) -> list:
        """Run ``frames`` through ``pipeline`` as a source ``seconds_apart`` apart sends
        them: the next comes that long after the last began, or at once if the engine
        took longer. -> their FrameResults."""
        results = []
        for i, frame in enumerate(frames):
            start = self.now
            results.append(pipeline.process(frame, i * seconds_apart))
            self.now = max(self.now, start + seconds_apart)
        return results


def frame_with_person(box=None, size=(240, 320)) -> np.ndarray:
    frame = np.full((*size, 3), 20, np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        frame[y0:y1, x0:x1] = 255
    return frame


class BlobBackend(Backend):
    name = "blob"

    def __init__(self, input_size=(160, 128), delay: float = 0.0):
        self.input_size = input_size
        self.delay = delay
        self.calls = 0
        self.gate: threading.Event | None = None  # when set, infer waits for it

    def infer(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        out = np.zeros((len(crops), 21, 3), np.float32)
        for i, c in enumerate(crops):
            ys, xs = np.nonzero(c[..., 0] > 128)
            if len(xs) < 20:
                continue
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            gx = np.linspace(x0, x1, 3)
            gy = np.linspace(y0, y1, 7)
            grid = np.array([(x, y) for y in gy for x in gx])
            out[i, :, :2] = grid
            out[i, :, 2] = 1.0
        return out
