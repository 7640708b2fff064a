"""Where the main window stands on the screen: its size and place on a first launch, the
dashboard's share of its width, and both as the user left them (``WindowPlacement``, a
part of ``app.window.MainWindow``)."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QApplication

from uniskel.app import settings as settings_mod

FIRST_SHARE = 2 / 3     # a first launch takes this much of the screen's free area...
FIRST_AT_LEAST = QSize(960, 600)  # ...but no less than this where the screen has room
DOCK_SHARE = 0.3        # the dashboard's share of the window's width on a first launch
DOCK_MIN_WIDTH = 280


def first_launch_rect(free: QRect) -> QRect:
    """Where a first launch opens on a screen whose free area (``availableGeometry``) is
    ``free``: two thirds of it (1280x720 on 1920x1080), at least 960x600 where 90% of the
    screen has that much (a laptop's 1366x768 gets 960x600; a smaller screen 90%, which
    leaves room for the window's frame), centred on it."""
    w = max(round(free.width() * FIRST_SHARE),
            min(FIRST_AT_LEAST.width(), int(free.width() * 0.9)))
    h = max(round(free.height() * FIRST_SHARE),
            min(FIRST_AT_LEAST.height(), int(free.height() * 0.9)))
    return QRect(free.x() + (free.width() - w) // 2, free.y() + (free.height() - h) // 2, w, h)


class WindowPlacement:
    """For a QMainWindow with a ``dock`` (the dashboard), ``settings`` and ``_store``
    (the settings store, None: the app's own)."""

    def _restore_geometry(self):
        """The size, place and dashboard width the window had when it last closed
        ("geometry" and "window_state" in the settings store), else a first launch's."""
        store = self._store if self._store is not None else settings_mod.qsettings()
        restored = False
        geometry = store.value("geometry")
        if geometry is not None:
            try:
                restored = bool(self.restoreGeometry(geometry))
            except TypeError:
                pass  # a damaged entry: fit the screen as on a first launch
        if not restored:
            self.fit_screen()
            return
        self.fit_dock()
        state = store.value("window_state")
        if state is not None:
            try:
                self.restoreState(state)  # the dashboard's width as the user left it
            except TypeError:
                pass
            self.dock.setVisible(self.settings.dashboard)  # the setting decides, as ever

    def fit_screen(self, free: QRect | None = None) -> None:
        """First launch: two thirds of the free area of the screen the window opens on
        (``free``, by default that screen's ``availableGeometry``), centred on it
        (first_launch_rect), the dashboard a third of the width at most."""
        if free is None:
            screen = self.screen() or QApplication.primaryScreen()
            if screen is None:
                return
            free = screen.availableGeometry()
        rect = first_launch_rect(free)
        self.resize(rect.size())
        self.move(rect.topLeft())  # the frame's corner: a title bar stays on the screen
        self.fit_dock()

    def fit_dock(self) -> None:
        """The dashboard beside the video at DOCK_SHARE of the window's width (never over a
        third, never under its minimum); the video gets the rest. The user can drag the
        edge between them; closing remembers where (window_state)."""
        width = min(round(self.width() * DOCK_SHARE), self.width() // 3)
        self.resizeDocks([self.dock], [max(width, DOCK_MIN_WIDTH)], Qt.Orientation.Horizontal)

