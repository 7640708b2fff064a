"""One exception type for problems a user can fix: a bad path, a corrupt file, a missing camera.

Its message is one readable line; the CLI prints it and exits non-zero, the GUI shows it.
"""


class UniskelError(Exception):
    """A user-facing error with a one-line, specific message."""


def first_line(exc: BaseException, limit: int = 150) -> str:
    """The first line of a library's exception message (its type if it has none), for
    quoting inside one of our one-line messages."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def reporting(prog: str, fn) -> int:
    """Run ``fn()``; a UniskelError becomes one line on stderr and exit 2, Ctrl+C 130."""
    import sys

    try:
        return int(fn() or 0)
    except UniskelError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
