"""The main window with a real model (random weights, tests only) on the bundled sample."""
from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

import cv2  # sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")

from uniskel.engine.backends.base import Backend  # noqa: E402
from conftest import onnx_backend  # noqa: E402


class HeldBackend(Backend):
    """A real backend that stays inside its first frame until the test releases it (as
    a heavy model on a weak machine, for exactly as long as the test needs)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = "held"
        self.description = "held (until released)"
        self.input_size = inner.input_size
        self.provided = inner.provided
        self.inside, self.release = threading.Event(), threading.Event()
        self.calls = self.returned = 0
        self.threads = set()

    def warmup(self, batch: int = 1) -> None:  # the loader's, before any frame: not held
        self.inner.warmup(batch)

    def infer(self, crops):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.inside.set()
        self.release.wait(30)
        out = self.inner.infer(crops)
        self.returned += 1
        return out


def test_slow_backend_keeps_the_window_responsive(qtbot, window, random_onnx):
    """While the model is busy on a frame, the GUI still runs (timers fire) and the frames
    that arrive meanwhile are dropped, newest wins. The model is held inside its frame
    until the test has seen that, so no stopwatch (and no load on the machine) decides."""
    from PySide6.QtCore import QTimer
    from uniskel.app.controllers.sources import sample_video
    held = {}

    def make():
        held["b"] = HeldBackend(onnx_backend(random_onnx))
        return held["b"]

    window.engine.load("held", factory=make)
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    backend = held["b"]
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(backend.returned))
    try:
        assert window.open_path(str(sample_video()))
        qtbot.waitUntil(backend.inside.is_set, timeout=20000)  # the astronaut, found
        timer.start(20)
        qtbot.waitUntil(lambda: (len(ticks) >= 10
                                 and getattr(window.engine.stats(), "dropped", 0) >= 1),
                        timeout=20000)
        timer.stop()
        # every tick came while the model was still inside that one frame: had it run
        # in the GUI thread, no tick could have fired before it returned
        assert set(ticks) == {0} and backend.calls == 1
    finally:
        backend.release.set()
    assert "MainThread" not in backend.threads
    # released, frames flow again (a frame may take two calls: a second look at a
    # person the random model reads as turned)
    qtbot.waitUntil(lambda: window.engine.stats().processed >= 2
                    and window.view.frames_painted >= 1, timeout=20000)
    assert backend.returned >= 2


def test_unreadable_file_shows_an_error_and_the_app_stays_usable(qtbot, window, tmp_path,
                                                                 random_onnx):
    from uniskel.app.controllers.sources import sample_image
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    shown = []
    window.error_shown.connect(shown.append)
    assert not window.open_path(str(bad))
    assert shown and "broken.mp4" in shown[-1]
    assert "broken.mp4" in window.view.banner  # said on screen, not only in a log
    assert not window.open_path(str(tmp_path / "missing.mp4"))
    assert "missing.mp4" in window.last_error
    # still usable: a good source and a model work afterwards
    window.engine.load("onnx", factory=lambda: onnx_backend(random_onnx))
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    assert window.open_path(str(sample_image()))
    qtbot.waitUntil(lambda: window.display.last_result is not None
                    and window.display.last_result[1] is not None, timeout=20000)
    assert window.view.has_frame()


def test_recording_the_sample_gives_a_playable_video_and_matching_keypoints(
        qtbot, window, tmp_path, random_onnx):
    from uniskel.engine.media.records import read_jsonl
    from uniskel.app.controllers.sources import sample_video
    window.engine.load("onnx", factory=lambda: onnx_backend(random_onnx))
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    window.sources.loop_box.setChecked(False)
    assert window.open_path(str(sample_video()))
    qtbot.waitUntil(lambda: window.display.last_result is not None
                    and window.display.last_result[1] is not None, timeout=20000)
    from PySide6.QtCore import Qt
    processed = []  # what the engine handed its subscribers, by source frame number
    window.engine.processed.connect(lambda p, r: processed.append(p.index),
                                    Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(window.recorder.stopped, timeout=30000) as stopped:
        window.action["record"].setChecked(True)
        assert window.recorder.active
    summary = stopped.args[0]
    assert summary.reason == "source ended" and not summary.error
    assert not window.action["record"].isChecked()
    assert summary.frames > 10

    cap = cv2.VideoCapture(summary.video)
    n, size = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, size = n + 1, frame.shape[:2]
    cap.release()
    assert n == summary.frames
    assert size == (400, 400)  # the sample's own resolution, not the window's
    header, records = read_jsonl(summary.keypoints)
    assert len(records) == summary.frames
    assert header["fps"] == pytest.approx(15.0)
    assert all(len(p["keypoints"]) == 21 for r in records for p in r["people"])
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames)
    assert set(frames) <= set(processed)  # each record is a result the engine handed over


def test_recording_to_an_unwritable_folder_says_why(qtbot, window, tmp_path):
    from uniskel.app.controllers.sources import sample_image
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    window.settings.record_folder = str(blocker / "videos")
    assert window.open_path(str(sample_image()))
    qtbot.waitUntil(lambda: window.display.last_result is not None, timeout=10000)
    window.action["record"].setChecked(True)
    assert not window.recorder.active
    assert not window.action["record"].isChecked()
    assert "a_file" in window.last_error


def test_write_error_mid_recording_keeps_a_playable_file(qtbot, tmp_path, monkeypatch):
    """Disk full after 5 frames: recording stops with a message, the MP4 still plays."""
    from uniskel.engine.media import records
    from uniskel.engine.runtime.pipeline import FrameResult, Person
    from uniskel.app.overlay import OverlayOptions
    from uniskel.app.recorder import Recorder

    real_write = records.KeypointWriter.write

    def failing_write(self, result):
        if self.frames >= 5:
            raise OSError(28, "No space left on device")
        real_write(self, result)

    monkeypatch.setattr(records.KeypointWriter, "write", failing_write)
    rec = Recorder()
    video, keypoints = rec.start(tmp_path, 15.0, (64, 48), "jsonl", stem="clip")
    k = np.zeros((21, 3), np.float32)
    k[:, :2], k[:, 2] = (20, 20), 1.0
    with qtbot.waitSignal(rec.stopped, timeout=10000) as stopped:
        for i in range(20):
            frame = np.full((48, 64, 3), i * 10, np.uint8)
            result = FrameResult(i, i / 15.0, [Person(k, (0, 0, 40, 40), 1, 1.0)], {}, "x",
                                 (48, 64))
            rec.add(frame, result, OverlayOptions())
            time.sleep(0.01)
    summary = stopped.args[0]
    assert summary.error and "No space left" in summary.reason
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == summary.frames == 5
    lines = [json.loads(x) for x in open(keypoints, encoding="utf-8")]
    assert len(lines) == 1 + 5


def test_missing_model_falls_back_to_mediapipe(qtbot, tmp_path, monkeypatch):
    from uniskel.engine.backends import mediapipe as mp_backend
    if mp_backend.unavailable():
        pytest.skip(mp_backend.unavailable())
    from PySide6.QtCore import QSettings
    from uniskel.engine import assets
    from uniskel.app.window import MainWindow
    monkeypatch.setattr(assets, "default_model", lambda: tmp_path / "none.pt")
    monkeypatch.setattr(assets, "default_onnx", lambda: tmp_path / "none.onnx")
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    store.setValue("backend", "auto")  # the user chose the student
    w = MainWindow(store=store)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.engine.ready, timeout=60000):
        pass
    assert "no model bundled" in w.last_error and "MediaPipe" in w.last_error
    assert w.engine.backend_name == "mediapipe"
    assert w.engines.combo.currentData() == "mediapipe"
    w.close()


def test_presenter_mode_hides_chrome_and_shows_a_large_status(qtbot, window):
    from PySide6.QtCore import Qt
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.view, Qt.Key.Key_F11)
    assert window.isFullScreen()
    assert not window.menuBar().isVisible() and not window.dock.isVisible()
    assert window.view.large_text and window.view.status
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    assert window.help.isVisible()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.help.isVisible() and window.isFullScreen()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.isFullScreen() and window.menuBar().isVisible()


def test_backend_picker_greys_out_unavailable_backends_with_the_reason(qtbot, window):
    from uniskel.engine import backends
    available = backends.available()
    qtbot.waitUntil(lambda: bool(window.engines.availability), timeout=30000)
    model = window.engines.combo.model()
    for row in range(window.engines.combo.count()):
        name = window.engines.combo.itemData(row)
        if name == "auto":
            continue
        item = model.item(row)
        assert item.isEnabled() == (available[name] is None), name
        if available[name] is not None:
            assert item.toolTip() == available[name]


def test_snapshot_saves_the_annotated_frame(qtbot, window, tmp_path):
    from uniskel.app.controllers.sources import sample_image
    assert window.recording.snapshot() is None and "nothing to save" in window.last_error
    assert window.open_path(str(sample_image()))
    qtbot.waitUntil(lambda: window.display.last_result is not None, timeout=10000)
    path = window.recording.snapshot()
    image = cv2.imread(str(path))
    assert image is not None and image.shape[:2] == (512, 512)  # the frame, full size


def test_dropping_a_file_opens_it(qtbot, window):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from uniskel.app.controllers.sources import sample_image
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_image()))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.sources.label == str(sample_image())
    qtbot.waitUntil(lambda: window.view.has_frame(), timeout=10000)
    # the source picker names what is playing, not what played before
    assert window.sources.combo.currentData() == str(sample_image())


def test_source_picker_shows_a_file_opened_from_outside_the_list(qtbot, window, demo_video):
    assert window.open_path(str(demo_video))
    assert window.sources.combo.currentData() == str(demo_video)
    assert window.sources.combo.currentText() == demo_video.name


def test_lost_camera_is_reported_on_screen(qtbot, window):
    """A camera that is not (or no longer) there: the window says so and keeps running."""
    from uniskel.app.capture import Cv2Source, QtCameraSource, multimedia_error
    sources = [Cv2Source(97)]
    if multimedia_error() is None:
        sources.append(QtCameraSource("Test camera", b"/dev/no-such-camera"))
    for src in sources:
        src.lost.connect(window.sources.on_lost)
        with qtbot.waitSignal(src.lost, timeout=10000) as lost:
            src.start()
        assert "waiting" in lost.args[0]
        assert window.view.banner == lost.args[0]
        qtbot.wait(50)  # the event loop still runs
        src.stop()
        window.sources.on_restored()
        assert window.view.banner == ""


def test_compare_view_runs_mediapipe_beside_the_student(qtbot, window, random_onnx):
    from uniskel.engine.backends import mediapipe as mp_backend
    if mp_backend.unavailable():
        pytest.skip(mp_backend.unavailable())
    from uniskel.app.controllers.sources import sample_image
    window.engine.load("onnx", factory=lambda: onnx_backend(random_onnx))
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    assert window.open_path(str(sample_image()))
    window.engines.set_compare_with("mediapipe")
    window.action["compare"].setChecked(True)
    assert window.compare_view.isVisible()
    qtbot.waitUntil(lambda: window.compare_engine.running, timeout=30000)
    qtbot.waitUntil(lambda: getattr(window.compare_engine.stats(), "processed", 0) > 0,
                    timeout=30000)
    qtbot.waitUntil(lambda: window.compare_view.frames_painted > 0, timeout=20000)
    window.update_status()
    assert "MediaPipe" in window.compare_view.title and "ms per frame" in window.compare_view.title
    assert "ONNX" in window.view.title
    window.action["compare"].setChecked(False)
    assert not window.compare_view.isVisible()


def test_background_threads_are_joined_before_the_demo_exits():
    """The demo waits (bounded) for backend loaders still in native code before it ends."""
    import threading

    from uniskel.app import engine_bridge

    release = threading.Event()
    engine_bridge._spawn(release.wait, 30.0, name="test-slow-loader")
    assert not engine_bridge.wait_for_background(0.2)  # still running: bounded, says so
    release.set()
    assert engine_bridge.wait_for_background(5.0)


def test_compare_view_runs_movenet_and_switches_between_variants(qtbot, window, random_onnx):
    """MoveNet (the default comparison) beside the student; Thunder instead of Lightning
    from the menu, remembered in the settings."""
    from uniskel.app.controllers.sources import sample_image
    window.engine.load("onnx", factory=lambda: onnx_backend(random_onnx))
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    assert window.open_path(str(sample_image()))
    assert window.settings.compare_with == "movenet:lightning"
    window.action["compare"].setChecked(True)
    qtbot.waitUntil(lambda: "lightning" in window.compare_engine.description, timeout=30000)
    window.action["compare_movenet:thunder"].setChecked(True)
    qtbot.waitUntil(lambda: "thunder" in window.compare_engine.description, timeout=30000)
    qtbot.waitUntil(lambda: window.compare_view.frames_painted > 0, timeout=20000)
    assert window.settings.compare_with == "movenet:thunder"
    window.action["compare"].setChecked(False)


def test_an_odd_video_says_so_in_the_status_bar(qtbot, window, tmp_path):
    """A file whose frame rate is implausible plays at an assumed rate, and the window
    says so once (the same line ``uniskel infer`` prints as a warning)."""
    from test_reliability_values import implausible_fps_avi

    path = implausible_fps_avi(tmp_path / "odd_rate.avi")
    assert window.open_path(str(path))
    qtbot.waitUntil(lambda: "timestamps assume" in window.statusBar().currentMessage(),
                    timeout=20000)
    assert str(path) in window.statusBar().currentMessage()
