"""Start a ``blaze_*`` student from MediaPipe's published BlazePose landmark weights.

``pose_landmark_full.tflite`` ships inside the ``mediapipe`` wheel; the lite and heavy
models are in the npm package ``@mediapipe/pose`` (Apache-2.0). This reads the TFLite
flatbuffer (the ``tflite`` package), takes its convolutions in graph order, and copies
those of the encoder and the stride-4 pyramid into ``engine.models.blazenet.BlazeNet``; the
heatmap layer's channels of BlazePose's 33 landmarks seed the COCO points we share, and
the four extra points start from the landmarks nearest them (head top: the nose's and the
ears' mean, upper neck and thorax: the shoulders', pelvis: the hips').
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

CONV, DEPTHWISE, DEQUANTIZE = "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE"

# BlazePose-33 channels that seed each extra unified point (their weights averaged).
EXTRA_SEEDS = {"head_top": (0, 7, 8), "upper_neck": (11, 12), "thorax": (11, 12),
               "pelvis": (23, 24)}


def bundled_full_model() -> Path:
    """The BlazePose "full" landmark model inside the installed mediapipe wheel."""
    try:
        import mediapipe
    except ImportError:
        raise UniskelError("blazepose init: mediapipe is not installed "
                           "(pip install 'uniskel[mediapipe]')") from None
    path = Path(mediapipe.__file__).parent / "modules/pose_landmark/pose_landmark_full.tflite"
    if not path.exists():
        raise UniskelError(f"blazepose init: {path} is missing from the mediapipe wheel")
    return path


def read_convolutions(path: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every convolution of the TFLite graph, in order: (kind, weight OIHW, bias)."""
    try:
        import tflite
    except ImportError:
        raise UniskelError("blazepose init: the 'tflite' package is missing "
                           "(pip install 'uniskel[dev]')") from None
    try:
        model = tflite.Model.GetRootAsModel(Path(path).read_bytes(), 0)
        graph = model.Subgraphs(0)
    except Exception as exc:
        raise UniskelError(f"{path}: not a TFLite model ({exc})") from None
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def op_name(op):
        code = model.OperatorCodes(op.OpcodeIndex())
        return names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))

    def raw(index):  # a constant tensor as float32 (weights are stored as float16)
        t = graph.Tensors(index)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        dtype = {tflite.TensorType.FLOAT16: np.float16,
                 tflite.TensorType.FLOAT32: np.float32}[t.Type()]
        return np.frombuffer(data.tobytes(), dtype).reshape(t.ShapeAsNumpy()).astype(np.float32)

    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    dequantized = {op.Outputs(0): op.Inputs(0) for op in ops if op_name(op) == DEQUANTIZE}
    const = lambda i: raw(dequantized.get(i, i))  # noqa: E731
    convs = []
    for op in ops:
        kind = op_name(op)
        if kind == CONV:  # OHWI -> OIHW
            convs.append((kind, const(op.Inputs(1)).transpose(0, 3, 1, 2), const(op.Inputs(2))))
        elif kind == DEPTHWISE:  # 1HWC -> C1HW
            convs.append((kind, const(op.Inputs(1)).transpose(3, 0, 1, 2), const(op.Inputs(2))))
    return convs


def _our_convs(model) -> list:
    """The BlazeNet convolutions that come from BlazePose, in the TFLite graph's order.

    That order: the stem; then for each stage its expand convolution, the previous
    stage's pyramid branch (the stem's own branch feeds segmentation only: skipped),
    the rest of the stride-2 block and the stride-1 blocks; then the top.
    """
    import torch.nn as nn

    def convs(m):
        return [c for c in m.modules() if isinstance(c, nn.Conv2d)]

    order = convs(model.stem)
    for i, stage in enumerate(model.stages):
        first = stage[0]
        order += convs(first.expand)
        order += convs(model.sides[i - 1]) if i > 0 else [None, None]
        order += convs(first.dw) + convs(first.project)
        for block in stage[1:]:
            order += convs(block)
    return order + convs(model.top)


def load_blazepose(model, path: str | Path) -> int:
    """Copy BlazePose's weights into ``model`` (a BlazeNet); -> how many tensors were set."""
    import torch

    convs = read_convolutions(path)
    ours = _our_convs(model)
    if len(convs) < len(ours):
        raise UniskelError(f"{path}: {len(convs)} convolutions, expected at least {len(ours)}")
    done = 0
    for (kind, w, b), conv in zip(convs, ours):
        if conv is None:
            continue
        if tuple(conv.weight.shape) != w.shape:
            raise UniskelError(f"{path}: does not match {model.cfg.arch} (a {kind} of "
                               f"{w.shape}, expected {tuple(conv.weight.shape)})")
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
        done += 2
    side = model.heatmap.in_channels
    heat = [(w, b) for kind, w, b in convs if w.shape[:2] == (39, side)]
    if len(heat) != 1:
        raise UniskelError(f"{path}: no single 39-channel heatmap layer found")
    hw, hb = heat[0]
    keypoints = model.cfg.keypoints
    with torch.no_grad():
        for k, name in enumerate(keypoints):
            seeds = EXTRA_SEEDS.get(name)
            if seeds is None:
                seeds = tuple(n for n, u in skeleton.BLAZEPOSE.to_unified.items() if u == k)
            if not seeds:
                continue
            model.heatmap.weight[k] = torch.from_numpy(hw[list(seeds)].mean(0))
            model.heatmap.bias[k] = float(hb[list(seeds)].mean())
    return done + 2
