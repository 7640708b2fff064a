"""Every command of the window, in one table: its menu entry, its shortcut, what it calls and
its line in the shortcut sheet (F1).

Read a row as: ``name`` (``window.action[name]``), the label, the keys, the menu it sits
in ("" for a shortcut only), the handler, the help text (tooltip and F1 line). The
handler is a dotted path from the window: ``"sources.toggle_play"`` calls
``window.sources.toggle_play``. How it is called:

* a plain action: ``handler()``, or ``handler(arg)`` when the row has an ``arg``;
* a checkable action: ``handler(checked)`` on every toggle;
* a checkable action in a ``group`` (one of several, like the keypoint subsets):
  ``handler(arg)`` when it becomes the checked one.

``build`` makes the QActions, ``fill_menus`` the menu bar, ``help_rows`` the F1 sheet:
all three read this table, so a new command is one new row.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from uniskel.app.settings import COMPARE_WITH

MENUS = ("File", "View", "Playback", "Help")   # the menu bar, left to right


@dataclass(frozen=True)
class Action:
    name: str                     # window.action[name]; "-" is a separator in its menu
    text: str = ""                # menu label
    keys: tuple[str, ...] = ()    # shortcuts, the first is the main one
    menu: str = ""                # one of MENUS, or "" (shortcut only)
    handler: str = ""             # dotted path from the window
    help: str = ""                # tooltip and shortcut-sheet line
    checkable: bool = False
    group: str = ""               # exclusive group: handler(arg) when checked
    arg: object = None
    short: str = ""               # toolbar label, where the menu label is too long


def separator(menu: str) -> Action:
    return Action("-", menu=menu)


ACTIONS: tuple[Action, ...] = (
    # --- File
    Action("open", "Open file...", ("Ctrl+O",), "File", "sources.open_dialog",
           "open a video or image (or drop it on the window)"),
    Action("sample", "Open sample video", (), "File", "sources.open_sample_video",
           "the bundled sample video"),
    Action("sample_image", "Open sample image", (), "File", "sources.open_sample_image",
           "the bundled sample image"),
    Action("open_model", "Open model...", ("Ctrl+Shift+O",), "File",
           "engines.open_model_dialog",
           "open a model, .pt or .onnx (or drop it on the window); read as data, never "
           "run as code"),
    separator("File"),
    Action("record", "Record", ("R",), "File", "recording.set_recording",
           "start / stop recording (MP4 + keypoints)", checkable=True),
    Action("snapshot", "Snapshot", ("S",), "File", "recording.snapshot",
           "snapshot: the annotated frame as PNG"),
    Action("folder", "Recording folder...", (), "File", "recording.choose_folder",
           "where recordings and snapshots go"),
    separator("File"),
    Action("quit", "Quit", ("Ctrl+Q",), "File", "close", "quit"),
    # --- View
    Action("subset_coco", "COCO 17", ("1",), "View", "display.set_subset",
           "show the COCO 17 keypoints", checkable=True, group="subset", arg="coco"),
    Action("subset_mpii", "MPII 16", ("2",), "View", "display.set_subset",
           "show the MPII 16 keypoints", checkable=True, group="subset", arg="mpii"),
    Action("subset_all", "All 21", ("3",), "View", "display.set_subset",
           "show all 21 keypoints", checkable=True, group="subset", arg="all"),
    separator("View"),
    Action("names", "Names", ("N",), "View", "display.set_names", "keypoint names on/off",
           checkable=True),
    Action("colours", "Left/right colours", ("C",), "View", "display.set_colours",
           "left/right colours (left warm, right cool) or one colour per person",
           checkable=True, short="L/R colours"),
    Action("mirror", "Mirror", ("M",), "View", "display.set_mirror", "mirror the view",
           checkable=True),
    Action("one_person", "Follow one person", ("P",), "View", "display.set_one_person",
           "follow one person (the most prominent) / everyone in the frame, up to the cap",
           checkable=True, short="One person"),
    Action("thinner", "Thinner lines", ("-",), "View", "display.nudge_width", "thinner lines",
           arg=-1),
    Action("thicker", "Thicker lines", ("+", "="), "View", "display.nudge_width",
           "thicker lines", arg=1),
    Action("lower", "Lower threshold", ("[",), "View", "display.nudge_threshold",
           "lower the confidence threshold", arg=-0.05),
    Action("raise", "Raise threshold", ("]",), "View", "display.nudge_threshold",
           "raise the confidence threshold", arg=0.05),
    separator("View"),
    Action("compare", "Compare", ("V",), "View", "engines.set_compare",
           "the student and another model side by side (View > Compare with)",
           checkable=True),
    *(Action(f"compare_{key}", f"Compare with {label}", (), "View",
             "engines.set_compare_with", f"the compare view runs {label}", checkable=True,
             group="compare_with", arg=key)
      for key, label in COMPARE_WITH.items()),
    Action("dashboard", "Dashboard", ("D",), "View", "display.set_dashboard",
           "dashboard on/off", checkable=True),
    Action("present", "Presenter mode", ("F11",), "View", "set_presenter",
           "presenter mode (full screen, large status line)", checkable=True,
           short="Present"),
    # --- Playback
    Action("play", "Play/Pause", ("Space",), "Playback", "sources.toggle_play",
           "play / pause the video"),
    Action("back", "Back 1 s", ("Left",), "Playback", "sources.step", "back 1 s", arg=-1.0),
    Action("forward", "Forward 1 s", ("Right",), "Playback", "sources.step", "forward 1 s",
           arg=1.0),
    # --- Help, and keys without a menu entry
    Action("help", "Shortcuts", ("F1", "?"), "Help", "toggle_help",
           "list the keyboard shortcuts (this sheet)",
           short="Help"),
    Action("escape", "Leave", ("Esc",), "", "escape", "close help / leave presenter mode"),
)

#: lines of the shortcut sheet that are not keys
MOUSE_HELP = (("click", "the dashboard follows the person clicked on"),)


def keys_text(action: Action) -> str:
    return " or ".join(action.keys)


def tooltip(action: Action) -> str:
    return f"{action.help} ({keys_text(action)})" if action.keys else action.help


def help_rows(table=ACTIONS) -> list[tuple[str, str]]:
    """(keys, what) of every action with a shortcut, in table order, then the mouse."""
    return [(keys_text(a), a.help) for a in table if a.keys] + list(MOUSE_HELP)


def build(window, table=ACTIONS) -> dict[str, QAction]:
    """The QActions of ``table``, added to ``window`` (shortcuts work while menus and
    toolbars are hidden) and connected to their handlers."""
    actions: dict[str, QAction] = {}
    groups: dict[str, QActionGroup] = {}
    for row in table:
        if row.name == "-":
            continue
        a = QAction(row.text, window)
        if row.keys:
            a.setShortcuts([QKeySequence(k) for k in row.keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setToolTip(tooltip(row))
        if row.short:
            a.setIconText(row.short)
        a.setCheckable(row.checkable)
        handler = attrgetter(row.handler)(window)
        if row.group:
            groups.setdefault(row.group, QActionGroup(window)).addAction(a)
            a.toggled.connect(lambda on, f=handler, v=row.arg: on and f(v))
        elif row.checkable:
            a.toggled.connect(handler)
        elif row.arg is not None:
            a.triggered.connect(lambda _=False, f=handler, v=row.arg: f(v))
        else:
            a.triggered.connect(lambda _=False, f=handler: f())
        window.addAction(a)
        actions[row.name] = a
    return actions


def fill_menus(menu_bar, actions: dict[str, QAction], table=ACTIONS) -> None:
    """The menu bar: MENUS in order, each with its rows in table order."""
    for title in MENUS:
        menu = menu_bar.addMenu(f"&{title}")
        for row in table:
            if row.menu != title:
                continue
            if row.name == "-":
                menu.addSeparator()
            else:
                menu.addAction(actions[row.name])
