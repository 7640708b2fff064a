"""Export a PoseNet to the ONNX file the engine's ``onnx`` backend runs.

The file: input ``image`` (N, 3, H, W) float32 RGB 0..255, outputs ``simcc_x`` and
``simcc_y`` (or ``keypoints`` for a network that decodes itself), a dynamic batch axis, opset 17, and metadata ``uniskel_config`` = the
model's config as JSON (so the file says what it is). Shared by ``training.export``
and the tests. Needs the ``onnx`` package (the ``export`` extra) for the metadata.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from uniskel.engine.errors import UniskelError
from uniskel.engine.modelfile import ONNX_OUTPUTS

OPSET = 17


def export_onnx(model, out_path, opset: int = OPSET, check: bool = True,
                meta: dict | None = None, atol: float = 1e-3) -> Path:
    """Write ``model`` (a PoseNet) to ``out_path``; with ``check``, prove that
    onnxruntime loads it and agrees with PyTorch on a random batch."""
    import torch

    try:
        import onnx
    except ImportError:
        raise UniskelError("exporting ONNX needs the onnx package: pip install 'uniskel[export]'") \
            from None
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    model = model.float().cpu().eval()
    h, w = cfg.input_size
    example = torch.zeros(1, 3, h, w)
    outputs = list(ONNX_OUTPUTS[getattr(cfg, "output", "simcc")])
    axes = {name: {0: "batch"} for name in ["image", *outputs]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter
        torch.onnx.export(model, (example,), str(out_path), input_names=["image"],
                          output_names=outputs, dynamic_axes=axes,
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    proto = onnx.load(str(out_path))
    props = {"uniskel_config": json.dumps(cfg.to_dict())}
    if meta:
        props["uniskel_meta"] = json.dumps(meta, default=str)
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(out_path))
    if check:
        check_export(model, out_path, atol=atol)
    return out_path


def check_export(model, onnx_path, atol: float = 1e-3, batch: int = 2) -> float:
    """Max |onnxruntime - PyTorch| over a random batch; raises if above ``atol``."""
    import onnxruntime as ort
    import torch

    h, w = model.cfg.input_size
    x = np.random.default_rng(0).uniform(0, 255, (batch, 3, h, w)).astype(np.float32)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(list(ONNX_OUTPUTS[getattr(model.cfg, "output", "simcc")]), {"image": x})
    with torch.inference_mode():
        out = model(torch.from_numpy(x))
        want = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
    err = max(float(np.abs(a - b).max()) for a, b in zip(got, want))
    if err > atol:
        raise UniskelError(f"{onnx_path}: ONNX output differs from PyTorch by {err:.2e} "
                           f"(allowed {atol:.0e})")
    return err


def export_checkpoint(checkpoint, out_path, **kwargs) -> Path:
    """Load a uniskel checkpoint (.pt) and export it."""
    from uniskel.engine import modelfile

    model, _, meta = modelfile.load_checkpoint(modelfile.resolve(checkpoint, Path(checkpoint)))
    return export_onnx(model, out_path, meta=meta, **kwargs)
