"""Qt signals around engine.runtime.worker.EngineWorker: one bridge per model shown on screen.

Sources call ``submit(packet)`` from their own threads; it never blocks (the worker
keeps only the newest frame, and carries the packet with it, so each result comes back
with its own frame's capture time and number). Results arrive on the worker thread:

* ``processed(packet, result)`` is emitted there for every processed frame, for
  subscribers that want them all (the recorder, connected with a direct connection so
  it is fed on the worker thread and never waits for the GUI);
* the GUI gets ``result_ready`` and pulls only the newest with ``take_latest()``, so a
  slow GUI never queues up old frames.

Backends load in a background thread, so a slow start (TensorRT builds an engine) never
freezes the window.
"""
from __future__ import annotations

import importlib.util
import logging
import threading

from PySide6.QtCore import QObject, Signal

from uniskel.engine.backends import LABELS

log = logging.getLogger(__name__)

BACKEND_LABELS = LABELS  # the window's backend menu: derived from engine.backends


_IMPORT_LOCK = threading.Lock()
_background: set[threading.Thread] = set()  # loaders, stoppers, the availability look
_background_lock = threading.Lock()


def _spawn(target, *args, name: str) -> None:
    """Run ``target(*args)`` in a daemon thread that ``wait_for_background`` can join."""
    def run():
        try:
            target(*args)
        finally:
            with _background_lock:
                _background.discard(threading.current_thread())

    thread = threading.Thread(target=run, daemon=True, name=name)
    with _background_lock:
        _background.add(thread)
    thread.start()


def wait_for_background(timeout: float = 10.0) -> bool:
    """Join the bridges' background threads, ``timeout`` seconds at most in all; True if
    none is left. The demo calls this before its process ends: a thread still inside
    native code (an ONNX Runtime session being built, mediapipe starting its graph)
    while the process runs its exit handlers can abort it ("terminate called without an
    active exception")."""
    import time
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        with _background_lock:
            left = [t for t in _background if t.is_alive()]
        if not left:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log.warning("still running at exit: %s", ", ".join(t.name for t in left))
            return False
        left[0].join(min(remaining, 0.5))


def _preimport_mediapipe() -> None:
    """mediapipe's first import is not thread-safe: two threads importing it at once (the
    compare lane's backend and the other lane's person detector) leave a half-initialised
    module that fails for the rest of the run. Import it once, under a lock, before any
    engine thread can touch it."""
    with _IMPORT_LOCK:
        if importlib.util.find_spec("mediapipe") is None:
            return
        try:
            import mediapipe.python.solution_base  # noqa: F401 - the detector's graph
            import mediapipe.python.solutions.pose  # noqa: F401 - the mediapipe backend
        except Exception:  # noqa: BLE001 - the backend or detector reports it in one line
            log.warning("mediapipe failed to import", exc_info=True)


class _Relay(QObject):
    """Carries a value from any thread to a callable in the GUI thread."""

    fire = Signal(object)


_relays: list[_Relay] = []


def backend_availability(callback) -> None:
    """Call ``callback({name: None or reason})`` in the GUI thread once the engine has
    looked (importing torch/TensorRT can take seconds, so it looks in a thread)."""
    relay = _Relay()
    _relays.append(relay)

    def done(value):
        _relays.remove(relay)
        relay.deleteLater()
        callback(value)

    relay.fire.connect(done)

    def look():
        try:
            from uniskel.engine import backends
            out = dict(backends.available())
            student = [n for n in backends.AUTO_ORDER if out.get(n) is None]
            out["auto"] = None if student else "no student backend can run here"
        except Exception as exc:  # noqa: BLE001 - report, never crash the window
            out = {name: f"engine unavailable: {exc}" for name in BACKEND_LABELS}
        try:
            relay.fire.emit(out)
        except RuntimeError:  # the window (and the relay with it) closed while we looked
            pass

    _spawn(look, name="backend-availability")


class _Lane:
    """What the worker runs: the pipeline, taking up the bridge's people cap between frames
    (on the worker thread, so it never changes under a frame in progress)."""

    def __init__(self, bridge: "EngineBridge", pipeline):
        self.bridge, self.pipeline = bridge, pipeline
        self.backend = pipeline.backend

    def reset(self):
        self.pipeline.reset()

    def process(self, frame, timestamp):
        if self.pipeline.max_people != self.bridge.max_people:
            self.pipeline.set_max_people(self.bridge.max_people)
        return self.pipeline.process(frame, timestamp)


class EngineBridge(QObject):
    result_ready = Signal()   # take_latest() has something new
    processed = Signal(object, object)  # (packet, FrameResult), every frame, worker thread
    ready = Signal(str)       # a backend is running: its description
    failed = Signal(str)      # loading or running a backend failed: one line
    problem = Signal(str)     # something worth telling the user, the engine keeps going

    def __init__(self, label: str = "student", parent=None):
        super().__init__(parent)
        self.label = label
        self.requested = ""
        self.max_people = 1           # people tracked; the worker picks a change up per frame
        self.backend_name = ""
        self.description = ""
        self.model_path = None        # the model file the running pipeline was loaded from
        self._lock = threading.Lock()
        self._worker = None
        self._pipeline = None
        self._generation = 0
        self._latest = None
        self._notified = False
        self.last_total_ms = 0.0

    # --- backends ----------------------------------------------------------------------
    def load(self, name: str, model_path=None, factory=None) -> None:
        """Start loading a backend in the background; the current one runs until then.
        ``factory``: a callable returning a ready Backend, instead of engine.backends."""
        with self._lock:
            self._generation += 1
            generation = self._generation
        self.requested = name
        _spawn(self._load, name, model_path, generation, factory,
               name=f"load-{self.label}-{name}")

    def _load(self, name, model_path, generation, factory=None):
        from uniskel.engine import backends
        from uniskel.engine.errors import UniskelError
        from uniskel.engine.runtime.pipeline import LIVE_FPS, Pipeline
        from uniskel.engine.runtime.worker import EngineWorker
        _preimport_mediapipe()
        try:
            backend = factory() if factory is not None else backends.create(name, model_path)
            backend.warmup()
            # live: with many people, some are inferred each frame to hold LIVE_FPS
            pipeline = Pipeline(backend, smoothing=True, max_people=self.max_people,
                                target_fps=LIVE_FPS)
        except UniskelError as exc:
            if generation == self._generation:
                self.failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is still one line
            log.exception("loading backend %s failed", name)
            if generation == self._generation:
                self.failed.emit(f"{name}: failed to start ({type(exc).__name__}: {exc})")
            return
        with self._lock:
            stale = generation != self._generation
        if stale:  # another load was asked for meanwhile
            _close_pipeline(pipeline)
            return
        worker = EngineWorker(_Lane(self, pipeline), on_done=self._on_done,
                              on_state=self._on_state, name=f"uniskel-engine-{self.label}")
        worker.start()
        with self._lock:
            old_worker, old_pipeline = self._worker, self._pipeline
            self._worker, self._pipeline = worker, pipeline
            self.backend_name = backend.name
            self.description = getattr(backend, "description", "") or backend.name
            self.model_path = model_path
        self.ready.emit(self.description)
        if old_worker is not None:
            old_worker.stop()
            _close_pipeline(old_pipeline)

    def unload(self) -> None:
        with self._lock:
            self._generation += 1
            worker, pipeline = self._worker, self._pipeline
            self._worker = self._pipeline = None
            self.backend_name = self.description = ""
            self.model_path = None
            self._latest = None
        if worker is not None:
            def stop():
                worker.stop()
                _close_pipeline(pipeline)
            _spawn(stop, name=f"stop-{self.label}")

    def shutdown(self) -> None:
        """Stop the worker and wait for it (closing the window)."""
        with self._lock:
            self._generation += 1
            worker, pipeline = self._worker, self._pipeline
            self._worker = self._pipeline = None
        if worker is not None:
            worker.stop(timeout=5.0)
            _close_pipeline(pipeline)

    @property
    def running(self) -> bool:
        w = self._worker
        return w is not None and w.state == "running"

    def stats(self):
        w = self._worker
        return w.stats() if w is not None else None

    @property
    def short_name(self) -> str:
        return BACKEND_LABELS.get(self.backend_name, self.backend_name)

    def speed_caption(self) -> str:
        """Two lines for the view: which backend, and how fast it runs."""
        s = self.stats()
        if s is None or not self.backend_name:
            return ""
        if not s.processed:
            return self.short_name
        return (f"{self.short_name}\n"
                f"{self.last_total_ms:.1f} ms per frame, {s.fps:.1f} fps")

    def reset(self) -> None:
        """Forget tracked people before the next frame (a new source)."""
        with self._lock:
            worker = self._worker
            self._latest = None
        if worker is not None:
            worker.reset()

    # --- frames --------------------------------------------------------------------------
    def submit(self, packet) -> None:
        """Any thread; never blocks. The packet travels with its frame through the worker
        and comes back with the result (``processed``, ``take_latest``)."""
        worker = self._worker
        if worker is not None and worker.submit(packet.frame, packet.timestamp, meta=packet,
                                                restart=packet.restart):
            return
        self._deliver(packet, None)  # no engine yet: show the frame as it is

    def _on_done(self, done) -> None:  # the worker thread
        packet, result = done.meta, done.result
        self.last_total_ms = result.total_ms
        self.processed.emit(packet, result)
        self._deliver(packet, result)

    def _deliver(self, packet, result) -> None:
        with self._lock:
            self._latest = (packet, result)
            notify = not self._notified
            self._notified = True
        if notify:
            self.result_ready.emit()

    def take_latest(self):
        """GUI thread: the newest (packet, FrameResult or None), or None."""
        with self._lock:
            item, self._latest = self._latest, None
            self._notified = False
        return item

    def _on_state(self, state, reason) -> None:
        if state == "failed":
            self.failed.emit(reason or f"{self.backend_name}: stopped")


def _close_pipeline(pipeline) -> None:
    if pipeline is None:
        return
    for close in (getattr(pipeline, "close", None),
                  getattr(getattr(pipeline, "backend", None), "close", None)):
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.exception("closing the pipeline failed")
