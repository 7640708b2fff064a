"""Timing the stages of a frame: one way to time a stage (as Ultralytics' predictor's
``Profile`` context), and callbacks that hear each stage's time as it ends.

    timer = StageTimer(STAGES, clock=time.perf_counter)
    with timer("detect"):
        ...
    timer.ms  # {"detect": 1.2, "crop": 0.0, ...}: milliseconds, in the order named

A stage timed twice in one frame (``crop`` and ``infer`` run once per batch) adds up.
The pipeline hands its clock in, so a test's fake clock times the stages too.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator


class StageTimer:
    """Milliseconds per named stage of one frame; ``on_stage(name, ms)`` callbacks are
    called as each timed block ends."""

    def __init__(self, stages: Iterable[str] = (), clock: Callable[[], float] = time.perf_counter,
                 on_stage: Iterable[Callable[[str, float], None]] = ()):
        self.ms: dict[str, float] = {s: 0.0 for s in stages}
        self.clock = clock
        self.on_stage = list(on_stage)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = self.clock()
        try:
            yield
        finally:
            ms = (self.clock() - t) * 1e3
            self.ms[name] = self.ms.get(name, 0.0) + ms
            for fn in self.on_stage:
                fn(name, ms)

    @property
    def total_ms(self) -> float:
        return float(sum(self.ms.values()))
