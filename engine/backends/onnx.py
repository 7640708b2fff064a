"""``onnx``: the exported student (.onnx) in ONNX Runtime.

CPU execution provider with every graph optimisation on; the CUDA provider first when
this onnxruntime has it (onnxruntime-gpu). Threads: ONNX Runtime's default spins one
thread per core, which starves the camera and GUI threads on a 2-core laptop, so we
use ``cores - 1`` (at least 1, at most 4) intra-op threads and run ops sequentially.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from uniskel.engine import assets
from uniskel.engine.models import quality
from uniskel.engine import modelfile
from uniskel.engine.backends.base import StudentBackend
from uniskel.engine.errors import UniskelError, first_line

NAME = "onnx"
LABEL = "ONNX Runtime"  # in the window's backend menu
MODEL_SUFFIX = ".onnx"  # the model file it runs (None: its own, bundled)
AUTO_RANK = 2  # place in --backend auto's order (None: never chosen by auto)


def unavailable() -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnx: onnxruntime not installed"
    return None


def default_threads() -> int:
    # every core, up to 4: the blaze student's depthwise layers split well (2.4 ms per crop
    # on 2 threads vs 4.5 ms on 1, on the 2-core development machine)
    return max(1, min(4, os.cpu_count() or 2))


def session_options(threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = int(threads or default_threads())
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only
    return opts


class OnnxBackend(StudentBackend):
    name = NAME

    def __init__(self, model_path=None, threads: int | None = None, providers=None):
        import onnxruntime as ort

        self.path = modelfile.resolve(model_path, assets.default_onnx())
        if providers is None:
            have = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]
        self.threads = int(threads or default_threads())
        self.cfg = modelfile.inspect_onnx(self.path)  # as data, before onnxruntime sees it
        try:
            self.session = ort.InferenceSession(str(self.path), session_options(self.threads),
                                                providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise UniskelError(f"{self.path}: not a loadable ONNX model "
                               f"({first_line(exc)})") from None
        self.configure(self.cfg)
        if self.quality:
            try:
                quality.check_coefficients(self.quality, f"{self.path}: uniskel_config")
            except ValueError as e:
                raise UniskelError(str(e)) from None
        self._check_keypoints()
        used = self.session.get_providers()[0]
        self.description = (f"onnx (onnxruntime {ort.__version__}, {used}, "
                            f"{self.threads} threads, {self.path.name})")

    # ---- checks: a wrong file says which way it is wrong ----
    def _check_keypoints(self):
        if "num_keypoints" in self.cfg:  # a whole number: inspect_onnx checked the values
            modelfile.check_keypoints(self.path, int(self.cfg["num_keypoints"]),
                                    self.cfg.get("keypoints"))
        # two crops, not one: a model exported with its batch fixed at 1 passes every
        # other check and fails on the first frame with two people
        try:
            out = self._run(modelfile.probe_batch(self.input_size))
        except Exception as exc:
            raise UniskelError(f"{self.path}: model fails on a batch of 2 crops of "
                               f"{self.input_size[0]}x{self.input_size[1]} (exported with "
                               f"a fixed batch size? {first_line(exc, 100)})") from None
        if any(o.shape[0] != 2 for o in out):
            raise UniskelError(f"{self.path}: model fails on a batch of 2 crops: it gives "
                               f"{out[0].shape[0]} results (exported with a fixed batch "
                               f"size?)")
        modelfile.check_finite(self.path, out)
        modelfile.check_keypoints(self.path, out[0].shape[1])
        if self.output == "keypoints":
            if out[0].shape[2:] != (3,):
                raise UniskelError(f"{self.path}: output 'keypoints' has shape "
                                   f"{out[0].shape}; expected (N, 21, 3)")
            return
        sx, sy = out
        bx, by = sx.shape[-1], sy.shape[-1]
        h, w = self.input_size
        if (round(w * self.split_ratio), round(h * self.split_ratio)) != (bx, by):
            raise UniskelError(f"{self.path}: output bins {bx}x{by} do not match input "
                               f"{w}x{h} at split ratio {self.split_ratio}")

    def _run(self, x: np.ndarray):
        return tuple(self.session.run(list(modelfile.ONNX_OUTPUTS[self.output]),
                                      {modelfile.ONNX_INPUT: x}))

    def forward(self, crops: np.ndarray):
        return self._run(np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32))

    def close(self):
        self.session = None


def load(model_path=None, threads: int | None = None, **_) -> OnnxBackend:
    return OnnxBackend(model_path, threads=threads)


def is_onnx(path) -> bool:
    return path is not None and Path(path).suffix.lower() == ".onnx"
