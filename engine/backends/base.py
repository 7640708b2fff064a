"""The one contract every backend keeps, and the checks they share.

A backend turns a batch of person crops into keypoints::

    crops: uint8 RGB (N, H, W, 3), H, W = backend.input_size
    ->     float32 (N, 21, 3): x, y in crop-input pixels, confidence in [0, 1]

This module imports numpy only, so listing backends stays cheap.
"""
from __future__ import annotations

import numpy as np

from uniskel.engine import skeleton


class Backend:
    """Base class: subclasses set ``name``, ``input_size`` and implement ``infer``."""

    name: str = "backend"
    input_size: tuple[int, int] = (160, 128)  # (height, width)
    #: which of the 21 points this backend predicts (others always have confidence 0)
    provided: np.ndarray = np.ones(skeleton.NUM_KEYPOINTS, dtype=bool)
    #: one line for logs and the GUI, e.g. "onnx (CPUExecutionProvider, 2 threads)"
    description: str = ""
    #: the model's quality coefficients (``engine.models.quality.estimate``); empty: none
    quality: tuple[float, ...] = ()

    def infer(self, crops: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def warmup(self, batch: int = 1) -> None:
        """Run once on black crops, so the first real frame is not the slow one."""
        self.infer(np.zeros((batch, *self.input_size, 3), dtype=np.uint8))

    def close(self) -> None:
        """Release what the backend holds (sessions, graphs, GPU memory)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description or self.name}>"


def check_crops(crops: np.ndarray, input_size: tuple[int, int] | None) -> np.ndarray:
    """Validate a crop batch; a wrong one is a programming error (ValueError)."""
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"crops must be uint8 (N, H, W, 3), got {crops.dtype} {crops.shape}")
    if input_size is not None and tuple(crops.shape[1:3]) != tuple(input_size):
        raise ValueError(f"crops are {crops.shape[1:3]}, this backend takes {tuple(input_size)}")
    return crops


def empty_result(n: int = 0) -> np.ndarray:
    return np.zeros((n, skeleton.NUM_KEYPOINTS, 3), dtype=np.float32)


class StudentBackend(Backend):
    """A uniskel student on some runtime (ONNX Runtime, PyTorch, TensorRT): each is "make
    a session, run a batch". This base reads the model's settings once (``configure``),
    checks and batches the crops and decodes the outputs; a subclass sets up its session
    and implements ``forward``: uint8 crops (N, H, W, 3) -> the network's outputs as a
    tuple of float32 numpy arrays. Two kinds of network (the config's ``output``):
    ``"simcc"`` gives logits (N, 21, bx), (N, 21, by), decoded here with the one codec
    (``engine.models.simcc``); ``"keypoints"`` decodes inside the network and gives (N, 21, 3).
    Then, as the model config says: the confidences raised to its ``point_power``, and
    its ``derived`` points (thorax, pelvis) made from their parents."""

    def configure(self, cfg) -> None:
        """Take the inference settings from a ModelConfig or its dict (an ONNX file's
        ``uniskel_config``); missing ones keep the codec's defaults."""
        from uniskel.engine.models import simcc

        get = cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
        if get("input_size"):
            self.input_size = tuple(int(v) for v in get("input_size"))
        self.output = get("output") or "simcc"
        self.codec = simcc.SimCC.of(cfg) if self.output == "simcc" else None
        if self.codec is not None:
            self.split_ratio, self.window = self.codec.split_ratio, self.codec.window
        score = get("person_score")
        self.person_score = float(score) if score is not None else 0.3
        self.quality = tuple(get("quality") or ())
        power = get("point_power")
        self.point_power = float(power) if power is not None else 1.0
        self.derived = tuple(get("derived") or ())

    def forward(self, crops: np.ndarray):
        raise NotImplementedError

    def infer(self, crops: np.ndarray) -> np.ndarray:
        crops = check_crops(crops, self.input_size)
        if len(crops) == 0:
            return empty_result()
        outputs = self.forward(crops)
        if self.codec is None:  # decoded in the network
            kpts = np.asarray(outputs[0], np.float32)  # the runtime's own array: ours to clip
            np.clip(kpts[..., 2], 0.0, 1.0, out=kpts[..., 2])
        else:
            kpts = self.codec.decode(*outputs)
        if self.point_power != 1.0:  # the model's confidences on the app's scale
            np.power(kpts[..., 2], self.point_power, out=kpts[..., 2])
        if self.derived:  # thorax, pelvis from their parents, as the skeleton defines them
            skeleton.derive(kpts, self.derived)
        return kpts


class PerCropBackend(Backend):
    """A comparison model that brings its own preprocessing and runs one crop at a time,
    on crops of any size (evaluation passes the student's crops unchanged): subclasses
    implement ``infer_one(crop) -> (21, 3)`` in that crop's pixels."""

    def infer_one(self, crop: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def infer(self, crops: np.ndarray) -> np.ndarray:
        crops = check_crops(crops, None)
        if len(crops) == 0:
            return empty_result()
        return np.stack([self.infer_one(c) for c in crops])


def to_unified(mapping, native: np.ndarray) -> np.ndarray:
    """A model's native keypoints (K, 3) -> unified (21, 3) float32: mapped, thorax and
    pelvis derived where missing, confidences clipped to [0, 1]."""
    uni = mapping.convert(native)
    skeleton.derive(uni)
    uni[:, 2] = np.clip(uni[:, 2], 0.0, 1.0)
    return uni.astype(np.float32)
