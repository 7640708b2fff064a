"""Run a Pipeline on its own thread, always on the newest frame (MMPose webcam-executor style).

``submit(frame, ts, meta)`` never blocks: it puts the frame in a one-frame slot; a frame
still waiting there is replaced ("newest frame wins") and counted as dropped, so a slow
backend shows fewer updates, never a growing delay. ``meta`` is anything the caller wants
back with this frame's result (the app passes its source packet: capture time, frame
number); it travels through the slot with the frame, so no one has to match results to
frames afterwards. Results reach the caller through ``on_done(Done(result, meta))``
and/or ``on_result(result)`` (both called on the worker thread), and ``latest()``.

``submit(..., restart=True)`` (a seek, a loop, a reconnect) and ``reset()`` make the
worker call ``pipeline.reset()`` before the next frame it runs; the request survives the
frame being replaced in the slot, so tracking never carries over a jump.

An exception in one frame is logged, counted and the frame skipped. After
``max_consecutive_errors`` failures in a row the worker stops with ``state == "failed"``
and ``reason`` set to one line (reported through ``on_state``) rather than failing
forever; ``set_pipeline`` (e.g. with another backend) starts it again. ``stop()`` joins
the thread. No GUI toolkit here: the app wraps the callbacks into its own signals.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

log = logging.getLogger(__name__)

IDLE, RUNNING, FAILED, STOPPED = "idle", "running", "failed", "stopped"


class Done(NamedTuple):
    """One processed frame: the pipeline's FrameResult and the ``meta`` submitted with it."""

    result: Any
    meta: Any


@dataclass(frozen=True)
class WorkerStats:
    submitted: int
    processed: int
    dropped: int
    errors: int
    consecutive_errors: int
    fps: float  # results per second over the last couple of seconds


class EngineWorker:
    def __init__(self, pipeline, on_result: Callable | None = None,
                 on_state: Callable[[str, str | None], None] | None = None,
                 max_consecutive_errors: int = 5, name: str = "uniskel-engine",
                 on_done: Callable[[Done], None] | None = None):
        self.pipeline = pipeline
        self.on_result = on_result    # on_result(FrameResult)
        self.on_done = on_done        # on_done(Done(FrameResult, meta))
        self.on_state = on_state
        self.max_consecutive_errors = max(1, int(max_consecutive_errors))
        self.name = name
        self._cond = threading.Condition()
        self._slot: tuple[np.ndarray, float | None, Any] | None = None
        self._reset_pending = False   # pipeline.reset() before the next frame
        self._latest = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.state = IDLE
        self.reason: str | None = None
        self._submitted = self._processed = self._dropped = self._errors = self._consecutive = 0
        self._done_times: deque[float] = deque(maxlen=64)

    # ---- control ----
    def start(self) -> "EngineWorker":
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return self
            self._stopping = False
            self._consecutive = 0
            self.reason = None
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.state = RUNNING
            self._thread.start()
        self._set_state(RUNNING, None)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the frame in progress; joins the thread."""
        with self._cond:
            self._stopping = True
            if self._slot is not None:
                self._slot = None
                self._dropped += 1
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("engine worker did not stop within %.1f s", timeout)
        if self.state != FAILED:
            self._set_state(STOPPED, None)

    def set_pipeline(self, pipeline) -> None:
        """Use another pipeline from the next frame on (and restart after a failure)."""
        with self._cond:
            self.pipeline = pipeline
            self._consecutive = 0
        if self.state == FAILED:
            self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- data in / out ----
    def submit(self, frame: np.ndarray, timestamp: float | None = None, meta: Any = None,
               restart: bool = False) -> bool:
        """Offer a frame; never blocks. ``meta`` comes back with its result (``on_done``);
        ``restart``: the frame follows a jump (reset tracking first). False when the
        worker is not running."""
        with self._cond:
            if self.state != RUNNING or self._stopping:
                return False
            if self._slot is not None:
                self._dropped += 1
            self._slot = (frame, timestamp, meta)
            self._reset_pending = self._reset_pending or bool(restart)
            self._submitted += 1
            self._cond.notify()
        return True

    def reset(self) -> None:
        """Reset the pipeline (forget tracked people) before the next frame it runs."""
        with self._cond:
            self._reset_pending = True

    def latest(self):
        """The newest FrameResult, or None."""
        return self._latest

    def stats(self) -> WorkerStats:
        with self._cond:
            times = list(self._done_times)
            fps = 0.0
            if len(times) >= 2 and times[-1] > times[0]:
                recent = [t for t in times if t >= times[-1] - 2.0]
                if len(recent) >= 2 and recent[-1] > recent[0]:
                    fps = (len(recent) - 1) / (recent[-1] - recent[0])
            return WorkerStats(self._submitted, self._processed, self._dropped, self._errors,
                               self._consecutive, fps)

    # ---- the thread ----
    def _set_state(self, state: str, reason: str | None) -> None:
        self.state, self.reason = state, reason
        if self.on_state is not None:
            try:
                self.on_state(state, reason)
            except Exception:
                log.exception("on_state callback failed")

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                frame, ts, meta = self._slot
                self._slot = None
                reset, self._reset_pending = self._reset_pending, False
                pipeline = self.pipeline
            try:
                if reset:
                    pipeline.reset()
                result = pipeline.process(frame, ts)
            except Exception as exc:
                if self._failed(exc):
                    return
                continue
            with self._cond:
                self._processed += 1
                self._consecutive = 0
                self._done_times.append(time.monotonic())
            self._latest = result
            for callback, value in ((self.on_result, result), (self.on_done, Done(result, meta))):
                if callback is not None:
                    try:
                        callback(value)
                    except Exception:
                        log.exception("result callback failed")

    def _failed(self, exc: Exception) -> bool:
        """Count a failed frame; True when the worker must give up."""
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        with self._cond:
            self._errors += 1
            self._consecutive += 1
            consecutive = self._consecutive
        if consecutive == 1:
            log.exception("engine: frame failed (%s); skipped", line)
        else:
            log.warning("engine: frame failed again (%d in a row): %s", consecutive, line)
        if consecutive >= self.max_consecutive_errors:
            backend = getattr(getattr(self.pipeline, "backend", None), "name", "engine")
            with self._cond:
                self._stopping = True
                if self._slot is not None:
                    self._slot = None
                    self._dropped += 1
            self._set_state(FAILED, f"{backend}: {consecutive} frames failed in a row: {line}")
            return True
        return False
