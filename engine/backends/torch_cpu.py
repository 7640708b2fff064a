"""``cpu``: the student checkpoint (.pt) in PyTorch on the CPU, FP32."""
from __future__ import annotations

import importlib.util

import numpy as np

from uniskel.engine import assets
from uniskel.engine import modelfile
from uniskel.engine.backends.base import StudentBackend

NAME = "cpu"
LABEL = "CPU (PyTorch)"  # in the window's backend menu
MODEL_SUFFIX = ".pt"  # the model file it runs (None: its own, bundled)
AUTO_RANK = 3  # place in --backend auto's order (None: never chosen by auto)


def unavailable() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "cpu: PyTorch not installed (pip install 'uniskel[torch]')"
    return None


class TorchBackend(StudentBackend):
    """A PoseNet in PyTorch; ``cuda`` reuses this with a device and FP16."""

    def __init__(self, model_path=None, device: str = "cpu", half: bool = False,
                 threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        self.path = modelfile.resolve(model_path, assets.default_model())
        model, cfg, self.meta = modelfile.load_checkpoint(self.path)
        self.cfg = cfg
        self.configure(cfg)
        self.device = torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        self.model = model.to(self.device, self.dtype).eval()
        self.name = NAME if self.device.type == "cpu" else self.device.type
        prec = "FP16" if half else "FP32"
        self.description = f"{self.name} (PyTorch {torch.__version__}, {prec}, {self.path.name})"

    def forward(self, crops: np.ndarray):
        """uint8 (N, H, W, 3) -> the network's outputs as float32 numpy arrays."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(crops).to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).to(self.dtype)
            out = self.model(x)
            out = out if isinstance(out, tuple) else (out,)
            return tuple(t.float().cpu().numpy() for t in out)


def load(model_path=None, threads: int | None = None, **_) -> TorchBackend:
    return TorchBackend(model_path, device="cpu", threads=threads)
