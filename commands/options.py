"""Argument helpers shared by the subcommands: one definition of each option that several
commands take (a source, a backend and its model file, people, a detector, a JSON out),
and the argparse types that check a number's range where it enters (``whole_at_least``,
``fraction``, ``number_at_least``: ``argument --threshold: must be a number from 0 to 1,
got 2``, one line, exit 2)."""
from __future__ import annotations

import argparse
from pathlib import Path


def checked(parse, rule, name: str):
    """An argparse ``type``: ``parse(text)`` (int or float), then ``rule`` (an
    engine.values rule); a value that fails either is the rule's reason, one line."""
    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = text  # not even a number: the rule says what it must be
        reason = rule(value)
        if reason:
            raise argparse.ArgumentTypeError(f"{reason}, got {text}")
        return value
    convert.__name__ = name
    return convert


def whole_at_least(lo: int):
    from uniskel.engine import values
    return checked(int, values.whole(lo), f"whole number >= {lo}")


def number_at_least(lo: float):
    from uniskel.engine import values
    return checked(float, values.number(lo), f"number >= {lo:g}")


def fraction():
    from uniskel.engine import values
    return checked(float, values.number(0, 1), "number from 0 to 1")


def source(p: argparse.ArgumentParser, help: str, required: bool = True) -> None:
    p.add_argument("--source", required=required, help=help)


def backend(p: argparse.ArgumentParser, default: str | None = "auto",
            backend_help: str = "auto, the fastest that runs here",
            model_help: str = "model file for --backend (.pt, or .onnx for onnx); "
                              "default: the bundled student") -> None:
    """``--backend`` (choices from the backend registry) and ``--model``."""
    from uniskel.engine.backends import CHOICES

    p.add_argument("--backend", default=default, choices=CHOICES,
                   help=f"inference backend (default: {backend_help})")
    p.add_argument("--model", type=Path, metavar="PATH", help=model_help)


def people(p: argparse.ArgumentParser, default: int, detector: bool = False) -> None:
    """``--max-people`` (and ``--detector``)."""
    p.add_argument("--max-people", type=whole_at_least(1), default=default,
                   help=f"people tracked, each with its id (default {default}; "
                        f"1: only the most prominent person)")
    if detector:
        from uniskel.engine.runtime.detector import DETECTORS

        p.add_argument("--detector", default="auto", choices=["auto", *DETECTORS],
                       help="person detector (default auto)")


def target_fps(p: argparse.ArgumentParser) -> None:
    """``--target-fps``: with many people, infer some of them each frame to hold it."""
    from uniskel.engine.runtime.pipeline import LIVE_FPS

    p.add_argument("--target-fps", type=float, default=LIVE_FPS,
                   help=f"with several people, infer as many of them each frame as hold this "
                        f"frame rate, the rest carried over from their last frame (default "
                        f"{LIVE_FPS:g}; 0: everyone on every frame)")


def json_out(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--json", dest="json_out", default=default,
                   help="write the results here as JSON" +
                        (f" (default {default})" if default else ""))


def say_warnings(source, command: str) -> None:
    """Print each of ``source``'s warnings (engine.media.sources: an assumed frame rate, a
    frame size that changes) once, as one line on stderr, now and as they arise."""
    import sys

    def say(message: str) -> None:
        from tqdm import tqdm  # between a progress bar's redraws

        tqdm.write(f"uniskel {command}: warning: {message}", file=sys.stderr)

    for message in source.warnings:
        say(message)
    source.on_warning = say
