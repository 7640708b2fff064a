"""Training checkpoints: the engine's model-file reader and writer (engine.modelfile:
written atomically, read with specific errors), plus the training state they carry.

A checkpoint holds tensors and plain Python values only (dicts, lists, tuples, str, int,
float, bool, None), so that it always loads with ``torch.load(weights_only=True)``, the
only way uniskel reads one: the RNG states are stored as tensors and ints, never as
numpy objects."""
from __future__ import annotations

from pathlib import Path

from uniskel.engine.errors import UniskelError
from uniskel.engine.modelfile import write_checkpoint as save_checkpoint  # noqa: F401


def load_checkpoint(path: str | Path) -> dict:
    """Load a uniskel checkpoint; one readable line if it is missing, truncated or foreign.

    The same reader the engine uses (``engine.modelfile``), so training and the
    app accept and refuse exactly the same files."""
    from uniskel.engine.modelfile import read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise UniskelError(f"checkpoint not found: {path}")
    return read_checkpoint(path)


def rng_state() -> dict:
    """torch's, numpy's legacy and Python's global RNG states, as tensors and plain values."""
    import random

    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)),
                      "pos": int(pos), "has_gauss": int(has_gauss),
                      "cached_gaussian": float(cached)},
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` saved (or the numpy tuple older checkpoints held)."""
    import random

    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    if isinstance(npy, dict):
        npy = (npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
               npy["has_gauss"], npy["cached_gaussian"])
    np.random.set_state(npy)
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
