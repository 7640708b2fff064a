"""``uniskel demo``: the live window on a camera, a video or an image (uniskel.app.main)."""
from __future__ import annotations

import argparse
import os
import sys

from uniskel.commands import options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.source(parser, "camera:N or a video/image file (default: the first camera, else "
                           "the bundled sample video)", required=False)
    options.backend(parser, default=None, backend_help="the one used last, else auto",
                    model_help="student model (.pt or .onnx; default: the bundled one)")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS",
                        help="close the window after this many seconds (demos, smoke tests)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="with --quit-after: save what the window showed just before closing")
    parser.add_argument("--presenter", action="store_true",
                        help="start in presenter mode (full screen, large status line)")



def run(args: argparse.Namespace) -> int:
    from uniskel.engine.errors import UniskelError

    if args.screenshot and args.quit_after is None:
        raise UniskelError("--screenshot needs --quit-after SECONDS (when to take it)")
    if args.quit_after is not None and args.quit_after < 0:
        raise UniskelError("--quit-after must be zero or more seconds")
    from uniskel.app import main

    code = main.run(args.source, args.backend, args.model, args.quit_after, args.screenshot,
                    args.presenter)
    return end_process(code)


def end_process(code: int) -> int:
    """Flush what Python buffers, then end this process at once with ``code``: no C++
    static destructors, which can race with threads that native libraries (Qt
    Multimedia's FFmpeg backend, ONNX Runtime, mediapipe) leave behind and abort an
    otherwise clean exit. Everything of ours is stopped, written and synced by then."""
    import logging
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    from uniskel.commands import stop_filtering

    stop_filtering()  # pass on every line still in the native log filter
    os._exit(code)
