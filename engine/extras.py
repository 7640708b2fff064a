"""Which optional parts of uniskel are installed, and the one line that says how to get one.

The core install (the window, ``infer``, ``bench``, ``soak``, the Python API) runs on ONNX
Runtime. Everything else comes with an extra of pyproject.toml; this table names the
modules each brings, so a command that needs one can say which in one line::

    extras.require("train", "uniskel train")
    # UniskelError: uniskel train needs the [train] extra (missing: torch):
    #               pip install 'uniskel[train]'
"""
from __future__ import annotations

import importlib.util
import sys

from uniskel.engine.errors import UniskelError

#: extra (as in pyproject.toml) -> the import names it brings that uniskel uses
EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "eval": ("pycocotools", "scipy"),
    "train": ("torch", "tensorboard", "pycocotools", "scipy"),
    "export": ("torch",),
    "gpu": ("torch",),
    "tensorrt": ("torch", "torch_tensorrt"),
    "mediapipe": ("mediapipe",),
}


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here ([] when it is installed)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def hint(extra: str) -> str:
    if getattr(sys, "frozen", False):  # the desktop bundle: no pip to hand
        return f"this desktop build leaves it out; pip install 'uniskel[{extra}]' has it"
    return f"pip install 'uniskel[{extra}]'"


def require(extra: str, what: str) -> None:
    """Raise the one-line UniskelError naming ``extra`` if any of its modules is missing."""
    gone = missing(extra)
    if gone:
        raise UniskelError(f"{what} needs the [{extra}] extra (missing: {', '.join(gone)}): "
                           f"{hint(extra)}")
