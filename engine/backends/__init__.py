"""Inference backends: one module per runtime, one contract (``base.Backend``).

=========  =====================================================  ==========
name       runtime                                                model file
=========  =====================================================  ==========
tensorrt   Torch-TensorRT (or -RTX) FP16 engine, cached on disk   .pt
cuda       PyTorch on an NVIDIA GPU, FP16                         .pt
onnx       ONNX Runtime (CUDA provider if present, else CPU)      .onnx
cpu        PyTorch on the CPU, FP32                               .pt
mediapipe  Google BlazePose via mediapipe, as a baseline          (bundled)
=========  =====================================================  ==========

``available()`` says, cheaply, which can run here and why not; ``create()`` makes one.
``create("auto")`` takes the first of tensorrt, cuda, onnx, cpu that can run here and
has its model file (a ``.onnx`` ``model_path`` means onnx, a ``.pt`` one the others);
a backend that fails to start is skipped with a log line.
"""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from engine.backends.base import Backend
from engine.errors import UniskelError

__all__ = ["Backend", "NAMES", "AUTO_ORDER", "available", "create"]

log = logging.getLogger(__name__)

MODULES = {
    "tensorrt": "engine.backends.tensorrt",
    "cuda": "engine.backends.cuda",
    "onnx": "engine.backends.onnx",
    "cpu": "engine.backends.torch_cpu",
    "mediapipe": "engine.backends.mediapipe",
}
NAMES: tuple[str, ...] = tuple(MODULES)
AUTO_ORDER: tuple[str, ...] = ("tensorrt", "cuda", "onnx", "cpu")


def _module(name: str):
    return importlib.import_module(MODULES[name])


def available() -> dict[str, str | None]:
    """{name: None if it can run here, else one line saying why not}."""
    out = {}
    for name in NAMES:
        try:
            out[name] = _module(name).unavailable()
        except Exception as exc:  # a broken install must not break the listing
            out[name] = f"{name}: {exc}"
    return out


def _check_name(name: str) -> None:
    if name != "auto" and name not in MODULES:
        raise UniskelError(f"unknown backend {name!r}; choose auto or one of {', '.join(NAMES)}")


def create(name: str = "auto", model_path=None, **options) -> Backend:
    """Make a ready backend. ``model_path``: the .pt (tensorrt/cuda/cpu) or .onnx (onnx);
    None means the bundled model. Options (e.g. ``threads``) go to the backend's loader."""
    name = (name or "auto").lower()
    _check_name(name)
    if name != "auto":
        reason = _module(name).unavailable()
        if reason:
            raise UniskelError(reason)
        if model_path is not None and name in ("tensorrt", "cuda", "cpu") \
                and Path(model_path).suffix.lower() == ".onnx":
            raise UniskelError(f"{name} runs a .pt checkpoint; {model_path} is ONNX "
                               f"(use --backend onnx)")
        if model_path is not None and name == "onnx" and Path(model_path).suffix.lower() == ".pt":
            raise UniskelError(f"onnx runs a .onnx model; {model_path} is a PyTorch checkpoint "
                               f"(export it with `uniskel export`, or use --backend cpu)")
        return _module(name).load(model_path, **options)
    return _create_auto(model_path, **options)


def _create_auto(model_path, **options) -> Backend:
    from engine import assets

    if model_path is not None:
        is_onnx = Path(model_path).suffix.lower() == ".onnx"
        order = ("onnx",) if is_onnx else ("tensorrt", "cuda", "cpu")
    else:
        order = AUTO_ORDER
    reasons, first_error = [], None
    for name in order:
        reason = _module(name).unavailable()
        if reason:
            reasons.append(reason)
            continue
        if model_path is None:
            default = assets.default_onnx() if name == "onnx" else assets.default_model()
            if not default.is_file():
                reasons.append(f"{name}: no model at {default}")
                if first_error is None:
                    first_error = default
                continue
        try:
            return _module(name).load(model_path, **options)
        except UniskelError as exc:
            if model_path is not None and name in ("onnx", "cpu"):
                raise  # the user's file is bad: say so, do not hide it behind a fallback
            log.warning("backend %s failed to start (%s); trying the next", name, exc)
            reasons.append(str(exc))
    if model_path is None and first_error is not None:
        from engine.backends import loading

        loading.resolve(None, assets.default_model())  # raises the "no model bundled" line
    raise UniskelError("no backend can run here: " + "; ".join(reasons))
