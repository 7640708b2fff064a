"""The blaze_* student starts from MediaPipe's published BlazePose landmark weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from uniskel.engine import skeleton
from uniskel.engine.models.model import build

# LSP joint index -> unified name, for joints whose definitions agree across datasets
PAIRS = [(8, "right_shoulder"), (9, "left_shoulder"), (2, "right_hip"), (3, "left_hip"),
         (6, "right_wrist"), (11, "left_wrist"), (0, "right_ankle"), (5, "left_ankle")]


def _keypoints(model, crops):
    from uniskel.training.evaluate import model_predict_fn
    return model_predict_fn(model)(crops)


def _median_errors(kpts, gts):
    return [np.median([np.linalg.norm(gts[n, a, :2] - kpts[n, skeleton.INDEX[b], :2])
                       for a, b in PAIRS if gts[n, a, 2] > 0]) for n in range(len(gts))]


def test_imported_blazepose_weights_find_real_joints(lspet_crops):
    pytest.importorskip("tflite")
    pytest.importorskip("mediapipe")
    from uniskel.training.blazepose_init import bundled_full_model, load_blazepose

    crops, gts = lspet_crops
    torch.manual_seed(0)
    model = build("blaze_full", input_size=crops.shape[1:3]).eval()
    before = _median_errors(_keypoints(model, crops), gts)
    assert load_blazepose(model, bundled_full_model()) == 2 * 55 + 2  # 55 convolutions + heatmap
    after = _median_errors(_keypoints(model, crops), gts)
    # before any training, the imported network already lands near the real joints;
    # a random network (or weights copied into the wrong layers) lands far away
    assert np.median(after) < 0.15 * crops.shape[1] < 0.5 * crops.shape[1] < min(before), \
        (before, after)


def test_a_tflite_of_another_shape_is_refused(tmp_path):
    pytest.importorskip("tflite")
    pytest.importorskip("mediapipe")
    from uniskel.engine.errors import UniskelError
    from uniskel.training.blazepose_init import bundled_full_model, load_blazepose

    with pytest.raises(UniskelError, match="does not match blaze_lite"):
        load_blazepose(build("blaze_lite"), bundled_full_model())
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(UniskelError, match="not a TFLite model"):
        load_blazepose(build("blaze_full"), bad)
