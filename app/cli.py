"""The ``uniskel`` command: one entry point, a subcommand per job.

Each subcommand lives in the module that does the work and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them up, and
imports a module only when its subcommand runs (``demo`` pulls in Qt, ``train`` torch).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from engine.errors import reporting

SUBCOMMANDS = {
    "demo": ("app.main", "open the live window on a camera, a video or an image"),
    "infer": ("engine.infer", "annotate a video or camera to MP4 and keypoint records"),
    "bench": ("engine.bench", "measure the full frame pipeline on a video, per stage"),
    "eval": ("training.evaluate", "COCO AP / LSP PCK / MPII PCKh of a model on a dataset"),
    "train": ("training.train", "train a teacher or distil the 21-keypoint student"),
    "export": ("training.export", "export a checkpoint to ONNX (and TensorRT where installed)"),
    "soak": ("engine.soak", "run the live pipeline on a looping video for N minutes; "
                            "check memory and frame rate"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uniskel",
        description="Live 2D pose on the 21-keypoint unified skeleton, and its training pipeline.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def quiet_native_logs() -> None:
    """OpenCV and FFmpeg print their own complaints ("moov atom not found", V4L2 camera
    probing) to stderr, burying our one-line error; silence them unless the user has set
    the variables (OPENCV_LOG_LEVEL=INFO, OPENCV_FFMPEG_LOGLEVEL=24 to debug)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # read when cv2 is first imported
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read lazily


def main(argv: list[str] | None = None) -> int:
    quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return reporting(f"uniskel {args.command}",
                     lambda: importlib.import_module(args._module).run(args))


if __name__ == "__main__":
    sys.exit(main())
