"""One exception type for problems a user can fix: a bad path, a corrupt file, a missing camera.

Its message is one readable line; the CLI prints it and exits non-zero, the GUI shows it.
"""


class UniskelError(Exception):
    """A user-facing error with a one-line, specific message."""
