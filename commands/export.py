"""``uniskel export``: a training checkpoint -> the files the engine ships and loads.

    uniskel export --checkpoint runs/student/last.pt \\
        --weights assets/models/uniskel_student.pt --onnx assets/models/uniskel_student.onnx

- ``--weights``: the slim PyTorch file (config, state_dict, meta; no optimiser state).
- ``--onnx``: ONNX for ONNX Runtime, checked against PyTorch on a random batch.
- ``--int8``: the ONNX model quantized for the CPU (a MoveNet-family model;
  training/quantize.py), calibrated on training people under ``--calibration-data``.
- ``--tensorrt``: also compile and cache the TensorRT engine (needs torch-tensorrt and CUDA).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from uniskel.commands import options
from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training import export


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, type=Path, help="training checkpoint (.pt)")
    p.add_argument("--weights", type=Path, help="write the slim PyTorch weights here")
    p.add_argument("--onnx", type=Path, help="write the ONNX model here")
    p.add_argument("--person-score", type=options.fraction(),
                   help="calibrated mean keypoint confidence below which a crop holds nobody "
                        "(the tracker's bar; written into the model config)")
    p.add_argument("--decode-window", type=options.whole_at_least(0),
                   help="SimCC decoding window in bins (written into the model config)")
    p.add_argument("--peak-band", type=int,
                   help="blaze_* models: at inference, decode each keypoint from the heatmap "
                        "rows and columns within N cells of its 2-D peak (written into the "
                        "model config; 0 turns it off)")
    p.add_argument("--quality", type=Path, metavar="FILE.json",
                   help="the model's quality estimate (expected OKS from its confidences) "
                        "and point power, as fitted by uniskel quality (written into the model "
                        "config)")
    p.add_argument("--derive", nargs="+", choices=list(skeleton.DERIVED_RULES),
                   metavar="POINT",
                   help="points the runtime derives from their parents instead of reading "
                        "the network's own (thorax: the shoulders' midpoint, pelvis: the "
                        "hips'; the less sure parent's confidence); written into the model "
                        "config")
    p.add_argument("--half-weights", action="store_true",
                   help="--weights: store the weights as float16 (half the file; loaded "
                        "back into float32)")
    p.add_argument("--int8", action="store_true",
                   help="write the ONNX model quantized to int8 for the CPU (MoveNet-family "
                        "models; calibrated on training people, training/quantize.py)")
    p.add_argument("--calibration-data", type=Path, default=Path("../shared/data"),
                   metavar="DIR", help="--int8: the folder holding coco_extra/ and lspet/ "
                                       "(default ../shared/data)")
    p.add_argument("--tensorrt", action="store_true",
                   help="also build the cached TensorRT engine (torch-tensorrt + CUDA)")


def run(args) -> int:
    if not (args.weights or args.onnx or args.tensorrt):
        raise UniskelError("export: name at least one of --weights, --onnx, --tensorrt")
    from uniskel.engine.media import safefiles

    inputs = {"checkpoint": args.checkpoint, "quality fit": args.quality}
    safefiles.check_output(args.weights, "weights", inputs)  # before anything is made
    safefiles.check_output(args.onnx, "ONNX model", {**inputs, "weights": args.weights})
    coef, fitted_window, power = export.read_quality(args.quality)
    settings = {"person_score": args.person_score, "decode_window": args.decode_window,
                "peak_band": args.peak_band, "quality": coef, "point_power": power,
                "derived": args.derive}
    if any(v is not None for v in settings.values()) and not args.weights:
        raise UniskelError("export: --person-score, --decode-window, --peak-band, --derive "
                           "and --quality need --weights")
    if args.int8 and not args.onnx:
        raise UniskelError("export: --int8 needs --onnx")
    if args.peak_band is not None and args.peak_band < 0:
        raise UniskelError("export: --peak-band must be 0 or more")
    src = args.checkpoint
    from uniskel.engine import modelfile

    # the model must load and run (finite outputs on 2 crops) before any file is made
    modelfile.load_checkpoint(modelfile.resolve(src, src))
    if fitted_window is not None:
        from uniskel.engine.models.model import ModelConfig
        from uniskel.training.checkpoint import load_checkpoint

        window = args.decode_window
        if window is None:
            window = ModelConfig.from_dict(load_checkpoint(src)["config"]).decode_window
        if int(window) != fitted_window:
            raise UniskelError(f"export: {args.quality} was fitted at decode window "
                               f"{fitted_window}, but this model decodes with {window}; fit "
                               "it again on the model as exported")
    if args.weights:
        export.slim(src, args.weights, half=args.half_weights, **settings)
        export.record_if_bundled(args.weights)
        print(f"weights: {args.weights} ({args.weights.stat().st_size / 1e6:.1f} MB)")
        src = args.weights
    if args.onnx and args.int8:
        export.int8_onnx(src, args.onnx, args.calibration_data)
        export.record_if_bundled(args.onnx)
    elif args.onnx:
        from uniskel.engine.models.export_onnx import export_checkpoint
        export_checkpoint(src, args.onnx)
        export.record_if_bundled(args.onnx)
        print(f"onnx: {args.onnx} ({args.onnx.stat().st_size / 1e6:.1f} MB), "
              "matches PyTorch on a random batch")
    if args.tensorrt:
        from uniskel.engine import backends
        reason = backends.available().get("tensorrt")
        if reason:
            raise UniskelError(reason)
        backend = backends.create("tensorrt", src)
        print(f"tensorrt: engine built and cached ({getattr(backend, 'description', '')})")
    return 0
