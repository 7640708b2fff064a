"""Checkpoints: written atomically (temp file, fsync, rename), read with specific errors."""
from __future__ import annotations

import os
from pathlib import Path

from engine.errors import UniskelError


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write ``state`` to ``path`` so that a kill at any moment leaves the old file intact."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Load a uniskel checkpoint; one readable line if it is missing, truncated or foreign.

    The same reader the engine uses (``engine.backends.loading``), so training and the
    app accept and refuse exactly the same files."""
    from engine.backends.loading import read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise UniskelError(f"checkpoint not found: {path}")
    return read_checkpoint(path)
