"""`uniskel demo` end to end: the real window, closed after a few seconds, with a screenshot."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # remembered settings stay in tmp
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # and caches (a TensorRT engine)
    env["UNISKEL_CACHE"] = str(tmp_path / "cache" / "uniskel")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def test_demo_quits_after_seconds_and_saves_a_screenshot(tmp_path):
    from uniskel.app.controllers.sources import sample_video

    # the bundled sample, named: without --source the demo opens a webcam where there is one
    sample = sample_video()
    assert sample.is_file(), sample
    shot = tmp_path / "x.png"
    proc = subprocess.run(
        [sys.executable, "-m", "uniskel", "demo", "--source", str(sample), "--quit-after", "3",
         "--screenshot", str(shot)],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 10  # not blank: the frame, the controls and the plots
    # the centre of the view shows the sample video, not the dark empty background
    h, w = image.shape[:2]
    centre = image[h // 3: 2 * h // 3, w // 8: w // 3]
    assert centre.std() > 10


def test_demo_with_an_unreadable_source_reports_it_and_still_runs(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"garbage" * 500)
    shot = tmp_path / "y.png"
    proc = subprocess.run(
        [sys.executable, "-m", "uniskel", "demo", "--source", str(bad), "--backend", "cpu",
         "--quit-after", "1.5", "--screenshot", str(shot)],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "broken.mp4" in proc.stderr and "Traceback" not in proc.stderr
    assert np.asarray(cv2.imread(str(shot))).std() > 5


def _signals_as_default():
    """In the child before it runs: the signals these tests send at their default
    disposition, whatever the test run inherited (``nohup`` ignores SIGHUP, and uniskel
    rightly leaves an ignored signal ignored)."""
    import signal
    for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_demo_stopped_by_a_signal_closes_the_window_as_quit_does(tmp_path, signame, code):
    """A logout, `kill` or Ctrl+C while the window runs: it closes as its Quit does
    (recordings finished, settings saved) and exits 128 + the signal with one line."""
    import signal
    import time

    from uniskel.app.controllers.sources import sample_video

    env = _env(tmp_path)
    env["UNISKEL_STARTUP_REPORT"] = f"{time.time():.6f}"  # says when the first frame is painted
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "uniskel_entry.py"), "demo", "--source",
         str(sample_video()), "--quit-after", "300"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
        preexec_fn=_signals_as_default)  # under nohup SIGHUP comes ignored, and stays so
    try:
        lines = []
        for line in proc.stderr:  # the window is up and its event loop runs
            lines.append(line)
            if "first frame painted" in line:
                break
        assert lines and "first frame painted" in lines[-1], "".join(lines)
        proc.send_signal(getattr(signal, signame))
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == code, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in rest
    said = [line for line in rest.splitlines()  # the startup report's later lines aside
            if line.strip() and "after launch" not in line]
    assert said == [f"uniskel demo: interrupted by {signame}; the window closed as on quit "
                    f"(recordings finished)"], rest
    assert list((tmp_path / "config").rglob("*.conf")), "the window did not save its settings"
