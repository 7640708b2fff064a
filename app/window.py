"""The main window: it lays out the views, toolbars, menus and dashboard, builds the
controllers that do the work, and wires them to each other; it also shows errors, the
status line, presenter mode and the shortcut sheet (its size and place on the screen:
app/placement.py).

    app/actions.py              every command: menu entry, shortcut, handler, F1 line
    app/controllers/sources.py  sources and playback
    app/controllers/engines.py  backends, model files, the compare view
    app/controllers/display.py  overlay options, results into the views, the dashboard
    app/controllers/recording.py recording and snapshots

Threads: each source reads frames in its own thread and hands them straight to the
engine bridges (which run the model in the engine worker threads); the recorder gets
every result on the engine's thread; the GUI thread receives only the newest finished
result and paints it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QToolBar, QWidget

from uniskel.app import actions as actions_mod, settings as settings_mod
from uniskel.app.controllers.display import DisplayController
from uniskel.app.controllers.engines import MODEL_SUFFIXES, EnginesController
from uniskel.app.controllers.recording import RecordingController
from uniskel.app.controllers.sources import SourcesController
from uniskel.app.dashboard import Dashboard
from uniskel.app.engine_bridge import EngineBridge, backend_availability
from uniskel.app.help import HelpOverlay
from uniskel.app.overlay import OverlayView
from uniskel.app.placement import DOCK_MIN_WIDTH, WindowPlacement
from uniskel.app.recorder import Recorder
from uniskel.engine import assets

ERROR_SECONDS = 8.0


class MainWindow(WindowPlacement, QMainWindow):
    error_shown = Signal(str)

    def __init__(self, model_path: str | None = None, store=None, autoload: bool = True):
        super().__init__()
        self.autoload = autoload
        self.setWindowTitle("uniskel: live 21-keypoint pose")
        self.setAcceptDrops(True)
        self._store = store
        self.settings = settings_mod.load(store)
        self.last_error = ""
        self._error_until = 0.0
        self.presenting = False
        self.closing = False         # late callbacks (a backend that finished loading) skip
        self._before_present = {}

        # the shared pieces: two views, two engines, the recorder, the dashboard
        self.view = OverlayView()
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.compare_view = OverlayView()
        self.compare_view.placeholder = "MediaPipe: loading"
        self.compare_view.hide()
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.compare_view, 1)
        self.setCentralWidget(central)
        self.help = HelpOverlay(actions_mod.help_rows(), central)
        self.help.hide()
        self.engine = EngineBridge("student", self)
        self.compare_engine = EngineBridge("compare", self)
        self.recorder = Recorder(self)
        self.dashboard = Dashboard()
        self.dock = QDockWidget("Dashboard", self)
        self.dock.setObjectName("dashboard")
        self.dock.setWidget(self.dashboard)
        self.dock.setMinimumWidth(DOCK_MIN_WIDTH)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

        # the controllers, and how they talk to each other
        self.engines = EnginesController(self, model_path)
        self.sources = SourcesController(self, deliver=self.engines.submit)
        self.display = DisplayController(self)
        self.recording = RecordingController(self)
        self.sources.switched.connect(self.engines.reset)
        self.sources.switched.connect(self.display.reset)
        self.sources.restored.connect(self.engines.reset)
        self.sources.closing.connect(self.recording.stop_and_wait)
        self.sources.ended.connect(self.recording.stop)
        self.display.options_changed.connect(self.recording.set_options)

        self.action = actions_mod.build(self)  # QActions by name (app/actions.py)
        self._build_toolbars()
        actions_mod.fill_menus(self.menuBar(), self.action)
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)
        for part in (self.display, self.engines, self.sources):
            part.apply_settings()
        self._restore_geometry()
        icon = assets.asset("icons", "uniskel.png")
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))

        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self.update_status)
        self._status_timer.start(250)
        self.sources.watch_cameras()
        backend_availability(self.engines.on_availability)

    # --- what app/main.py and the tests call ----------------------------------------------
    def open_path(self, spec: str) -> bool:
        return self.sources.open_path(spec)

    def default_source(self) -> str:
        return self.sources.default_source()

    def load_backend(self, name: str) -> None:
        self.engines.load_backend(name)

    def open_model_dialog(self) -> None:
        self.engines.open_model_dialog()

    @property
    def model_path(self) -> str | None:
        return self.engines.model_path

    @model_path.setter
    def model_path(self, path: str | None) -> None:
        self.engines.model_path = path

    # --- construction ----------------------------------------------------------------
    def _build_toolbars(self):
        a, src, disp = self.action, self.sources, self.display
        tb = QToolBar("Source", self)
        tb.setObjectName("source_toolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(18, 18))
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        tb.addWidget(QLabel(" Source "))
        for w in (src.combo, src.play_button, src.seek, src.time_label, src.loop_box):
            tb.addWidget(w)
        tb.addSeparator()
        tb.addAction(a["record"])
        tb.addAction(a["snapshot"])

        tb2 = QToolBar("Model and overlay", self)
        tb2.setObjectName("overlay_toolbar")
        tb2.setMovable(False)
        self.addToolBarBreak()
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb2)
        tb2.addWidget(QLabel(" Backend "))
        tb2.addWidget(self.engines.combo)
        tb2.addAction(a["compare"])
        tb2.addSeparator()
        for name in ("subset_coco", "subset_mpii", "subset_all"):
            tb2.addAction(a[name])
        tb2.addSeparator()
        tb2.addWidget(QLabel(" Threshold "))
        tb2.addWidget(disp.threshold)
        tb2.addWidget(disp.threshold_label)
        tb2.addWidget(QLabel(" Width "))
        tb2.addWidget(disp.width_spin)
        tb2.addWidget(QLabel(" People "))
        tb2.addWidget(disp.people_spin)
        for name in ("names", "colours", "mirror", "one_person"):
            tb2.addAction(a[name])
        tb2.addSeparator()
        for name in ("dashboard", "present", "help"):
            tb2.addAction(a[name])
        self.toolbars = [tb, tb2]

    # --- drag and drop ---------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            path = urls[0].toLocalFile()
            if Path(path).suffix.lower() in MODEL_SUFFIXES:
                self.engines.open_model(path)  # a model file: run it, never open it as a video
            else:
                self.sources.open_path(path)
            event.acceptProposedAction()

    # --- presenter mode, help, messages ----------------------------------------------
    def set_presenter(self, on):
        on = bool(on)
        if on == self.presenting:
            return
        self.presenting = on
        chrome = [self.menuBar(), self.statusBar(), *self.toolbars]
        if on:
            self._before_present = {"maximized": self.isMaximized(),
                                    "dock": self.dock.isVisible()}
            for w in chrome:
                w.hide()
            self.dock.hide()
            self.view.large_text = self.compare_view.large_text = True
            self.showFullScreen()
        else:
            for w in chrome:
                w.show()
            self.dock.setVisible(self._before_present.get("dock", self.settings.dashboard))
            self.view.large_text = self.compare_view.large_text = False
            self.showMaximized() if self._before_present.get("maximized") else self.showNormal()
        present = self.action["present"]
        if present.isChecked() != on:
            present.setChecked(on)
        self.help.large = on
        self.update_status()

    def toggle_help(self):
        self.help.setVisible(not self.help.isVisible())
        if self.help.isVisible():
            self.help.raise_()
            self.help.setGeometry(self.centralWidget().rect())

    def escape(self):
        if self.help.isVisible():
            self.help.hide()
        elif self.presenting:
            self.set_presenter(False)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.help.setGeometry(self.centralWidget().rect())

    def show_error(self, message: str):
        """Show a problem in the window (never a traceback); the app stays usable."""
        message = str(message).strip().splitlines()[0] if str(message).strip() else "error"
        self.last_error = message
        if self.closing:
            print(f"uniskel demo: {message}", file=sys.stderr)
            return
        self._error_until = time.monotonic() + ERROR_SECONDS
        self.view.set_text(banner=message)
        self.statusBar().showMessage(message, int(ERROR_SECONDS * 1000))
        print(f"uniskel demo: {message}", file=sys.stderr)
        self.error_shown.emit(message)

    def update_status(self):
        if self._error_until and time.monotonic() > self._error_until:
            self._error_until = 0.0
            self.view.set_text(banner=self.sources.lost_message)
        if self.engine.running:
            self.view.set_text(title=self.engine.speed_caption())
        if self.compare_view.isVisible() and self.compare_engine.running:
            self.compare_view.set_text(title=self.compare_engine.speed_caption())
        cur = self.dashboard.current()
        parts = [self.sources.name() or "no source", self.engine.backend_name or "no backend"]
        if cur:
            parts.append(f"{cur['fps']:.1f} fps")
            parts.append(f"{cur['latency_ms']:.0f} ms capture to paint")
        if self.recorder.active:
            parts.append(f"REC {self.recorder.frames} frames")
        line = "  |  ".join(parts)
        self.status_label.setText(line)
        self.view.set_text(status=line if self.presenting or self.recorder.active else "")

    def closeEvent(self, event):  # noqa: N802
        self.closing = True
        self._status_timer.stop()
        self.sources.close("window closed")
        self.recorder.finish()  # one stopped at the end of a video may still be writing
        self.engine.shutdown()
        self.compare_engine.shutdown()
        if self.presenting:
            self.settings.dashboard = self._before_present.get("dock", self.settings.dashboard)
        try:
            settings_mod.save(self.settings, self._store)
            store = self._store if self._store is not None else settings_mod.qsettings()
            if not self.presenting:  # full screen, no toolbars: not the window to reopen
                store.setValue("geometry", self.saveGeometry())
                store.setValue("window_state", self.saveState())
            store.sync()
        except Exception:  # noqa: BLE001 - failing to remember settings must not block quitting
            pass
        super().closeEvent(event)
