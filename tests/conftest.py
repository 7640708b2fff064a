"""Shared test fixtures: real data paths, and a small randomly initialised model.

The random model is for tests only (shape, plumbing and parity checks); the product
never ships random weights. Fixtures:

* ``shared_data``       -- Path of the real datasets (skips when absent)
* ``demo_video``        -- videos/mmpose_demo.mp4 (5 frames, 960x540)
* ``random_model``      -- (PoseNet, ModelConfig), seed 0, eval mode
* ``random_checkpoint`` -- a uniskel .pt checkpoint of it (session scoped)
* ``random_onnx``       -- the same weights exported to .onnx, checked in onnxruntime
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# opencv-contrib-python (pulled in by mediapipe) points Qt at its own plugins on import;
# import it once here and undo that, so every Qt test uses PySide6's plugins.
import cv2  # noqa: E402,F401

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)


#: what the tests read from the real data (``../shared/data``); their skips name these
SHARED_DATA_NEEDS = ("format_samples", "coco_mini/annotations", "coco_mini/train2017",
                     "coco128/images", "lspet/joints.mat", "lspet/images",
                     "videos/mmpose_demo.mp4")


def on_ci() -> bool:
    """CI=true (as CI services set it): missing real data fails the run, never skips."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_shared_data() -> list[Path]:
    from uniskel.engine import assets

    root = assets.shared_data()
    if not root.is_dir():
        return [root]
    return [root / need for need in SHARED_DATA_NEEDS if not (root / need).exists()]


def pytest_configure(config):
    """On CI, a checkout without the real data fails at once, in one line, instead of
    skipping the ~120 tests that read it (and passing green). Elsewhere they skip."""
    if on_ci():
        missing = missing_shared_data()
        if missing:
            raise pytest.UsageError(
                f"CI=true, but the real data the tests read is missing: "
                f"{', '.join(map(str, missing))} (put the shared data at ../shared/data "
                f"beside the repository, or unset CI to skip those tests)")


def skip_or_fail(reason: str):
    """Skip a test that needs something absent; on CI (``on_ci``) fail it instead."""
    if on_ci():
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from uniskel.engine import assets

    path = assets.shared_data()
    if not path.is_dir():
        skip_or_fail(f"real data not found at {path}")
    return path


@pytest.fixture(scope="session")
def demo_video(shared_data) -> Path:
    path = shared_data / "videos" / "mmpose_demo.mp4"
    if not path.is_file():
        skip_or_fail(f"{path} missing")
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def random_model():
    import torch

    from uniskel.engine.models.model import build

    torch.manual_seed(0)
    model = build("tiny").eval()
    return model, model.cfg


@pytest.fixture(scope="session")
def random_checkpoint(random_model, model_dir) -> Path:
    import torch

    model, cfg = random_model
    path = model_dir / "random_tiny.pt"
    torch.save({"config": cfg.to_dict(), "state_dict": model.state_dict(),
                "meta": {"note": "random init, tests only"}}, path)
    return path


@pytest.fixture(scope="session")
def random_onnx(random_model, model_dir) -> Path:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from uniskel.engine.models.export_onnx import export_onnx

    model, _ = random_model
    return export_onnx(model, model_dir / "random_tiny.onnx", check=True)


def onnx_backend(path):
    """An ONNX backend on one thread (tests run beside other work)."""
    from uniskel.engine.backends import onnx
    return onnx.load(path, threads=1)


#: how long a window's engine threads (the availability look, loaders, stoppers) may
#: take to end once it is closed; a stuck one fails its test instead of hanging the run
ENGINE_THREADS_S = 60.0


@pytest.fixture(scope="session")
def engine_imports():
    """What a window's engine threads import (the backend list and what it looks at, the
    worker and pipeline modules, mediapipe), imported once here on the main thread, so
    no thread ever imports a module (or loads a native library) at the same time as
    the main thread or another thread does: concurrent first imports of native
    extensions can deadlock, and mediapipe's is not thread-safe."""
    from uniskel.app import engine_bridge
    from uniskel.engine import backends  # noqa: F401
    from uniskel.engine.runtime import pipeline, worker

    backends.available()
    engine_bridge._preimport_mediapipe()


@pytest.fixture
def window(qtbot, tmp_path, engine_imports):
    """The real main window, settings in tmp, nothing loaded until the test says so.

    It is handed over settled: the engine's look at the available backends (a thread
    it starts when it opens) is done and shown, so that thread never overlaps the
    test or its other fixtures. When the test ends, the window is closed and every
    engine thread it started is joined (bounded), so none runs on into the next test."""
    from PySide6.QtCore import QSettings

    from uniskel.app import engine_bridge
    from uniskel.app.window import MainWindow

    leftover = not engine_bridge.wait_for_background(ENGINE_THREADS_S)
    assert not leftover, "engine threads of an earlier test are still running"
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(store=store, autoload=False)
    w.settings.record_folder = str(tmp_path / "out")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.engines.availability), timeout=int(ENGINE_THREADS_S * 1000))
    yield w
    w.close()
    ended = engine_bridge.wait_for_background(ENGINE_THREADS_S)
    # a loader that finished after the close started nothing (its generation is stale);
    # shutting down again joins any worker all the same
    w.engine.shutdown()
    w.compare_engine.shutdown()
    if not ended:
        import threading
        names = sorted(t.name for t in threading.enumerate() if t.is_alive())
        pytest.fail(f"engine threads still running {ENGINE_THREADS_S:.0f} s after the window "
                    f"closed: {', '.join(names)}", pytrace=False)


@pytest.fixture(scope="session")
def lspet_crops(shared_data):
    """Three real LSPET person crops at 256 x 192, with the joints in crop px."""
    return make_lspet_crops(shared_data, (256, 192))


def make_lspet_crops(shared_data, size):
    """Three real LSPET person crops of ``size`` (h, w), with the joints in crop px."""
    import cv2
    import numpy as np
    import scipy.io

    from uniskel.engine.runtime import crop

    joints = scipy.io.loadmat(shared_data / "lspet" / "joints.mat")["joints"]
    crops, gts = [], []
    for k in (0, 1, 3):
        img = cv2.cvtColor(cv2.imread(str(shared_data / "lspet" / "images" / f"im{k + 1:05d}.jpg")),
                           cv2.COLOR_BGR2RGB)
        j = joints[:, :, k]
        vis = j[:, 2] > 0
        box = (*j[vis, :2].min(0), *j[vis, :2].max(0))
        c, s = crop.box_to_center_scale(box, size)
        m = crop.warp_matrix(c, s, size)
        crops.append(crop.crop(img, m, size))
        gt = np.concatenate([crop.apply(m, j[:, :2]), j[:, 2:3]], 1)
        gts.append(gt)
    return np.stack(crops), np.stack(gts)


def error_line(capsys, command: str) -> str:
    """The one line the CLI printed to stderr; fails on a traceback or extra lines."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"uniskel {command}: error: "), lines[0]
    return lines[0]


@pytest.fixture
def blob_engine(monkeypatch):
    """A fast fake model and the window-search detector: the outputs are the subject."""
    from engine_fakes import BlobBackend
    from uniskel.engine.runtime.detector import SearchDetector

    monkeypatch.setattr("uniskel.engine.backends.create", lambda *a, **k: BlobBackend())
    monkeypatch.setattr("uniskel.engine.runtime.detector.create",
                        lambda name="auto", people=1: SearchDetector())
