"""Inference backends: one module per runtime, one contract (``base.Backend``).

Every module in this package that defines ``NAME`` is a backend; it says, as plain
module constants, everything the rest of uniskel lists about it:

=========  =====================================================  ==========  =========
NAME       runtime                                                MODEL_SUFFIX AUTO_RANK
=========  =====================================================  ==========  =========
tensorrt   Torch-TensorRT (or -RTX) FP16 engine, cached on disk   .pt         0
cuda       PyTorch on an NVIDIA GPU, FP16                         .pt         1
onnx       ONNX Runtime (CUDA provider if present, else CPU)      .onnx       2
cpu        PyTorch on the CPU, FP32                               .pt         3
mediapipe  Google BlazePose via mediapipe, as a baseline          (bundled)   (never)
=========  =====================================================  ==========  =========

plus ``LABEL`` (the window's menu), ``unavailable()`` (cheap: None, or one line saying
why not; never imports torch just to look) and ``load(model_path, **options)``. The
lists here (``NAMES``, ``CHOICES`` for argparse, ``LABELS``, ``AUTO_ORDER``) and the
model-file rules of ``create`` derive from those constants, so adding a backend is one
new file in this folder.

``create("auto")`` takes the first of ``AUTO_ORDER`` that can run here and has its model
file (a ``model_path`` picks among the backends whose ``MODEL_SUFFIX`` it has); a backend
that fails to start is skipped with a log line.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

from uniskel.engine.backends.base import Backend
from uniskel.engine.errors import UniskelError

__all__ = ["Backend", "NAMES", "CHOICES", "LABELS", "AUTO_ORDER", "available", "create"]

log = logging.getLogger(__name__)

_NOT_BACKENDS = {"base", "loading"}


def discover() -> dict:
    """{NAME: module} of every backend module in this package, in AUTO_RANK order (the
    ones auto never picks last, by name). Backend modules import only light things at
    module level, so this is cheap."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_BACKENDS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", None)
        if name:
            found[name] = module
    rank = lambda n: (found[n].AUTO_RANK is None, found[n].AUTO_RANK or 0, n)  # noqa: E731
    return {n: found[n] for n in sorted(found, key=rank)}


MODULES = discover()
NAMES: tuple[str, ...] = tuple(MODULES)
CHOICES: tuple[str, ...] = ("auto", *NAMES)  # for --backend
LABELS: dict[str, str] = {"auto": "Auto (fastest available)",
                          **{n: getattr(m, "LABEL", n) for n, m in MODULES.items()}}
AUTO_ORDER: tuple[str, ...] = tuple(n for n, m in MODULES.items() if m.AUTO_RANK is not None)


def _module(name: str):
    return MODULES[name]


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
        want = _module(name).MODEL_SUFFIX
        have = Path(model_path).suffix.lower() if model_path is not None else None
        if have is not None and want is not None and have != want:
            if want == ".onnx" and have == ".pt":
                raise UniskelError(f"onnx runs a .onnx model; {model_path} is a PyTorch "
                                   f"checkpoint (export it with `uniskel export`, or use "
                                   f"--backend cpu)")
            others = [n for n in AUTO_ORDER if _module(n).MODEL_SUFFIX == have]
            hint = f" (use --backend {others[0]})" if others else ""
            kind = "ONNX" if have == ".onnx" else f"a {have} file"
            raise UniskelError(f"{name} runs a {want} checkpoint; {model_path} is {kind}{hint}")
        return _module(name).load(model_path, **options)
    return _create_auto(model_path, **options)


def _create_auto(model_path, **options) -> Backend:
    from uniskel.engine import assets

    if model_path is not None:
        suffix = Path(model_path).suffix.lower()
        order = tuple(n for n in AUTO_ORDER if _module(n).MODEL_SUFFIX == suffix) \
            or tuple(n for n in AUTO_ORDER if _module(n).MODEL_SUFFIX == ".pt")
    else:
        order = AUTO_ORDER
    reasons, first_error = [], None
    for name in order:
        reason = _module(name).unavailable()
        if reason:
            reasons.append(reason)
            continue
        if model_path is None:
            default = assets.default_onnx() if _module(name).MODEL_SUFFIX == ".onnx" \
                else assets.default_model()
            if not default.is_file():
                reasons.append(f"{name}: no model at {default}")
                if first_error is None:
                    first_error = default
                continue
        try:
            return _module(name).load(model_path, **options)
        except UniskelError as exc:
            if model_path is not None and name == order[-1]:
                raise  # the user's file is bad: say so, do not hide it behind a fallback
            log.warning("backend %s failed to start (%s); trying the next", name, exc)
            reasons.append(str(exc))
    if model_path is None and first_error is not None:
        from uniskel.engine import modelfile

        modelfile.resolve(None, assets.default_model())  # raises the "no model bundled" line
    raise UniskelError("no backend can run here: " + "; ".join(reasons))
