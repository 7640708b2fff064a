"""One exception type for problems a user can fix: a bad path, a corrupt file, a missing camera.

Its message is one readable line; the CLI prints it and exits non-zero, the GUI shows it.

Interruptions: ``reporting`` turns SIGINT, SIGTERM and SIGHUP into ``Interrupted`` (a
KeyboardInterrupt, so every ``finally`` and ``except KeyboardInterrupt`` that finalises
outputs runs for all three) and exits 128 + the signal's number (130, 143, 129) with one
line. ``held_signals()`` holds them while a file is being finalised (an MP4's index, a
rename) and delivers the first one afterwards.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading

#: the signals that stop a command: Ctrl+C, kill / a service manager, the terminal closed
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class UniskelError(Exception):
    """A user-facing error with a one-line, specific message."""


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) arrived; ``kept`` may say what was written."""

    def __init__(self, signum: int = signal.SIGINT, kept: str = ""):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.kept = int(signum), kept


def signal_name(exc: BaseException) -> str:
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a command that a signal stopped."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def first_line(exc: BaseException, limit: int = 150) -> str:
    """The first line of a library's exception message (its type if it has none), for
    quoting inside one of our one-line messages."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def stopping_on_signals():
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` inside the block (main thread
    only; elsewhere, and for signals Python may not handle, nothing changes)."""
    if not _main_thread():
        yield
        return
    old = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_IGN:  # e.g. nohup: leave it ignored
            continue
        old[signum] = signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def held_signals():
    """Hold the stop signals while the block runs (finishing a file must not be cut
    short); the first that arrived is delivered again once the block is over, to
    whatever handles it then. Main thread only; elsewhere the block just runs."""
    if not _main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum, frame):
        arrived.append(signum)

    old = {s: signal.signal(s, hold) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if arrived:
            os.kill(os.getpid(), arrived[0])


def say(line: str) -> None:
    """One line on stderr; a stderr that is gone (a closed terminal) is not an error."""
    import sys

    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def reporting(prog: str, fn, signals: bool = True) -> int:
    """Run ``fn()``; a UniskelError becomes one line on stderr and exit 2; SIGINT, SIGTERM
    and SIGHUP (with ``signals``; else Ctrl+C alone) one line and 130, 143, 129."""
    try:
        with stopping_on_signals() if signals else contextlib.nullcontext():
            return int(fn() or 0)
    except UniskelError as exc:
        say(f"{prog}: error: {exc}")
        return 2
    except KeyboardInterrupt as exc:
        kept = getattr(exc, "kept", "")
        say(f"{prog}: interrupted by {signal_name(exc)}" + (f"; {kept}" if kept else ""))
        return exit_code(exc)
