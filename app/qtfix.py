"""A guard against a PySide6 binding bug that would abort a long demo.

PySide6 6.12.0 on Python < 3.12 (where ``None`` is an ordinary reference-counted
object) drops one reference to ``None`` on every call of a method that returns
nothing (``QPainter.drawLine``, ``QLabel.setText``, ...). The demo makes thousands of
such calls a second, so after about a minute ``None``'s count reaches zero and Python
aborts with "deallocating None". pyproject.toml excludes 6.12.0; if it is installed
anyway, ``NoneGuard`` notices (``leaks_none``), adds a large cushion of references and
hands back the lost ones twice a second, so the window keeps running. On a fixed PySide6, or Python >= 3.12, it does
nothing.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, QTimer


def leaks_none(calls: int = 200) -> bool:
    """True when a void PySide6 method call loses a reference to None."""
    if sys.version_info >= (3, 12):
        return False  # None is immortal there
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None) >= calls // 2


CUSHION = 10_000_000   # references added once: hours of slack between top-ups


def _incref_none(n: int) -> None:
    """Add ``n`` references to None in one step (CPython object header; approximate if
    another thread touches None meanwhile, which the cushion absorbs)."""
    ctypes.c_ssize_t.from_address(id(None)).value += n


class NoneGuard(QObject):
    """Keeps None's reference count from falling below where it was when started."""

    def __init__(self, parent=None, interval_ms: int = 500, cushion: int = CUSHION):
        super().__init__(parent)
        _incref_none(cushion)
        self.floor = sys.getrefcount(None)
        self.restored = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.top_up)
        self._timer.start(interval_ms)

    def top_up(self) -> int:
        lost = self.floor - sys.getrefcount(None)
        if lost > 0:
            _incref_none(lost)
            self.restored += lost
        return max(lost, 0)


def install(app) -> NoneGuard | None:
    """Start the guard on ``app`` if this PySide6 needs it (and say so once)."""
    if not leaks_none():
        return None
    import PySide6
    print(f"uniskel demo: PySide6 {PySide6.__version__} has a reference-count bug on this "
          f"Python; working around it (install PySide6 6.11.3 to avoid this)", file=sys.stderr)
    return NoneGuard(app)
