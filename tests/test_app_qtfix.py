"""The guard that undoes PySide6 6.12.0's lost references to None (see app/qtfix.py)."""
from __future__ import annotations

import ctypes
import sys

import pytest

pytest.importorskip("pytestqt")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on Python >= 3.12")
def test_guard_gives_back_lost_none_references(qapp):
    from uniskel.app.qtfix import NoneGuard
    guard = NoneGuard(interval_ms=60_000, cushion=0)
    floor = guard.floor
    decref, none = ctypes.pythonapi.Py_DecRef, ctypes.py_object(None)
    for _ in range(300):  # what 300 void calls do on the buggy PySide6
        decref(none)
    assert sys.getrefcount(None) < floor - 200
    assert guard.top_up() >= 200
    assert sys.getrefcount(None) >= floor - 5
    assert guard.restored >= 200


def test_installed_pyside_is_detected_correctly(qapp):
    import PySide6
    from uniskel.app.qtfix import leaks_none
    buggy = PySide6.__version__ == "6.12.0" and sys.version_info < (3, 12)
    assert leaks_none() == buggy
