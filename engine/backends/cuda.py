"""``cuda``: the student checkpoint (.pt) in PyTorch on an NVIDIA GPU, FP16."""
from __future__ import annotations

import importlib.util

from engine.backends.torch_cpu import TorchBackend

NAME = "cuda"


def unavailable() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "cuda: PyTorch not installed"
    import torch

    if torch.version.cuda is None:
        return "cuda: this PyTorch build has no CUDA support"
    if not torch.cuda.is_available():
        return "cuda: no CUDA device"
    return None


def load(model_path=None, device: str = "cuda", **_) -> TorchBackend:
    import torch

    backend = TorchBackend(model_path, device=device, half=True)
    torch.backends.cudnn.benchmark = True
    backend.description = (f"cuda (PyTorch {torch.__version__}, FP16, "
                           f"{torch.cuda.get_device_name(backend.device)}, {backend.path.name})")
    return backend
