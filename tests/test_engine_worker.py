"""EngineWorker: newest frame wins, submit never blocks, errors are counted, failure is reported."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from uniskel.engine.runtime.pipeline import Pipeline
from uniskel.engine.runtime.worker import EngineWorker
from engine_fakes import BlobBackend, frame_with_person

pytestmark = pytest.mark.timeout(60)  # a blocking submit or a hung join fails, not hangs


def wait_until(cond, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def test_newest_frame_wins_with_a_slow_backend():
    backend = BlobBackend()
    backend.gate = threading.Event()  # infer blocks until we open the gate
    results = []
    worker = EngineWorker(Pipeline(backend, detector="search"), on_result=results.append).start()
    frames = [frame_with_person((100, 40, 150, 200)) for _ in range(30)]
    assert worker.submit(frames[0], 0.0)
    wait_until(lambda: backend.calls == 1)  # frame 0 is inside the (blocked) backend
    for i in range(1, 30):                  # none of these may wait for it
        assert worker.submit(frames[i], i / 30)
    stats = worker.stats()
    assert stats.submitted == 30 and stats.dropped == 28 and stats.processed == 0
    backend.gate.set()
    wait_until(lambda: worker.stats().processed == 2)
    assert [r.timestamp for r in results] == [0.0, pytest.approx(29 / 30)]  # first, then newest
    assert worker.latest() is results[-1] and results[-1].frame is frames[29]
    worker.stop()
    assert worker.state == "stopped" and not worker._thread.is_alive()
    assert not worker.submit(frames[0], 1.0)


class FlakyPipeline:
    """Raises on chosen frames (by timestamp), like a backend that trips on some input."""

    def __init__(self, bad):
        self.bad = bad
        self.inner = Pipeline(BlobBackend(), detector="search")
        self.backend = self.inner.backend

    def process(self, frame, ts):
        if self.bad(ts):
            raise RuntimeError(f"CUDA error: an illegal memory access at {ts}\nsecond line")
        return self.inner.process(frame, ts)


def test_an_exception_skips_one_frame_and_is_counted():
    done = []
    worker = EngineWorker(FlakyPipeline(lambda ts: ts == 1), on_result=done.append).start()
    frame = frame_with_person((100, 40, 150, 200))
    for ts in range(4):
        worker.submit(frame, ts)
        wait_until(lambda: worker.stats().processed + worker.stats().errors == ts + 1)
    s = worker.stats()
    assert (s.processed, s.errors, s.consecutive_errors) == (3, 1, 0)
    assert [r.timestamp for r in done] == [0, 2, 3] and worker.state == "running"
    worker.stop()


def test_a_backend_that_keeps_failing_is_reported_not_retried_forever():
    states = []
    worker = EngineWorker(FlakyPipeline(lambda ts: True), max_consecutive_errors=3,
                          on_state=lambda s, r: states.append((s, r))).start()
    frame = frame_with_person(None)
    for ts in range(3):
        worker.submit(frame, ts)
        wait_until(lambda: worker.stats().errors == ts + 1 or worker.state == "failed")
    wait_until(lambda: worker.state == "failed")
    assert worker.reason.startswith("blob: 3 frames failed in a row: CUDA error")
    assert "\n" not in worker.reason
    assert states[-1] == ("failed", worker.reason)
    assert not worker.submit(frame, 9)  # refused, not queued
    worker._thread.join(5)
    assert not worker._thread.is_alive()
    # a working pipeline brings it back
    worker.set_pipeline(Pipeline(BlobBackend(), detector="search"))
    assert worker.state == "running" and worker.submit(frame, 10)
    wait_until(lambda: worker.stats().processed == 1)
    worker.stop()
    assert worker.state == "stopped"


def test_stop_is_clean_while_idle_and_a_callback_error_does_not_kill_the_thread():
    def bad_callback(_):
        raise ValueError("GUI gone")

    with EngineWorker(Pipeline(BlobBackend(), detector="search"), on_result=bad_callback) as w:
        w.submit(np.zeros((60, 80, 3), np.uint8), 0.0)
        wait_until(lambda: w.stats().processed == 1)
        w.submit(np.zeros((60, 80, 3), np.uint8), 0.1)
        wait_until(lambda: w.stats().processed == 2)
        thread = w._thread
    assert not thread.is_alive() and w.state == "stopped"


def test_each_result_carries_its_own_frames_metadata_through_the_slot():
    """Frames replaced in the slot take their metadata with them: every result comes back
    with the meta submitted beside its own frame, never a neighbour's."""
    backend = BlobBackend()
    backend.gate = threading.Event()
    done = []
    worker = EngineWorker(Pipeline(backend, detector="search"), on_done=done.append).start()
    frames = [frame_with_person((100, 40, 150, 200)) for _ in range(10)]
    assert worker.submit(frames[0], 0.0, meta={"index": 0})
    wait_until(lambda: backend.calls == 1)
    for i in range(1, 10):
        assert worker.submit(frames[i], i / 30, meta={"index": i})
    backend.gate.set()
    wait_until(lambda: len(done) == 2)
    worker.stop()
    assert [d.meta["index"] for d in done] == [0, 9]  # the dropped frames' meta is gone too
    for d in done:
        assert d.result.frame is frames[d.meta["index"]]
        assert d.result.timestamp == pytest.approx(d.meta["index"] / 30)


class CountingPipeline:
    """A real pipeline that counts its resets (a seek, a loop, a new source)."""

    def __init__(self):
        self.inner = Pipeline(BlobBackend(), detector="search")
        self.backend = self.inner.backend
        self.resets = 0

    def reset(self):
        self.resets += 1
        self.inner.reset()

    def process(self, frame, ts):
        return self.inner.process(frame, ts)


def test_a_restart_survives_its_frame_being_replaced_in_the_slot():
    pipeline = CountingPipeline()
    pipeline.inner.backend.gate = gate = threading.Event()
    done = []
    worker = EngineWorker(pipeline, on_done=done.append).start()
    frame = frame_with_person((100, 40, 150, 200))
    worker.submit(frame, 0.0, meta=0)
    wait_until(lambda: pipeline.inner.backend.calls == 1)   # frame 0 is running
    worker.submit(frame, 1.0, meta=1, restart=True)           # the seek's first frame ...
    worker.submit(frame, 2.0, meta=2)                         # ... replaced by the next one
    gate.set()
    wait_until(lambda: len(done) == 2)
    assert [d.meta for d in done] == [0, 2]
    assert pipeline.resets == 1                          # reset before frame 2 all the same
    worker.reset()                                            # a new source: forget people
    worker.submit(frame, 3.0, meta=3)
    wait_until(lambda: len(done) == 3)
    assert pipeline.resets == 2
    worker.submit(frame, 4.0, meta=4)
    wait_until(lambda: len(done) == 4)
    assert pipeline.resets == 2                          # once per request, not per frame
    worker.stop()
