import os, time, json
import numpy as np
import pytest
import cv2
os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")
import shutil as _sh
V = os.environ.get("V", "")
if "timeout" in V:
    pytestmark = pytest.mark.timeout(300)
if "fakes" in V:
    import reliability_fakes  # noqa


def test_v(qtbot, tmp_path, monkeypatch):
    from app import recorder as recmod
    from app.overlay import OverlayOptions
    from engine.pipeline import FrameResult, Person
    disk = tmp_path / "d"
    disk.mkdir()
    if "fake" in V:
        real = _sh.disk_usage
        cnt = [0]
        class U: free = 0
        def du(p):
            cnt[0] += 1
            return U if cnt[0] > 2 else real(p)
        monkeypatch.setattr(recmod.shutil, "disk_usage", du)
    rec = recmod.Recorder()
    video, keypoints = rec.start(disk, 15.0, (320, 240), "jsonl", stem="clip")
    rng = np.random.default_rng(0)
    k = np.zeros((21, 3), np.float32)
    k[:, :2], k[:, 2] = (100, 100), 1.0
    with qtbot.waitSignal(rec.stopped, timeout=120000) as stopped:
        for i in range(40):
            if not rec.active:
                break
            frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
            result = FrameResult(i, i / 15.0, [Person(k, (50, 50, 150, 200), 1, 1.0)],
                                 {}, "x", (240, 320))
            rec.add(frame, result, OverlayOptions())
            time.sleep(0.005)
        if "stop" in V:
            rec.stop()
    summary = stopped.args[0]
    print(summary)
