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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from uniskel.engine import assets

    path = assets.shared_data()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


@pytest.fixture(scope="session")
def demo_video(shared_data) -> Path:
    path = shared_data / "videos" / "mmpose_demo.mp4"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def random_model():
    import torch

    from uniskel.engine.model import build

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
    from uniskel.engine.export_onnx import export_onnx

    model, _ = random_model
    return export_onnx(model, model_dir / "random_tiny.onnx", check=True)


def onnx_backend(path):
    """An ONNX backend on one thread (tests run beside other work)."""
    from uniskel.engine.backends import onnx
    return onnx.load(path, threads=1)


@pytest.fixture
def window(qtbot, tmp_path):
    """The real main window, settings in tmp, nothing loaded until the test says so."""
    from PySide6.QtCore import QSettings

    from uniskel.app.window import MainWindow
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(store=store, autoload=False)
    w.settings.record_folder = str(tmp_path / "out")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


@pytest.fixture(scope="session")
def lspet_crops(shared_data):
    """Three real LSPET person crops at 256 x 192, with the joints in crop px."""
    return make_lspet_crops(shared_data, (256, 192))


def make_lspet_crops(shared_data, size):
    """Three real LSPET person crops of ``size`` (h, w), with the joints in crop px."""
    import cv2
    import numpy as np
    import scipy.io

    from uniskel.engine import crop

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
