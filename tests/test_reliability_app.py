"""The app under faults the app tests do not cover: a disk that really fills up while
recording, a disk too full to start, and a backend that keeps failing at runtime. The
app shows the problem and stays usable; what was recorded stays playable."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import cv2  # sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")

from uniskel.engine.backends.base import Backend  # noqa: E402
from conftest import onnx_backend  # noqa: E402
from reliability_fakes import read_video, tmpfs  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def test_recording_onto_a_disk_that_fills_up(qtbot, tmp_path, monkeypatch):
    """A real 3 MB filesystem: the recorder stops before it is full, says so, and the MP4
    and the keypoint file hold the same frames."""
    from uniskel.app import recorder as recmod
    from uniskel.app.overlay import OverlayOptions
    from uniskel.engine.runtime.pipeline import FrameResult, Person

    disk = tmp_path / "small_disk"
    with tmpfs(disk, "3m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        monkeypatch.setattr("uniskel.engine.media.outputs.MIN_FREE_BYTES", 1024 * 1024)
        rec = recmod.Recorder()
        video, keypoints = rec.start(disk, 15.0, (320, 240), "jsonl", stem="clip")
        rng = np.random.default_rng(0)
        k = np.zeros((21, 3), np.float32)
        k[:, :2], k[:, 2] = (100, 100), 1.0
        with qtbot.waitSignal(rec.stopped, timeout=120000) as stopped:
            for i in range(1500):
                if not rec.active:
                    break
                frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
                result = FrameResult(i, i / 15.0, [Person(k, (50, 50, 150, 200), 1, 1.0)],
                                     {}, "x", (240, 320))
                rec.add(frame, result, OverlayOptions())
                time.sleep(0.005)  # the writer keeps up: frames are not dropped
            rec.stop("never filled up", wait=False)  # fail on the reason, not a timeout
        summary = stopped.args[0]
        assert summary.error and "full" in summary.reason
        n, shape = read_video(video)
        assert n == summary.frames > 0 and shape == (240, 320, 3)
        lines = [json.loads(x) for x in open(keypoints, encoding="utf-8")]
        assert len(lines) == 1 + summary.frames


def test_recording_refused_when_the_disk_is_already_full(qtbot, window, tmp_path):
    from uniskel.app.controllers.sources import sample_image

    disk = tmp_path / "tiny_disk"
    with tmpfs(disk, "300k") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        window.settings.record_folder = str(disk)
        assert window.open_path(str(sample_image()))
        qtbot.waitUntil(lambda: window.display.last_result is not None, timeout=10000)
        window.action["record"].setChecked(True)
        assert not window.recorder.active and not window.action["record"].isChecked()
        assert "free space" in window.last_error and "tiny_disk" in window.last_error
        assert "free space" in window.view.banner
        assert not list(disk.iterdir())  # no empty files left behind
        # and recording to a good folder still works afterwards
        window.settings.record_folder = str(tmp_path / "good")
        window.action["record"].setChecked(True)
        assert window.recorder.active
        window.action["record"].setChecked(False)
        qtbot.waitUntil(lambda: not window.recorder.active, timeout=30000)


class BreaksAfterWarmup(Backend):
    """Starts fine (warm-up passes), then every real frame fails, like a GPU that died."""

    def __init__(self, inner):
        self.inner = inner
        self.name = "breaks"
        self.description = "breaks after warm-up"
        self.input_size = inner.input_size
        self.provided = inner.provided
        self.calls = 0

    def infer(self, crops):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("CUDA error: an illegal memory access was encountered\n  at ...")
        return self.inner.infer(crops)


def test_a_backend_that_keeps_failing_is_shown_and_the_app_recovers(qtbot, window,
                                                                    random_onnx):
    from uniskel.app.controllers.sources import sample_image

    broken = {}

    def make():
        broken["b"] = BreaksAfterWarmup(onnx_backend(random_onnx))
        return broken["b"]

    shown = []
    window.error_shown.connect(shown.append)
    window.engine.load("breaks", factory=make)
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    assert window.open_path(str(sample_image()))
    qtbot.waitUntil(lambda: any("frames failed in a row" in m for m in shown), timeout=30000)
    msg = next(m for m in shown if "frames failed in a row" in m)
    assert msg.startswith("breaks:") and "CUDA error" in msg and "\n" not in msg
    calls = broken["b"].calls
    qtbot.wait(500)
    assert broken["b"].calls == calls  # given up on, not retried forever
    # the window keeps showing the source and takes another backend
    window.engine.load("onnx", factory=lambda: onnx_backend(random_onnx))
    qtbot.waitUntil(lambda: window.engine.running and window.engine.backend_name == "onnx",
                    timeout=20000)
    window.display.last_result = None
    qtbot.waitUntil(lambda: window.display.last_result is not None
                    and window.display.last_result[1] is not None, timeout=20000)
    assert window.view.has_frame()


@pytest.mark.parametrize("kind", ["empty", "truncated", "not_a_video", "camera"])
def test_unusable_source_is_shown_and_the_app_stays_usable(qtbot, window, tmp_path, kind):
    from uniskel.app.controllers.sources import sample_image
    from reliability_fakes import bad_videos

    if kind == "camera":
        spec, name = "camera:99", "camera 99"
    else:
        path, _ = bad_videos(tmp_path / "videos")[kind]
        spec, name = str(path), path.name
    shown = []
    window.error_shown.connect(shown.append)
    assert not window.open_path(spec)
    assert shown and name in shown[-1] and "\n" not in shown[-1]
    assert name in window.view.banner
    assert window.open_path(str(sample_image()))  # still usable
    qtbot.waitUntil(lambda: window.display.last_result is not None, timeout=10000)
    assert window.view.has_frame()


def test_recording_a_video_that_breaks_off_keeps_what_was_recorded(qtbot, window, tmp_path,
                                                                   random_onnx):
    from uniskel.engine.media.records import read_jsonl
    from reliability_fakes import write_video

    whole = write_video(tmp_path / "whole.avi", n=60, size=(160, 120), fourcc="MJPG")
    data = whole.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    window.engine.load("onnx", factory=lambda: onnx_backend(random_onnx))
    qtbot.waitUntil(lambda: window.engine.running, timeout=20000)
    window.sources.loop_box.setChecked(False)
    assert window.open_path(str(cut))
    qtbot.waitUntil(lambda: window.display.last_result is not None
                    and window.display.last_result[1] is not None, timeout=20000)
    with qtbot.waitSignal(window.recorder.stopped, timeout=30000) as stopped:
        window.action["record"].setChecked(True)
        assert window.recorder.active
    summary = stopped.args[0]
    assert summary.frames > 0 and not window.action["record"].isChecked()
    n, shape = read_video(summary.video)
    assert n == summary.frames and shape == (120, 160, 3)
    assert len(read_jsonl(summary.keypoints)[1]) == summary.frames
    assert window.open_path(str(whole))  # and the app carries on
