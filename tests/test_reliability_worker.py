"""EngineWorker under intermittent faults (tests/test_engine_worker.py covers one bad frame
and a backend that always fails): bad frames from a real pipeline are skipped, counted
and logged, and failures that are not consecutive never make it give up."""
from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from uniskel.engine.runtime.pipeline import Pipeline
from uniskel.engine.runtime.worker import EngineWorker
from engine_fakes import BlobBackend, frame_with_person

pytestmark = pytest.mark.timeout(60)


def wait_until(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def test_malformed_frames_are_skipped_counted_and_logged(caplog):
    """A camera that now and then hands over a grey or 16-bit frame: the real pipeline
    refuses those frames; the worker goes on with the next ones."""
    done = []
    worker = EngineWorker(Pipeline(BlobBackend(), detector="search"), on_result=done.append,
                          max_consecutive_errors=3).start()
    good = frame_with_person((100, 40, 150, 200))
    bad = [good[..., 0], good.astype(np.uint16), good[..., :2]]
    with caplog.at_level(logging.WARNING, logger="uniskel.engine.runtime.worker"):
        for i in range(13):
            frame = bad[(i // 2) % 3] if i % 2 else good
            worker.submit(frame, i / 30)
            wait_until(lambda: worker.stats().processed + worker.stats().errors == i + 1)
    s = worker.stats()
    assert (s.processed, s.errors, s.consecutive_errors) == (7, 6, 0)
    assert worker.state == "running" and len(done) == 7
    assert [r.timestamp for r in done] == pytest.approx([i / 30 for i in range(0, 13, 2)])
    failed = [r for r in caplog.records if "frame failed" in r.getMessage()]
    assert len(failed) == 6 and "RGB uint8" in failed[0].getMessage()
    worker.stop()


def test_failures_that_are_not_consecutive_never_stop_it():
    class EveryOther:
        def __init__(self):
            self.inner = Pipeline(BlobBackend(), detector="search")
            self.backend = self.inner.backend
            self.n = 0

        def process(self, frame, ts):
            self.n += 1
            if self.n % 3 != 1:  # two of every three frames fail, never three in a row
                raise RuntimeError(f"transient fault {self.n}")
            return self.inner.process(frame, ts)

    worker = EngineWorker(EveryOther(), max_consecutive_errors=3).start()
    frame = frame_with_person((100, 40, 150, 200))
    for i in range(40):
        worker.submit(frame, i / 30)
        wait_until(lambda: worker.stats().processed + worker.stats().errors == i + 1)
    s = worker.stats()
    assert worker.state == "running" and (s.processed, s.errors) == (14, 26)
    assert s.processed + s.errors == 40 and s.dropped == 0
    worker.stop()
    assert worker.state == "stopped"
