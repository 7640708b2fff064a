"""The live frame path: source packet -> engine worker (the packet rides with its frame)
-> processed(packet, result) for subscribers (the recorder) and the newest result for the
view -> painted(tag) from the view -> the dashboard."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import cv2  # noqa: F401 - sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")

from engine_fakes import BlobBackend  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def packet(frame, index, restart=False):
    from uniskel.app.capture import Packet
    return Packet(frame, index / 30.0, time.monotonic(), index, restart)


def person(x=60.0, y=40.0):
    from uniskel.engine.runtime.pipeline import Person
    k = np.zeros((21, 3), np.float32)
    k[:, 0] = np.linspace(x, x + 60, 21)
    k[:, 1] = np.linspace(y, y + 120, 21)
    k[:, 2] = 1.0
    return Person(k, (x, y, x + 60, y + 120), 7, 0.9)


def test_every_result_comes_back_with_its_own_frames_packet(qtbot, monkeypatch):
    """Frames submitted faster than the model runs: the ones that arrive while a frame is
    in progress are dropped (newest frame wins), and each result that comes out is paired
    with the packet of the frame it was computed on. The engine is held inside its first
    frame until all the others are submitted, so the drops do not depend on how fast
    this machine (or the detector on these blank frames) is."""
    from PySide6.QtCore import Qt

    import uniskel.engine.runtime.pipeline as pipeline_module
    from uniskel.app.engine_bridge import EngineBridge

    inside, release = threading.Event(), threading.Event()

    class Held(pipeline_module.Pipeline):
        """The live pipeline, held at the start of each frame until ``release``."""

        def process(self, frame, timestamp=None):
            inside.set()
            assert release.wait(30), "the test never released the engine"
            return super().process(frame, timestamp)

    monkeypatch.setattr(pipeline_module, "Pipeline", Held)  # what the bridge's loader builds
    bridge = EngineBridge("test")
    try:
        with qtbot.waitSignal(bridge.ready, timeout=30000):
            bridge.load("blob", factory=BlobBackend)
        assert isinstance(bridge._pipeline, Held)
        seen = []
        bridge.processed.connect(lambda p, r: seen.append((p, r)),
                                 Qt.ConnectionType.DirectConnection)
        packets = [packet(np.full((120, 160, 3), i, np.uint8), i) for i in range(40)]

        def feed():  # a source's thread: the rest arrive while the first is in progress
            bridge.submit(packets[0])
            if inside.wait(30):
                for p in packets[1:]:
                    bridge.submit(p)

        t = threading.Thread(target=feed)
        t.start()
        t.join()
        assert inside.is_set(), "the engine never started the first frame"
        release.set()

        def settled() -> bool:  # every frame processed or dropped, every result handed on
            s = bridge.stats()
            return s.processed + s.dropped == s.submitted == 40 and len(seen) == s.processed

        qtbot.waitUntil(settled, timeout=20000)
        stats = bridge.stats()
        # the first frame, then only the newest: the 38 in between replaced each other
        assert [p.index for p, _ in seen] == [0, 39]
        assert (stats.submitted, stats.processed, stats.dropped) == (40, 2, 38)
        for p, r in seen:
            assert r.frame is p.frame and r.timestamp == pytest.approx(p.timestamp)
            assert int(r.frame[0, 0, 0]) == p.index  # the pixels of that very frame
        latest = bridge.take_latest()
        assert latest[0] is packets[-1] and latest[1].frame is packets[-1].frame
    finally:
        release.set()
        bridge.shutdown()


def test_the_recorder_gets_results_through_its_subscription(qtbot, window, tmp_path):
    """processed(packet, result), emitted on an engine's thread, reaches the recorder on
    that same thread, and the record names the packet's frame number."""
    from uniskel.app.controllers.sources import sample_image
    from uniskel.engine.runtime.pipeline import FrameResult
    from uniskel.engine.media.records import read_jsonl

    assert window.open_path(str(sample_image()))
    qtbot.waitUntil(lambda: window.display.last_result is not None, timeout=10000)
    assert not window.engine.running  # no engine: nothing but what we emit gets recorded
    window.action["record"].setChecked(True)
    assert window.recorder.active
    threads = []
    real_add = window.recorder.add

    def add(*args):
        threads.append(threading.current_thread().name)
        real_add(*args)

    window.recorder.add = add
    frame = window.display.last_result[0].frame

    def engine_thread():
        result = FrameResult(5, 0.5, [person()], {"pose": 1.0}, "test", frame.shape[:2],
                             frame)
        for index in (1234, 1240):
            window.engine.processed.emit(packet(frame, index), result)

    t = threading.Thread(target=engine_thread, name="fake-engine-thread")
    t.start()
    t.join()
    assert threads == ["fake-engine-thread"] * 2
    with qtbot.waitSignal(window.recorder.stopped, timeout=30000) as stopped:
        window.action["record"].setChecked(False)
    summary = stopped.args[0]
    _, records = read_jsonl(summary.keypoints)
    assert [r["frame"] for r in records] == [1234, 1240]  # the source's numbers
    assert [len(r["people"]) for r in records] == [1, 1]


def test_a_painted_frame_feeds_the_dashboard(qtbot, window):
    """The view says when a frame is on screen (painted); the display controller turns
    that into the dashboard's capture-to-paint latency and the followed person."""
    from uniskel.engine.runtime.pipeline import FrameResult

    frame = np.zeros((240, 320, 3), np.uint8)
    p = packet(frame, 3)
    p.captured -= 0.040  # captured 40 ms ago
    result = FrameResult(3, 0.1, [person()], {"detect": 2.0, "pose": 5.0}, "test",
                         (240, 320), frame)
    assert window.dashboard.current() == {}
    with qtbot.waitSignal(window.view.painted, timeout=5000) as painted:
        window.view.set_frame(frame, result.people, tag=(p, result))
        window.view.repaint()
    assert painted.args[0][0] is p
    now = window.dashboard.current()
    assert now["latency_ms"] >= 40.0 and now["pose"] == 5.0
    assert window.dashboard.person == 7 and window.dashboard.people == 1
