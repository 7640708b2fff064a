"""``cuda``: the student checkpoint (.pt) in PyTorch on an NVIDIA GPU, FP16."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from uniskel.engine.backends.torch_cpu import TorchBackend

NAME = "cuda"
LABEL = "CUDA (PyTorch GPU)"  # in the window's backend menu
MODEL_SUFFIX = ".pt"  # the model file it runs (None: its own, bundled)
AUTO_RANK = 1  # place in --backend auto's order (None: never chosen by auto)


def cuda_problem(prefix: str) -> str | None:
    """Why PyTorch cannot use an NVIDIA GPU here, or None; without importing torch (a
    second or more, and an ONNX-only session must never load it): a CUDA build of torch
    (its CUDA library beside it) and a driver (libcuda) that sees at least one device."""
    import ctypes
    import os
    import sys

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return f"{prefix}: PyTorch not installed (pip install 'uniskel[gpu]')"
    lib = Path(spec.origin).parent / "lib"
    if not any(lib.glob("*torch_cuda*")):
        return f"{prefix}: this PyTorch build has no CUDA support"
    if sys.platform == "darwin":
        return f"{prefix}: no CUDA on macOS"
    try:
        driver = ctypes.CDLL("nvcuda.dll" if os.name == "nt" else "libcuda.so.1")
    except OSError:
        return f"{prefix}: no NVIDIA driver (libcuda) on this machine"
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0 \
            or count.value < 1:
        return f"{prefix}: no CUDA device"
    return None


def unavailable() -> str | None:
    return cuda_problem(NAME)


def load(model_path=None, device: str = "cuda", **_) -> TorchBackend:
    import torch

    backend = TorchBackend(model_path, device=device, half=True)
    torch.backends.cudnn.benchmark = True
    backend.description = (f"cuda (PyTorch {torch.__version__}, FP16, "
                           f"{torch.cuda.get_device_name(backend.device)}, {backend.path.name})")
    return backend
