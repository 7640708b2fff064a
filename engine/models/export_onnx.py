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
    onnxruntime loads it and agrees with PyTorch on a random batch. The file is made and
    checked under a temporary name beside ``out_path`` and renamed only when it passed:
    a failed export leaves an earlier model file as it was, and no temporary."""
    from uniskel.engine.media import safefiles

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UniskelError("exporting ONNX needs the onnx package: pip install 'uniskel[export]'") \
            from None
    out_path = Path(out_path)
    with safefiles.replacing(out_path, "ONNX model") as tmp:
        try:
            _write_onnx(model, tmp, opset, meta)
            if check:
                check_export(model, tmp, atol=atol)
        except UniskelError as exc:  # say the file the user named, not the temporary
            raise UniskelError(str(exc).replace(str(tmp), str(out_path))) from None
    return out_path


def _write_onnx(model, out_path: Path, opset: int, meta: dict | None) -> None:
    import onnx
    import torch

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
    proto = fold_pads_into_convs(onnx.load(str(out_path)))
    props = {"uniskel_config": json.dumps(cfg.to_dict())}
    if meta:
        props["uniskel_meta"] = json.dumps(meta, default=str)
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(out_path))


def fold_pads_into_convs(proto):
    """Zero padding before a convolution (TensorFlow's "same" padding, F.pad in PyTorch)
    exports as a Pad node fed by a small shape computation; fold each into its Conv's own
    (asymmetric) ``pads`` and drop what only fed it. The pads are read by running the
    graph once in ONNX Runtime with them as extra outputs."""
    import onnx
    import onnxruntime as ort

    g = proto.graph
    users: dict = {}
    for n in g.node:
        for x in n.input:
            users.setdefault(x, []).append(n)
    def zero_padding(n) -> bool:  # constant mode (the default), no fill value: zeros
        mode = {a.name: a.s for a in n.attribute}.get("mode", b"constant")
        return mode == b"constant" and (len(n.input) < 3 or not n.input[2])

    pads = [n for n in g.node if n.op_type == "Pad" and len(n.input) > 1 and zero_padding(n)
            and all(u.op_type == "Conv" for u in users.get(n.output[0], []))]
    if not pads:
        return proto
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    for n in pads:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(n.input[1],
                                                                    onnx.TensorProto.INT64, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feed[i.name] = np.zeros(shape, np.float32)
    values = sess.run([n.input[1] for n in pads], feed)
    for n, v in zip(pads, values):
        v = [int(x) for x in v]
        rank = len(v) // 2
        begin, end = v[:rank], v[rank:]
        if any(begin[:2]) or any(end[:2]):  # pads batch or channels: leave it
            continue
        for conv in users[n.output[0]]:
            attr = next((a for a in conv.attribute if a.name == "pads"), None)
            old = list(attr.ints) if attr is not None else [0] * (2 * (rank - 2))
            new = [o + p for o, p in zip(old, begin[2:] + end[2:])]
            if attr is not None:
                conv.attribute.remove(attr)
            conv.attribute.append(onnx.helper.make_attribute("pads", new))
            conv.input[0] = n.input[0]
        g.node.remove(n)
    _drop_dead(g)
    return proto


def _drop_dead(g) -> None:
    """Remove nodes whose outputs nothing uses (back from the graph's outputs)."""
    needed = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(n.input)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)


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
    from uniskel.engine.modelfile import check_finite

    check_finite(onnx_path, want, "a random batch in PyTorch")  # NaN - NaN "matches"
    check_finite(onnx_path, got, "a random batch in ONNX Runtime")
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
