"""The ``uniskel`` command: one entry point, a subcommand per job.

Each subcommand is a module of this package with ``add_arguments(parser)`` and
``run(args) -> int``; the options several commands share are defined once in
``options.py``. The work itself is done by the library (uniskel.engine, uniskel.app,
uniskel.training), which the subcommand imports only when it runs (``demo`` pulls in
Qt, ``train`` torch). This file wires them up and keeps native libraries' log lines off
the terminal.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from uniskel.engine import extras
from uniskel.engine.errors import reporting

#: subcommand -> (its module, the extra it needs beyond the core install, its help line)
SUBCOMMANDS = {
    "demo": ("uniskel.commands.demo", None,
             "open the live window on a camera, a video or an image"),
    "infer": ("uniskel.commands.infer", None,
              "annotate a video or camera to MP4 and keypoint records"),
    "bench": ("uniskel.commands.bench", None,
              "measure the full frame pipeline on a video, per stage"),
    "eval": ("uniskel.commands.eval", "eval",
             "COCO AP / LSP PCK / MPII PCKh of a model on a dataset"),
    "train": ("uniskel.commands.train", "train",
              "train a teacher or distil the 21-keypoint student"),
    "export": ("uniskel.commands.export", "export",
               "export a checkpoint to ONNX (and TensorRT where installed)"),
    "quality": ("uniskel.commands.quality", "train",
                "fit a model's quality estimate (expected OKS from its confidences)"),
    "pack": ("uniskel.commands.pack", "eval",
             "pack a training config's data into one small folder"),
    "soak": ("uniskel.commands.soak", None,
             "run the live pipeline on a looping video for N minutes; "
             "check memory and frame rate"),
}


class Parser(argparse.ArgumentParser):
    """argparse, with a wrong option said in one line like every other refusal
    (``uniskel infer: error: argument --threshold: must be a number from 0 to 1, got 2``,
    exit 2); the usage is ``--help``'s. Subcommands' parsers are of this class too."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="uniskel",
        description="Live 2D pose on the 21-keypoint unified skeleton, and its training pipeline.",
        epilog="--verbose (anywhere): also show native libraries' own log lines (MediaPipe, "
               "TFLite, Qt Multimedia, OpenCV), which are kept off the terminal otherwise.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, extra, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module, _extra=extra)
        if not (extra and extras.missing(extra)):  # else main() names the extra it needs
            importlib.import_module(module).add_arguments(p)
    return parser


def quiet_native_logs() -> None:
    """OpenCV and FFmpeg print their own complaints ("moov atom not found", V4L2 camera
    probing) to stderr, burying our one-line error; silence them unless the user has set
    the variables (OPENCV_LOG_LEVEL=INFO, OPENCV_FFMPEG_LOGLEVEL=24 to debug)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # read when cv2 is first imported
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read lazily


#: lines native libraries print on their own at start-up and first use: absl/glog
#: ("W0000 00:00:... file.cc:123] ..."), TFLite's delegate notes, Qt Multimedia's
#: FFmpeg banner, libpng's colour-profile notes, the offscreen platform's size-hint note.
#: Our own messages never look like these.
NATIVE_CHATTER = re.compile(
    r"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|INFO: Created TensorFlow Lite"
    r"|qt\.multimedia[\w.]*:"
    r"|\[h264 @ |\[mov,mp4|libpng warning: |This plugin does not support propagateSizeHints)")


class NativeLogFilter:
    """Keeps native libraries' chatter off the terminal: file descriptor 2 goes through a
    pipe to a small forked process that passes every line on except those matching
    ``NATIVE_CHATTER``. Being a separate process, it still passes on the last words of a
    crash (Qt's "could not load the platform plugin" before an abort). ``stop()`` puts
    the real stderr back and waits until everything is passed on. POSIX only.

    The filter ignores SIGINT, SIGTERM and SIGHUP (a terminal sends Ctrl+C to the whole
    process group): it ends when the command's last copy of the pipe closes, after the
    command's own last line. A terminal that is gone does not stop it reading either,
    so the command never writes into a closed pipe."""

    def __init__(self):
        import signal

        if not hasattr(os, "fork"):
            raise OSError("no fork here")
        read, write = os.pipe()
        sys.stderr.flush()
        stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        held = signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # none may reach the
        try:                                                    # child before it ignores them
            pid = os.fork()
            if pid == 0:  # the filter: read until every writer is gone, then leave quietly
                try:
                    for signum in stops:
                        signal.signal(signum, signal.SIG_IGN)
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
                    os.close(write)
                    with os.fdopen(read, "rb") as pipe:
                        for raw in pipe:
                            if not NATIVE_CHATTER.match(raw.decode("utf-8", "replace")):
                                try:
                                    os.write(2, raw)
                                except OSError:  # the terminal is gone: keep draining
                                    pass
                finally:
                    os._exit(0)
        finally:  # the parent (the child never gets here)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read)
        self.pid = pid
        self.real = os.dup(2)
        os.dup2(write, 2)
        os.close(write)

    def stop(self) -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.real, 2)  # our last copy of the pipe is gone: the filter reads to EOF
        os.close(self.real)
        import time

        deadline = time.monotonic() + 2.0  # a process we started may still hold the pipe
        while time.monotonic() < deadline:
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.01)


_filter: NativeLogFilter | None = None


def stop_filtering() -> None:
    """Flush and undo the native log filter (before ``os._exit``); harmless without one."""
    global _filter
    if _filter is not None:
        _filter.stop()
        _filter = None


def console_main() -> int:
    """The installed ``uniskel`` command: ``main`` with native chatter filtered out of the
    terminal unless ``--verbose`` is given."""
    global _filter
    argv = sys.argv[1:]
    verbose = "--verbose" in argv
    if verbose:
        argv = [a for a in argv if a != "--verbose"]
        os.environ.setdefault("OPENCV_LOG_LEVEL", "INFO")
    else:
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
        try:
            _filter = NativeLogFilter()
        except OSError:  # no file descriptors to spare: keep the chatter
            _filter = None
    try:
        return main(argv)
    finally:
        stop_filtering()


def main(argv: list[str] | None = None) -> int:
    quiet_native_logs()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    prog = f"uniskel {args.command}"
    if args._extra and extras.missing(args._extra):  # its options are unknown without it
        return reporting(prog, lambda: extras.require(args._extra, prog))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # every command but the window (which handles its own closing) stops on SIGINT,
    # SIGTERM and SIGHUP through its finally blocks, outputs finalised: exit 128 + signal
    return reporting(prog, lambda: importlib.import_module(args._module).run(args),
                     signals=args.command != "demo")


if __name__ == "__main__":
    sys.exit(console_main())
