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
    """Load a uniskel checkpoint; one readable line if it is missing, truncated or foreign."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UniskelError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated zip, random bytes, pickle errors
        raise UniskelError(f"checkpoint {path} is unreadable (truncated or not a torch file): "
                           f"{type(exc).__name__}") from None
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise UniskelError(f"checkpoint {path} is not a uniskel checkpoint "
                           "(no 'config' and 'state_dict' entries)")
    return ckpt
