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

from uniskel.engine.backends.base import Backend  # noqa: E402
from conftest import onnx_backend  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def packet(frame, index, restart=False):
    from uniskel.app.capture import Packet
    return Packet(frame, index / 30.0, time.monotonic(), index, restart)


def person(x=60.0, y=40.0):
    from uniskel.engine.pipeline import Person
    k = np.zeros((21, 3), np.float32)
    k[:, 0] = np.linspace(x, x + 60, 21)
    k[:, 1] = np.linspace(y, y + 120, 21)
    k[:, 2] = 1.0
    return Person(k, (x, y, x + 60, y + 120), 7, 0.9)


class Slow(Backend):
    """A real backend, slowed down so that the newest-frame-wins slot drops frames."""

    def __init__(self, inner, seconds):
        self.inner, self.seconds = inner, seconds
        self.name, self.description = "slow", "slow"
        self.input_size, self.provided = inner.input_size, inner.provided

    def infer(self, crops):
        time.sleep(self.seconds)
        return self.inner.infer(crops)


def test_every_result_comes_back_with_its_own_frames_packet(qtbot, random_onnx):
    """Frames submitted faster than the model runs: many are dropped, and each result
    that comes out is paired with the packet of the frame it was computed on."""
    from PySide6.QtCore import Qt

    from uniskel.app.engine_bridge import EngineBridge

    bridge = EngineBridge("test")
    with qtbot.waitSignal(bridge.ready, timeout=30000):
        bridge.load("slow", factory=lambda: Slow(onnx_backend(random_onnx), 0.05))
    seen = []
    bridge.processed.connect(lambda p, r: seen.append((p, r)), Qt.ConnectionType.DirectConnection)
    packets = [packet(np.full((120, 160, 3), i, np.uint8), i) for i in range(40)]

    def feed():  # a source's thread
        for p in packets:
            bridge.submit(p)
            time.sleep(0.005)

    t = threading.Thread(target=feed)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: seen and seen[-1][0] is packets[-1], timeout=20000)
    stats = bridge.stats()
    assert stats.dropped > 0 and len(seen) < len(packets)
    for p, r in seen:
        assert r.frame is p.frame and r.timestamp == pytest.approx(p.timestamp)
    latest = bridge.take_latest()
    assert latest[0] is packets[-1] and latest[1].frame is packets[-1].frame
    bridge.shutdown()


def test_the_recorder_gets_results_through_its_subscription(qtbot, window, tmp_path):
    """processed(packet, result), emitted on an engine's thread, reaches the recorder on
    that same thread, and the record names the packet's frame number."""
    from uniskel.app.controllers.sources import sample_image
    from uniskel.engine.pipeline import FrameResult
    from uniskel.engine.records import read_jsonl

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
    from uniskel.engine.pipeline import FrameResult

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
