"""``onnx``: the exported student (.onnx) in ONNX Runtime.

CPU execution provider with every graph optimisation on; the CUDA provider first when
this onnxruntime has it (onnxruntime-gpu). Threads: ONNX Runtime's default spins one
thread per core, which starves the camera and GUI threads on a 2-core laptop, so we
use ``cores - 1`` (at least 1, at most 4) intra-op threads and run ops sequentially.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from uniskel.engine import assets, quality
from uniskel.engine.backends import loading
from uniskel.engine.backends.base import SimCCBackend
from uniskel.engine.errors import UniskelError, first_line

NAME = "onnx"
LABEL = "ONNX Runtime"  # in the window's backend menu
MODEL_SUFFIX = ".onnx"  # the model file it runs (None: its own, bundled)
AUTO_RANK = 2  # place in --backend auto's order (None: never chosen by auto)
INPUT = "image"
OUTPUTS = ("simcc_x", "simcc_y")


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


def _dims(value_info) -> list:
    """A graph input's or output's shape: ints where fixed, names (or None) where not."""
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


def read_graph(path: Path):
    """An ONNX file read as data (protobuf), checked: a valid graph (``onnx.checker``)
    and self-contained (no external data files, which could point anywhere on disk).
    Returns the ModelProto; UniskelError naming the file otherwise."""
    try:
        import onnx
    except ImportError:
        raise UniskelError("onnx: checking a model file needs the onnx package "
                           "(pip install onnx)") from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise UniskelError(f"{path}: not a loadable ONNX model ({first_line(exc)})") from None
    external = [t.name for t in proto.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise UniskelError(f"{path}: refused: its weights live in external files ({external[0]}, "
                           f"...); uniskel loads self-contained models only")
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise UniskelError(f"{path}: not a valid ONNX graph ({first_line(exc)})") from None
    return proto


def inspect_file(path: Path) -> dict:
    """Read an ONNX file as data and check it before any session is built (``read_graph``),
    then its interface: input ``image`` (N, 3, H, W), outputs ``simcc_x`` / ``simcc_y``
    (N, 21, bins), and a readable ``uniskel_config``. Returns that config, with
    ``input_size`` and ``split_ratio`` taken from the graph's fixed shapes where it has
    none."""
    proto = read_graph(path)
    graph = proto.graph
    init = {t.name for t in graph.initializer}
    ins = [i for i in graph.input if i.name not in init]
    outs = list(graph.output)
    if [i.name for i in ins] != [INPUT] or tuple(o.name for o in outs[:2]) != OUTPUTS:
        raise UniskelError(
            f"{path}: not a uniskel pose model (expected input 'image' and outputs "
            f"'simcc_x', 'simcc_y'; found inputs {[i.name for i in ins]}, "
            f"outputs {[o.name for o in outs]})")
    meta = {p.key: p.value for p in proto.metadata_props}
    cfg = {}
    if meta.get("uniskel_config"):
        try:
            cfg = json.loads(meta["uniskel_config"])
        except ValueError:
            raise UniskelError(f"{path}: metadata 'uniskel_config' is not valid JSON") from None
        if not isinstance(cfg, dict):
            raise UniskelError(f"{path}: metadata 'uniskel_config' is not a JSON object")
    shape = _dims(ins[0])
    if len(shape) != 4 or shape[1] != 3:
        raise UniskelError(f"{path}: input 'image' has shape {shape}; uniskel feeds "
                           f"(N, 3, H, W) RGB crops")
    want = cfg.get("input_size")
    have = shape[2:]
    if want is not None and all(isinstance(d, int) for d in have) and list(have) != list(want):
        raise UniskelError(f"{path}: input 'image' is {have[0]}x{have[1]} but its "
                           f"uniskel_config says {want[0]}x{want[1]}")
    if want is None and not all(isinstance(d, int) for d in have):
        raise UniskelError(f"{path}: input size is not fixed and no uniskel_config says it")
    out_dims = [_dims(o) for o in outs[:2]]
    for o, d in zip(outs, out_dims):
        if len(d) != 3:
            raise UniskelError(f"{path}: output '{o.name}' has shape {d}; expected "
                               f"(N, keypoints, bins)")
        if isinstance(d[1], int):
            loading.check_keypoints(path, d[1])
    cfg.setdefault("input_size", list(have))
    bx = out_dims[0][2]
    if not cfg.get("split_ratio") and isinstance(bx, int):
        cfg["split_ratio"] = bx / cfg["input_size"][1]
    return cfg


class OnnxBackend(SimCCBackend):
    name = NAME

    def __init__(self, model_path=None, threads: int | None = None, providers=None):
        import onnxruntime as ort

        self.path = loading.resolve(model_path, assets.default_onnx())
        if providers is None:
            have = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]
        self.threads = int(threads or default_threads())
        self.cfg = inspect_file(self.path)  # as data, before onnxruntime sees it
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
        if "num_keypoints" in self.cfg:
            loading.check_keypoints(self.path, int(self.cfg["num_keypoints"]),
                                    self.cfg.get("keypoints"))
        try:
            sx, sy = self._run(np.zeros((1, 3, *self.input_size), np.float32))
        except Exception as exc:
            raise UniskelError(f"{self.path}: model fails on a {self.input_size} input "
                               f"({first_line(exc)})") from None
        loading.check_keypoints(self.path, sx.shape[1])
        bx, by = sx.shape[-1], sy.shape[-1]
        h, w = self.input_size
        if (round(w * self.split_ratio), round(h * self.split_ratio)) != (bx, by):
            raise UniskelError(f"{self.path}: output bins {bx}x{by} do not match input "
                               f"{w}x{h} at split ratio {self.split_ratio}")

    def _run(self, x: np.ndarray):
        sx, sy = self.session.run(list(OUTPUTS), {INPUT: x})
        return sx, sy

    def forward(self, crops: np.ndarray):
        return self._run(np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32))

    def close(self):
        self.session = None


def load(model_path=None, threads: int | None = None, **_) -> OnnxBackend:
    return OnnxBackend(model_path, threads=threads)


def is_onnx(path) -> bool:
    return path is not None and Path(path).suffix.lower() == ".onnx"
