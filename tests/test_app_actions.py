"""The action table (app/actions.py) is the one source of the window's menus, shortcuts and
shortcut sheet (F1)."""
from __future__ import annotations

import os

import pytest

import cv2  # noqa: F401 - sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")

from uniskel.app import actions  # noqa: E402


def test_the_f1_sheet_lists_every_action_of_the_table_with_its_shortcut(qtbot, window):
    from PySide6.QtCore import Qt

    rows = window.help.rows
    assert rows == actions.help_rows()
    keyed = [a for a in actions.ACTIONS if a.keys]
    shown_keys = {k for keys, _ in rows for k in keys.split(" or ")}
    # every key of the sheet as it was written by hand before the table
    assert shown_keys >= {"1", "2", "3", "N", "C", "M", "-", "+", "[", "]", "Space", "Left",
                          "Right", "V", "D", "R", "S", "Ctrl+O", "Ctrl+Shift+O", "P", "F11",
                          "F1", "?", "Esc", "Ctrl+Q"}
    for a in keyed:
        assert (" or ".join(a.keys), a.help) in rows, a.name
    assert [k for k, _ in rows[:len(keyed)]] == [" or ".join(a.keys) for a in keyed]
    assert ("click", "the dashboard follows the person clicked on") in rows
    # and the sheet is what F1 shows
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    assert window.help.isVisible()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.help.isVisible()


def test_menus_and_shortcuts_are_built_from_the_table(window):
    from PySide6.QtGui import QKeySequence

    rows = [a for a in actions.ACTIONS if a.name != "-"]
    assert sorted(window.action) == sorted(a.name for a in rows)
    for row in rows:
        qa = window.action[row.name]
        assert [s.toString() for s in qa.shortcuts()] == \
            [QKeySequence(k).toString() for k in row.keys], row.name
        assert qa.isCheckable() == row.checkable
        assert qa in window.actions()  # shortcuts work with menus and toolbars hidden
    menus = {m.text().lstrip("&"): m.menu() for m in window.menuBar().actions()}
    assert list(menus) == list(actions.MENUS)
    for title, menu in menus.items():
        expected = ["-" if a.name == "-" else a.text for a in actions.ACTIONS
                    if a.menu == title]
        assert [a.text() or "-" for a in menu.actions()] == expected, title
    # the menu bar as it was before the table (the user sees the same menus)
    assert [a.text() or "-" for a in menus["File"].actions()] == [
        "Open file...", "Open sample video", "Open sample image", "Open model...", "-",
        "Record", "Snapshot", "Recording folder...", "-", "Quit"]
    assert [a.text() for a in menus["Playback"].actions()] == [
        "Play/Pause", "Back 1 s", "Forward 1 s"]


def test_each_kind_of_row_calls_its_handler(qtbot, window):
    """Grouped rows pass their arg when checked, checkable rows their state, plain rows
    their arg (or nothing)."""
    window.action["subset_mpii"].trigger()
    assert window.settings.subset == "mpii" and window.display.options().subset == "mpii"
    window.action["names"].trigger()
    assert window.settings.show_names and window.display.options().show_names
    width = window.settings.line_width
    window.action["thicker"].trigger()
    assert window.settings.line_width == width + 1
    threshold = window.settings.threshold
    window.action["lower"].trigger()
    assert window.settings.threshold == pytest.approx(threshold - 0.05)
    window.action["compare_movenet:thunder"].trigger()
    assert window.settings.compare_with == "movenet:thunder"
    window.action["help"].trigger()
    assert window.help.isVisible()
    window.action["escape"].trigger()
    assert not window.help.isVisible()


def test_a_new_row_is_a_new_menu_entry_shortcut_and_help_line(qtbot):
    """The table drives everything: a row added to a table reaches all three."""
    from PySide6.QtWidgets import QMainWindow

    calls = []

    class Host(QMainWindow):
        def hello(self):
            calls.append("hello")

    host = Host()
    qtbot.addWidget(host)
    table = (actions.Action("hello", "Say hello", ("Ctrl+H",), "Help", "hello",
                            "say hello"),)
    built = actions.build(host, table)
    actions.fill_menus(host.menuBar(), built, table)
    built["hello"].trigger()
    assert calls == ["hello"]
    assert ("Ctrl+H", "say hello") in actions.help_rows(table)
    help_menu = [m.menu() for m in host.menuBar().actions() if m.text() == "&Help"][0]
    assert [a.text() for a in help_menu.actions()] == ["Say hello"]
