"""An exported MoveNet-family ONNX model -> its int8 twin for the CPU (``uniskel export
--int8``), with ONNX Runtime's static quantization:

- QDQ format, weights int8 per output channel, activations uint8 with ranges from a
  percentile calibration (99.999 %, ONNX Runtime's default) on training crops;
- 7-bit weights (``reduce_range``): CPUs without VNNI can saturate on full 8-bit
  uint8 x int8 products, and this costs nothing measurable here;
- the convolutions and their ReLU6 clips (a clip after a quantized convolution is
  folded into the convolution's output range: ONNX Runtime then runs the pair as one
  QLinearConv, where a float clip between two quantize / dequantize pairs took a fifth
  of the int8 model's time), and not the convolutions of the stem (``backbone.0``,
  ``backbone.1``) or the feature pyramid (``top``, ``lateral``, ``smooth``): quantized,
  those lost the most accuracy (each one's share measured by leaving it in float), nor
  the heatmap and centre heads, whose low confidences int8 raised (points below a cut
  drawn 42% -> 58% of the time). The model card, assets/models/README.md, "Thunder's
  width at 192 px", and "What made int8 that much faster" at its top.

Calibration crops are people from training sets only (coco_extra's labelled people and
LSPET 0-999), cropped as the live pipeline crops a box; validation stays out of it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from uniskel.engine.errors import UniskelError

#: convolutions kept in float, by the start of their ONNX node name (the exported module path)
FLOAT_CONVS = ("/backbone.0/", "/backbone.1/", "/top/", "/lateral", "/smooth/", "/heatmap/",
               "/center/")
CALIBRATION_CROPS = 200
STRIDE = 20


def calibration_sets(data: Path) -> list:
    """The training people the calibration draws from (under ``data``, ../shared/data)."""
    from uniskel.training import datasets

    return (datasets.read("coco", data / "coco_extra" / "person_keypoints_train2017.json",
                          data / "coco_extra" / "images")
            + datasets.read("lsp", data / "lspet" / "joints.mat", data / "lspet" / "images",
                            index_range=(0, 1000)))


def calibration_crops(instances, input_size, n: int = CALIBRATION_CROPS,
                      seed: int = 0) -> np.ndarray:
    """``n`` people drawn from ``instances`` (seeded), each cropped as the live pipeline
    crops its box -> (n, 3, H, W) float32 RGB 0..255, the ONNX model's input."""
    from uniskel.training.datasets import load_image
    from uniskel.training.evaluate import PADDING, _crop_box

    if not instances:
        raise UniskelError("int8: no people to calibrate on")
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(instances))[:n]
    crops = [_crop_box(instances[i].box, load_image(instances[i]), tuple(input_size),
                       PADDING)[0] for i in pick]
    return np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32)


def float_convs(model) -> list[str]:
    """The Conv nodes of ``model`` (an onnx ModelProto) that stay in float; each
    ``FLOAT_CONVS`` prefix must name at least one (the network's layout is the one
    measured)."""
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    kept = []
    for prefix in FLOAT_CONVS:
        found = [c for c in convs if c.startswith(prefix)]
        if not found:
            raise UniskelError(f"int8: no convolution named {prefix}*; the network is not "
                               "the MoveNet layout this quantization was measured on")
        kept += found
    return kept


def quantize(fp32: Path, out: Path, crops: np.ndarray) -> None:
    """Write the int8 twin of the ONNX model ``fp32`` to ``out``, calibrated on ``crops``."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quantize_static)

    model = onnx.load(str(fp32))
    name = model.graph.input[0].name
    stride = max(d for d in range(1, STRIDE + 1) if len(crops) % d == 0)  # it must divide

    class Crops(CalibrationDataReader):
        # read in strides of STRIDE crops: the calibrator holds every intermediate
        # output of what it reads at once (about 80 MB a crop at 192 px)
        def __init__(self):
            self.set_range(0, len(crops))

        def __len__(self):
            return len(crops)

        def set_range(self, start_index: int, end_index: int):
            self.left = iter(crops[start_index:end_index])

        def get_next(self):
            c = next(self.left, None)
            return None if c is None else {name: c[None]}

    quantize_static(str(fp32), str(out), Crops(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["Conv", "Clip"], per_channel=True, reduce_range=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.Percentile,
                    nodes_to_exclude=float_convs(model),
                    extra_options={"CalibStridedMinMax": stride})


def disagreement(fp32: Path, int8: Path, crops: np.ndarray) -> float:
    """The median distance (input pixels) between the two models' keypoints on ``crops``."""
    import onnxruntime as ort

    out = []
    for path in (fp32, int8):
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out.append(np.concatenate([s.run(None, {s.get_inputs()[0].name: c[None]})[0]
                                   for c in crops]))
    return float(np.median(np.linalg.norm(out[0][..., :2] - out[1][..., :2], axis=-1)))


def int8_twin(fp32: Path, out: Path, crops: np.ndarray) -> float:
    """Quantize ``fp32`` into ``out`` (written whole or not at all); returns
    ``disagreement`` on the calibration crops."""
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".int8-") as tmp:
        part = Path(tmp) / out.name
        quantize(Path(fp32), part, crops)
        moved = disagreement(Path(fp32), part, crops)
        part.replace(out)
    return moved
