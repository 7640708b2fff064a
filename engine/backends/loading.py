"""Finding and opening model files, with one specific line for every way they go wrong.

``checkpoint`` (.pt, written by training)::

    {"config": ModelConfig.to_dict(), "state_dict": ..., "meta": {...}}

The ONNX side lives in ``engine.backends.onnx``; both share ``resolve``.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

from uniskel.engine import assets, skeleton
from uniskel.engine.errors import UniskelError, first_line


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(assets.root()))
    except ValueError:
        return str(path)


def resolve(model_path, default: Path) -> Path:
    """The model file to open: ``model_path``, or the bundled ``default``; it must exist."""
    if model_path is None:
        path = Path(default)
        if not path.is_file():
            raise UniskelError(
                f"no model bundled at {_relative(path)}; train one with `uniskel train` "
                f"or pass --model")
        problem = assets.bundled_problem(path)
        if problem:
            raise UniskelError(f"bundled model {_relative(path)}: {problem}")
        return path
    path = Path(model_path).expanduser()
    if not path.exists():
        raise UniskelError(f"model file not found: {path}")
    if path.is_dir():
        raise UniskelError(f"model path is a folder, not a file: {path}")
    if path.stat().st_size == 0:
        raise UniskelError(f"model file is empty: {path}")
    return path


def check_keypoints(path: Path, num_keypoints: int, names=None) -> None:
    if num_keypoints != skeleton.NUM_KEYPOINTS:
        raise UniskelError(
            f"{path}: model predicts {num_keypoints} keypoints; uniskel needs the "
            f"{skeleton.NUM_KEYPOINTS}-keypoint unified skeleton")
    if names is not None and tuple(names) != skeleton.KEYPOINTS:
        raise UniskelError(f"{path}: model's keypoint order differs from engine.skeleton.KEYPOINTS")


def _numpy_array_globals() -> list:
    """The only non-plain types a uniskel ``.pt`` may hold besides tensors: numpy arrays and
    scalars of numeric dtypes, which checkpoints from earlier uniskel versions carry (the
    numpy RNG state, metrics in ``meta``). They are allowed by name, for this load only;
    the restricted unpickler still refuses anything inside them that is not plain."""
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    found = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes)
                  if n.endswith("DType") and n != "ObjectDType"]
    return found


def refusal(path, exc: Exception) -> str:
    """The one line for a file that holds more than tensors and plain values."""
    found = re.search(r"GLOBAL ([\w.]+)", str(exc)) or re.search(r"global ([\w.]+)", str(exc))
    what = f" ({found.group(1)})" if found else ""
    return (f"{path}: refused: it holds Python objects{what}, not only tensors and plain "
            f"values, and loading it could run code; uniskel never does. Re-export the "
            f"model from a trusted copy (uniskel export --checkpoint TRUSTED.pt --weights NEW.pt)")


def safe_torch_load(path: Path):
    """``torch.load`` with ``weights_only=True`` and nothing else: tensors, containers and
    plain values (plus numpy arrays, by name). Raises UniskelError naming the file."""
    import torch

    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if "weights_only" in text or "weights only" in text or "unsupported global" in text:
            raise UniskelError(refusal(path, exc)) from None
        raise UniskelError(_unreadable(path, exc)) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError,
            ImportError, IndexError, KeyError, TypeError) as exc:
        raise UniskelError(_unreadable(path, exc)) from None


def _unreadable(path, exc) -> str:
    return (f"{path}: not a readable PyTorch checkpoint (truncated or corrupt? "
            f"{first_line(exc, 120)})")


def read_checkpoint(path: Path) -> dict:
    """A uniskel checkpoint, read safely onto the CPU; UniskelError if it is not one."""
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        kind = type(ckpt).__name__
        keys = ", ".join(map(str, list(ckpt)[:4])) if isinstance(ckpt, dict) else ""
        raise UniskelError(
            f"{path}: not a uniskel checkpoint (expected keys 'config' and 'state_dict', "
            f"found {kind}{' with ' + keys if keys else ''})")
    return ckpt


def load_checkpoint(path: Path):
    """-> (PoseNet in eval mode on the CPU, ModelConfig, meta dict)."""
    from uniskel.engine.model import ModelConfig, from_config

    ckpt = read_checkpoint(path)
    try:
        cfg = ModelConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise UniskelError(f"{path}: unreadable model config ({exc})") from None
    check_keypoints(path, cfg.num_keypoints, cfg.keypoints)
    if cfg.quality:
        from uniskel.engine.quality import check_coefficients
        try:
            check_coefficients(cfg.quality, f"{path}: model config")
        except ValueError as e:
            raise UniskelError(str(e)) from None
    try:
        model = from_config(cfg)
    except Exception as exc:  # a config that builds no model
        raise UniskelError(f"{path}: config does not build a model ({exc})") from None
    state = ckpt["state_dict"]
    if not isinstance(state, dict):
        raise UniskelError(f"{path}: 'state_dict' is a {type(state).__name__}, not a dict")
    import torch

    def shape(v):  # a value that is not a tensor never matches
        return tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__

    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    wrong = [k for k in ours if k in state and shape(state[k]) != tuple(ours[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"shape mismatch in {len(wrong)} (e.g. {wrong[0]}: "
                         f"{shape(state[wrong[0]])} vs {tuple(ours[wrong[0]].shape)})")
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise UniskelError(
            f"{path}: weights do not match its '{cfg.arch}' config: {'; '.join(parts)}")
    model.load_state_dict(state)
    model.eval()
    return model, cfg, ckpt.get("meta", {}) or {}
