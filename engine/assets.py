"""Where shipped files live, the same way from a source checkout, an install and a frozen build."""
from __future__ import annotations

import sys
from pathlib import Path


def root() -> Path:
    """The folder that holds ``assets/``: the PyInstaller bundle, or the project checkout."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def asset(*parts: str) -> Path:
    return root().joinpath("assets", *parts)


DEFAULT_MODEL = "models/uniskel_student.pt"
DEFAULT_ONNX = "models/uniskel_student.onnx"


def default_model() -> Path:
    return asset(DEFAULT_MODEL)


def default_onnx() -> Path:
    return asset(DEFAULT_ONNX)


def shared_data() -> Path:
    """The real datasets beside the project (``../shared/data``), used as a default path."""
    return root().parent / "shared" / "data"
