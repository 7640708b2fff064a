"""A training checkpoint -> the files the engine ships and loads (``uniskel export``,
whose command line is commands/export.py): the slim weights (``slim``), a quality fit
read and checked (``read_quality``), and the bundled model's checksum recorded
(``record_if_bundled``); the ONNX conversion itself is ``engine.models.export_onnx``."""
from __future__ import annotations

from pathlib import Path

from uniskel.engine.errors import UniskelError


def slim(checkpoint: str | Path, out: str | Path, half: bool = False, **config) -> Path:
    """Keep only what inference needs (config, weights, provenance); ``config`` overrides
    inference settings in the model config (``person_score``, ``decode_window``,
    ``peak_band``, ``quality``, ``point_power``). ``half``: the weights stored as float16
    (half the file; every loader casts them back to the network's float32)."""
    from uniskel.training.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(checkpoint)
    ck["config"] = {**ck["config"], **{k: v for k, v in config.items() if v is not None}}
    meta = dict(ck.get("meta", {}))
    if "epoch" in ck:  # a training checkpoint; a slim one already says
        meta.update({"epochs_trained": ck["epoch"], "steps": ck.get("global_step"),
                     "source_checkpoint": str(Path(checkpoint).name)})
    import torch
    dtype = torch.float16 if half else torch.float32
    weights = {k: v.to(dtype) if v.is_floating_point() else v
               for k, v in ck["state_dict"].items()}
    state = {"config": ck["config"], "state_dict": weights,
             "meta": meta}
    return save_checkpoint(state, out)


def read_quality(path):
    """A ``uniskel quality`` JSON -> (its ``quality`` list, the decode window it was fitted
    at or None, its point power or None); (None, None, None) without a path."""
    if path is None:
        return None, None, None
    import json

    from uniskel.engine.models.quality import check_coefficients

    try:
        fit = json.loads(Path(path).read_text())
        coef = [float(v) for v in check_coefficients(fit["quality"], str(path))]
        window = fit.get("decode_window")
        power = fit.get("point_power")
        if power is not None:
            from uniskel.engine.modelfile import POINT_POWER
            power = float(power)
            if not POINT_POWER[0] <= power <= POINT_POWER[1]:
                raise ValueError(f"point_power {power:g} is not from {POINT_POWER[0]:g} to "
                                 f"{POINT_POWER[1]:g}")
        return coef, None if window is None else int(window), power
    except OSError as e:
        raise UniskelError(f"export: cannot read {path} ({e.strerror or e})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UniskelError(f"export: {path} is not a uniskel quality result ({e})") from None


def int8_onnx(checkpoint, out: Path, data: Path) -> None:
    """The checkpoint's ONNX model quantized to int8 (training/quantize.py) into ``out``,
    calibrated on the training people under ``data``; the float model is made on the way
    and not kept."""
    import tempfile

    from uniskel.engine import extras

    extras.require("eval", "uniskel export --int8 (its calibration reads LSPET's labels)")
    from uniskel.engine.models.export_onnx import export_checkpoint
    from uniskel.training import quantize
    from uniskel.training.checkpoint import load_checkpoint

    cfg = load_checkpoint(checkpoint)["config"]
    if not str(cfg.get("arch", "")).startswith("movenet_"):
        raise UniskelError(f"export --int8: {cfg.get('arch')!r} is not a MoveNet-family "
                           "model; int8 is measured for those alone")
    crops = quantize.calibration_crops(quantize.calibration_sets(Path(data)),
                                       cfg["input_size"])
    with tempfile.TemporaryDirectory(prefix="uniskel-int8-") as tmp:
        fp32 = export_checkpoint(checkpoint, Path(tmp) / "float.onnx")
        moved = quantize.int8_twin(fp32, out, crops)
    print(f"onnx: {out} ({out.stat().st_size / 1e6:.1f} MB), int8; its keypoints lie a "
          f"median {moved:.2f} px from the float model's on {len(crops)} training crops")


def record_if_bundled(path: Path) -> None:
    """Writing the bundled model: record its SHA-256 (assets/models/SHA256SUMS), which
    every default load checks."""
    from uniskel.engine import assets

    if assets.is_bundled_folder(Path(path).parent):
        assets.record_checksum(path)
        print(f"checksum: {path.name} recorded in {assets.CHECKSUMS}")
