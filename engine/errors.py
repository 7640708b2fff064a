"""One exception type for problems a user can fix: a bad path, a corrupt file, a missing camera.

Its message is one readable line; the CLI prints it and exits non-zero, the GUI shows it.
"""


class UniskelError(Exception):
    """A user-facing error with a one-line, specific message."""


def run_cli(prog: str, add_arguments, run, argv=None) -> int:
    """``python -m engine.X``: parse, run, and turn a UniskelError into one line + exit 2."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog=prog)
    add_arguments(parser)
    try:
        return int(run(parser.parse_args(argv)) or 0)
    except UniskelError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
