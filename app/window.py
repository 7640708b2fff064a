"""The main window: source controls, overlay controls, the frame view(s), the dashboard.

Threads: each source reads frames in its own thread and hands them straight to the
engine bridge (which runs the model in the engine worker thread); the GUI thread
receives only the newest finished result and paints it.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QStandardItemModel
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDockWidget, QFileDialog,
                               QHBoxLayout, QLabel, QMainWindow, QPushButton, QSlider, QSpinBox,
                               QToolBar, QWidget)

from uniskel.app import capture, settings as settings_mod
from uniskel.app.dashboard import Dashboard
from uniskel.app.engine_bridge import BACKEND_LABELS, EngineBridge, backend_availability
from uniskel.app.help import HelpOverlay
from uniskel.app.overlay import OverlayOptions, OverlayView
from uniskel.app.recorder import Recorder, default_folder, save_snapshot
from uniskel.engine import assets, backends
from uniskel.engine.errors import UniskelError

SAMPLE_VIDEO = "media/sample_astronaut.mp4"
SAMPLE_IMAGE = "media/astronaut.png"
#: the model files the student backends run (from engine.backends: .pt, .onnx)
MODEL_SUFFIXES = tuple(sorted({m.MODEL_SUFFIX for m in backends.MODULES.values()
                               if m.MODEL_SUFFIX}))
MODEL_FILTER = f"uniskel models ({' '.join('*' + x for x in MODEL_SUFFIXES)})"
VIDEO_FILTER = "Videos and images (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.png *.jpg *.jpeg *.bmp);;All files (*)"
ERROR_SECONDS = 8.0


def sample_video() -> Path:
    return assets.asset(SAMPLE_VIDEO)


def sample_image() -> Path:
    return assets.asset(SAMPLE_IMAGE)


class MainWindow(QMainWindow):
    error_shown = Signal(str)

    def __init__(self, model_path: str | None = None, store=None, autoload: bool = True):
        super().__init__()
        self.autoload = autoload
        self.setWindowTitle("uniskel: live 21-keypoint pose")
        self.setAcceptDrops(True)
        self.resize(1280, 780)
        self.model_path = model_path
        self._model_before = None  # (model path,) while an opened model is loading
        self._store = store
        self.settings = settings_mod.load(store)
        self.source = None
        self.source_label = ""
        self.source_info: dict = {}
        self.last_error = ""
        self._error_until = 0.0
        self._lost_message = ""
        self._availability: dict[str, str | None] = {}
        self._presenting = False
        self._comparing = False      # read by the source thread, so a plain bool
        self._closing = False        # late callbacks (a backend that finished loading) skip
        self._before_present = {}
        self._last_result = None     # (packet, result) painted last in the main view

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
        self.help = HelpOverlay(central)
        self.help.hide()

        self.engine = EngineBridge("student", self)
        self.engine.result_ready.connect(self._on_result)
        self.engine.ready.connect(self._on_backend_ready)
        self.engine.failed.connect(self._on_backend_failed)
        self.engine.problem.connect(self.show_error)
        self.compare_engine = EngineBridge("compare", self)
        self.compare_engine.result_ready.connect(self._on_compare_result)
        self.compare_engine.failed.connect(self._on_compare_failed)
        self.compare_engine.problem.connect(self.show_error)
        self.recorder = Recorder(self)
        self.recorder.stopped.connect(self._on_recording_stopped)
        self.engine.recorder = self.recorder

        self.dashboard = Dashboard()
        self.dock = QDockWidget("Dashboard", self)
        self.dock.setObjectName("dashboard")
        self.dock.setWidget(self.dashboard)
        self.dock.setMinimumWidth(330)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.resizeDocks([self.dock], [380], Qt.Orientation.Horizontal)
        self.view.on_painted = self._on_painted
        self.view.on_clicked = self.follow_at
        self.followed_id: int | None = None  # the person the dashboard follows

        self._build_actions()
        self._build_toolbars()
        self._build_menus()
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)
        self._apply_settings()
        self._restore_geometry()
        icon = assets.asset("icons", "uniskel.png")
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))

        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(250)
        self._devices = None
        self._watch_cameras()
        backend_availability(self._on_availability)

    # --- construction ----------------------------------------------------------------
    def _action(self, text, slot, keys=(), checkable=False, tip=""):
        a = QAction(text, self)
        if keys:
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setCheckable(checkable)
        if tip:
            a.setToolTip(tip)
        (a.toggled if checkable else a.triggered).connect(slot)
        self.addAction(a)  # shortcuts keep working while menus and toolbars are hidden
        return a

    def _build_actions(self):
        self.subset_group = QActionGroup(self)
        self.subset_actions = {}
        for key, (label, shortcut) in {"coco": ("COCO 17", "1"), "mpii": ("MPII 16", "2"),
                                       "all": ("All 21", "3")}.items():
            a = self._action(label, lambda on, k=key: on and self.set_subset(k), [shortcut],
                             checkable=True, tip=f"show the {label} keypoints ({shortcut})")
            self.subset_group.addAction(a)
            self.subset_actions[key] = a
        self.names_action = self._action("Names", self._set_names, ["N"], True,
                                         "keypoint names on/off (N)")
        self.mirror_action = self._action("Mirror", self._set_mirror, ["M"], True,
                                          "mirror the view (M)")
        self.colours_action = self._action("Left/right colours", self._set_colours, ["C"],
                                           True, "left warm, right cool (C)")
        self.dashboard_action = self._action("Dashboard", self._set_dashboard, ["D"], True,
                                             "show the dashboard (D)")
        self.compare_action = self._action("Compare", self.set_compare, ["V"], True,
                                           "the student and another model side by side (V)")
        self.compare_group = QActionGroup(self)
        self.compare_choices = {}
        for key, label in settings_mod.COMPARE_WITH.items():
            a = self._action(f"Compare with {label}", lambda on, k=key: on and
                             self.set_compare_with(k), checkable=True)
            self.compare_group.addAction(a)
            self.compare_choices[key] = a
        self.one_person_action = self._action(
            "Follow one person", self._set_one_person, ["P"], True,
            "only the most prominent person (P); off: everyone in the frame, up to the cap")
        self.present_action = self._action("Presenter mode", self.set_presenter, ["F11"],
                                           True, "full screen, large status line (F11)")
        self.help_action = self._action("Shortcuts", self.toggle_help, ["F1", "?"],
                                        tip="list the keyboard shortcuts (F1 or ?)")
        for a, short in ((self.compare_action, "Compare"), (self.colours_action, "L/R colours"),
                         (self.one_person_action, "One person"),
                         (self.present_action, "Present"), (self.help_action, "Help")):
            a.setIconText(short)
        self.escape_action = self._action("Leave", self._escape, ["Esc"])
        self.play_action = self._action("Play/Pause", self.toggle_play, ["Space"],
                                        tip="play or pause the video (Space)")
        self.back_action = self._action("Back 1 s", lambda: self.step(-1.0), ["Left"])
        self.fwd_action = self._action("Forward 1 s", lambda: self.step(1.0), ["Right"])
        self.thinner_action = self._action("Thinner lines", lambda: self._nudge_width(-1), ["-"])
        self.thicker_action = self._action("Thicker lines", lambda: self._nudge_width(1),
                                           ["+", "="])
        self.lower_action = self._action("Lower threshold", lambda: self._nudge_thr(-0.05), ["["])
        self.raise_action = self._action("Raise threshold", lambda: self._nudge_thr(0.05), ["]"])
        self.open_action = self._action("Open file...", self.open_dialog, ["Ctrl+O"])
        self.open_model_action = self._action(
            "Open model...", self.open_model_dialog, ["Ctrl+Shift+O"],
            tip="run another uniskel model (.pt or .onnx); read as data, never run as code")
        self.sample_action = self._action("Open sample video", lambda: self.open_path(
            str(sample_video())))
        self.sample_image_action = self._action("Open sample image", lambda: self.open_path(
            str(sample_image())))
        self.record_action = self._action("Record", self.set_recording, ["R"], True,
                                          "record the annotated view and keypoints (R)")
        self.snapshot_action = self._action("Snapshot", self.snapshot, ["S"],
                                            tip="save the annotated frame as PNG (S)")
        self.folder_action = self._action("Recording folder...", self.choose_folder)
        self.quit_action = self._action("Quit", self.close, ["Ctrl+Q"])

    def _build_toolbars(self):
        tb = QToolBar("Source", self)
        tb.setObjectName("source_toolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(18, 18))
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.source_combo = QComboBox()
        self.source_combo.setMinimumContentsLength(22)
        self.source_combo.setToolTip("camera, sample media, or a file (drag and drop works too)")
        self.source_combo.activated.connect(self._source_chosen)
        tb.addWidget(QLabel(" Source "))
        tb.addWidget(self.source_combo)
        self.play_button = QPushButton("Pause")
        self.play_button.setToolTip("play or pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        tb.addWidget(self.play_button)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setMinimumWidth(160)
        self.seek.setToolTip("seek (Left/Right: 1 s)")
        self.seek.sliderMoved.connect(self._seek_moved)
        self.seek.sliderReleased.connect(lambda: self._seek_moved(self.seek.value()))
        tb.addWidget(self.seek)
        self.time_label = QLabel("")
        self.time_label.setMinimumWidth(90)
        tb.addWidget(self.time_label)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(self._set_loop)
        tb.addWidget(self.loop_box)
        tb.addSeparator()
        tb.addAction(self.record_action)
        tb.addAction(self.snapshot_action)

        tb2 = QToolBar("Model and overlay", self)
        tb2.setObjectName("overlay_toolbar")
        tb2.setMovable(False)
        self.addToolBarBreak()
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb2)
        tb2.addWidget(QLabel(" Backend "))
        self.backend_combo = QComboBox()
        model = QStandardItemModel(self.backend_combo)
        self.backend_combo.setModel(model)
        for name, label in BACKEND_LABELS.items():
            self.backend_combo.addItem(label, name)
        self.backend_combo.setToolTip("which engine runs the model; greyed: not available here")
        self.backend_combo.activated.connect(self._backend_chosen)
        tb2.addWidget(self.backend_combo)
        tb2.addAction(self.compare_action)
        tb2.addSeparator()
        for a in self.subset_actions.values():
            tb2.addAction(a)
        tb2.addSeparator()
        tb2.addWidget(QLabel(" Threshold "))
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setFixedWidth(110)
        self.threshold.setToolTip("hide keypoints below this confidence ([ and ])")
        self.threshold.valueChanged.connect(self._threshold_changed)
        tb2.addWidget(self.threshold)
        self.threshold_label = QLabel("0.30")
        self.threshold_label.setMinimumWidth(32)
        tb2.addWidget(self.threshold_label)
        tb2.addWidget(QLabel(" Width "))
        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, 12)
        self.width_spin.setToolTip("line width (- and +)")
        self.width_spin.valueChanged.connect(self._width_changed)
        tb2.addWidget(self.width_spin)
        tb2.addWidget(QLabel(" People "))
        self.people_spin = QSpinBox()
        self.people_spin.setRange(1, 20)
        self.people_spin.setToolTip("the most people shown at once (all of them up to this); "
                                    "P follows only one")
        self.people_spin.valueChanged.connect(self._people_cap_changed)
        tb2.addWidget(self.people_spin)
        tb2.addAction(self.names_action)
        tb2.addAction(self.colours_action)
        tb2.addAction(self.mirror_action)
        tb2.addAction(self.one_person_action)
        tb2.addSeparator()
        tb2.addAction(self.dashboard_action)
        tb2.addAction(self.present_action)
        tb2.addAction(self.help_action)
        self.toolbars = [tb, tb2]

    def _build_menus(self):
        m = self.menuBar()
        f = m.addMenu("&File")
        for a in (self.open_action, self.sample_action, self.sample_image_action,
                  self.open_model_action, None,
                  self.record_action, self.snapshot_action, self.folder_action, None,
                  self.quit_action):
            f.addSeparator() if a is None else f.addAction(a)
        v = m.addMenu("&View")
        for a in (*self.subset_actions.values(), None, self.names_action, self.colours_action,
                  self.mirror_action, self.one_person_action, self.thinner_action,
                  self.thicker_action,
                  self.lower_action, self.raise_action, None, self.compare_action,
                  *self.compare_choices.values(),
                  self.dashboard_action, self.present_action):
            v.addSeparator() if a is None else v.addAction(a)
        p = m.addMenu("&Playback")
        for a in (self.play_action, self.back_action, self.fwd_action):
            p.addAction(a)
        h = m.addMenu("&Help")
        h.addAction(self.help_action)

    def _apply_settings(self):
        s = self.settings
        self.subset_actions[s.subset].setChecked(True)
        self.threshold.setValue(round(s.threshold * 100))
        self.width_spin.setValue(s.line_width)
        self.names_action.setChecked(s.show_names)
        self.mirror_action.setChecked(s.mirror)
        self.colours_action.setChecked(True)
        self.one_person_action.setChecked(s.one_person)
        self.compare_choices[s.compare_with].setChecked(True)
        self.people_spin.setValue(s.max_people)
        self.engine.max_people = 1 if s.one_person else s.max_people
        self.dashboard_action.setChecked(s.dashboard)
        self.dock.setVisible(s.dashboard)
        self.loop_box.setChecked(s.loop)
        i = self.backend_combo.findData(s.backend)
        self.backend_combo.setCurrentIndex(max(i, 0))
        self._push_options()

    def _restore_geometry(self):
        store = self._store if self._store is not None else settings_mod.qsettings()
        geometry = store.value("geometry")
        if geometry is not None:
            try:
                if self.restoreGeometry(geometry):
                    return
            except TypeError:
                pass  # a damaged entry: fit the screen as on a first launch
        self.fit_screen()

    def fit_screen(self) -> None:
        """First launch: 1280x780, or 90% of the screen's free area where that is smaller,
        centred on it (a laptop's 1366x768 shows the whole window)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        free = screen.availableGeometry()
        w, h = min(1280, int(free.width() * 0.9)), min(780, int(free.height() * 0.9))
        self.resize(max(w, 640), max(h, 420))
        self.move(free.x() + (free.width() - self.width()) // 2,
                  free.y() + (free.height() - self.height()) // 2)

    # --- overlay options -------------------------------------------------------------
    def options(self) -> OverlayOptions:
        return self.view.options

    def _push_options(self):
        s = self.settings
        opts = OverlayOptions(subset=s.subset, threshold=s.threshold, show_names=s.show_names,
                              line_width=s.line_width, mirror=s.mirror,
                              side_colours=self.colours_action.isChecked(),
                              followed=self.followed_id)
        self.view.set_options(opts)
        self.compare_view.set_options(replace(opts))
        self.engine.record_options = replace(opts)

    def set_subset(self, key: str):
        self.settings.subset = key
        if not self.subset_actions[key].isChecked():
            self.subset_actions[key].setChecked(True)
        self._push_options()

    def _set_names(self, on):
        self.settings.show_names = bool(on)
        self._push_options()

    def _set_mirror(self, on):
        self.settings.mirror = bool(on)
        self._push_options()

    def _set_colours(self, on):
        self._push_options()

    def _set_one_person(self, on):
        """One person (the most prominent, for a presenter) or everyone up to the cap."""
        self.settings.one_person = bool(on)
        self.engine.max_people = 1 if on else self.settings.max_people
        self.statusBar().showMessage(
            "following the most prominent person" if on else
            f"showing everyone in the frame (up to {self.settings.max_people})", 3000)

    def _people_cap_changed(self, v):
        self.settings.max_people = int(v)
        if not self.settings.one_person:
            self.engine.max_people = int(v)

    def follow_at(self, x: float, y: float) -> None:
        """A click on the view (frame pixels): the dashboard follows the person whose box
        is nearest to it (0 inside a box)."""
        people = self.view.people
        if not people:
            return

        def distance(p):
            x0, y0, x1, y1 = p.box
            dx, dy = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)
            return dx * dx + dy * dy

        self.followed_id = min(people, key=distance).track_id
        self._push_options()
        self.statusBar().showMessage(f"dashboard follows person #{self.followed_id}", 3000)

    def followed_person(self, people):
        """The person the dashboard shows: the one clicked on while visible, else the most
        prominent (largest box)."""
        for p in people:
            if p.track_id == self.followed_id:
                return p
        if not people:
            return None
        return max(people, key=lambda p: (p.box[2] - p.box[0]) * (p.box[3] - p.box[1]))

    def _threshold_changed(self, v):
        self.settings.threshold = v / 100.0
        self.threshold_label.setText(f"{v / 100:.2f}")
        self._push_options()

    def _width_changed(self, v):
        self.settings.line_width = int(v)
        self._push_options()

    def _nudge_width(self, d):
        self.width_spin.setValue(self.width_spin.value() + d)

    def _nudge_thr(self, d):
        self.threshold.setValue(self.threshold.value() + round(d * 100))

    def _set_dashboard(self, on):
        self.settings.dashboard = bool(on)
        if not self._presenting:
            self.dock.setVisible(bool(on))

    # --- sources ---------------------------------------------------------------------
    def _watch_cameras(self):
        if capture.multimedia_error() is None:
            from PySide6.QtMultimedia import QMediaDevices
            self._devices = QMediaDevices(self)
            self._devices.videoInputsChanged.connect(self._refresh_sources)
        self._refresh_sources()

    def _refresh_sources(self):
        combo = self.source_combo
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for i, (name, _) in enumerate(capture.list_cameras()):
            combo.addItem(f"Camera: {name}", f"camera:{i}")
        combo.addItem("Sample video (astronaut)", str(sample_video()))
        combo.addItem("Sample image (astronaut)", str(sample_image()))
        if self.source_label and combo.findData(self.source_label) < 0:
            combo.addItem(Path(self.source_label).name, self.source_label)
        combo.addItem("Open file...", "__open__")
        i = combo.findData(self.source_label if self.source_label else current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def _source_chosen(self, index):
        data = self.source_combo.itemData(index)
        if data == "__open__":
            self.open_dialog()
        elif data and data != self.source_label:
            self.open_path(data)

    def default_source(self) -> str:
        return "camera:0" if capture.list_cameras() else str(sample_video())

    def open_dialog(self):
        start = str(Path(self.source_label).parent) if self.source_label and \
            capture.parse_camera(self.source_label) is None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a video or image", start, VIDEO_FILTER)
        if path:
            self.open_path(path)
        else:
            self._refresh_sources()

    def open_model_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open a uniskel model", str(Path.home()),
                                              MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str) -> None:
        """Run the student from another model file, on the chosen backend if it runs that
        kind of file, else on the fastest that does. The engine reads it as data (weights only); a refused or broken
        file is shown as one line and the running model stays."""
        self._model_before = (self.model_path,)  # restored if this one is refused
        self.model_path = path
        chosen = backends.MODULES.get(self.settings.backend)
        runs_it = chosen is not None and chosen.MODEL_SUFFIX == Path(path).suffix.lower()
        # the chosen backend if it runs this kind of file, else auto picks one that does
        self.load_backend(self.settings.backend if runs_it else "auto")

    def open_path(self, spec: str) -> bool:
        """Switch to a camera ("camera:N") or a file; on failure say why and keep going."""
        try:
            source = capture.open_source(spec, self)
        except UniskelError as exc:
            self.show_error(str(exc))
            self._refresh_sources()
            return False
        self._close_source(reason="source changed")
        self.source = source
        self.source_label = spec
        self.source_info = {}
        self._lost_message = ""
        self.settings.last_source = spec
        source.frame.connect(self._route_frame, Qt.ConnectionType.DirectConnection)
        source.opened.connect(self._on_opened)
        source.failed.connect(self._on_source_failed)
        source.ended.connect(self._on_source_ended)
        source.lost.connect(self._on_lost)
        source.restored.connect(self._on_restored)
        source.position.connect(self._on_position)
        source.set_loop(self.loop_box.isChecked())
        self.engine.reset()
        self.compare_engine.reset()
        self.dashboard.reset()
        self.view.set_frame(None)
        self.compare_view.set_frame(None)
        self.view.placeholder = f"Opening {self._source_name()}..."
        self._refresh_sources()
        self._update_playback_controls()
        source.start()
        return True

    def _route_frame(self, packet):  # the source's thread: no widget calls here
        self.engine.submit(packet)
        if self._comparing:
            self.compare_engine.submit(packet)

    def _close_source(self, reason="source closed"):
        if self.recorder.active:
            self.recorder.stop(reason, wait=True)
        if self.source is not None:
            src, self.source = self.source, None
            for sig in (src.frame, src.opened, src.failed, src.ended, src.lost, src.restored,
                        src.position):
                try:
                    sig.disconnect()
                except (RuntimeError, TypeError):
                    pass
            src.stop()
            src.deleteLater()

    def _source_name(self) -> str:
        if capture.parse_camera(self.source_label) is not None:
            i = self.source_combo.findData(self.source_label)
            return self.source_combo.itemText(i).removeprefix("Camera: ") if i >= 0 \
                else self.source_label
        return Path(self.source_label).name

    def _on_opened(self, info):
        self.source_info = info
        self.view.placeholder = f"{info.get('name', '')}: waiting for the first frame"
        self._update_playback_controls()

    def _on_source_failed(self, message):
        self.show_error(message)
        if self.recorder.active:
            self.recorder.stop("source failed", wait=False)
        self.view.placeholder = "No source. Open a camera or a file, or drop a video here."

    def _on_source_ended(self):
        if self.recorder.active:
            self.recorder.stop("source ended", wait=False)
        self.statusBar().showMessage("end of video: press Space to play again", 5000)
        self._update_playback_controls()

    def _on_lost(self, message):
        self._lost_message = message
        self.view.set_text(banner=message)
        self.statusBar().showMessage(message)

    def _on_restored(self):
        self._lost_message = ""
        self.view.set_text(banner="")
        self.statusBar().showMessage("camera reconnected", 4000)
        self.engine.reset()

    def _on_position(self, index):
        if not self.seek.isSliderDown():
            self.seek.blockSignals(True)
            self.seek.setValue(index)
            self.seek.blockSignals(False)
        fps = self.source_info.get("fps") or 25.0
        total = self.source_info.get("frames") or 0
        self.time_label.setText(f"{index / fps:5.1f} / {total / fps:.1f} s")

    def _update_playback_controls(self):
        src = self.source
        seekable = bool(src is not None and not src.is_camera
                        and self.source_info.get("kind") == "video")
        self.seek.setEnabled(seekable)
        self.play_button.setEnabled(src is not None and not src.is_camera)
        self.seek.setRange(0, max(int(self.source_info.get("frames", 0)) - 1, 0))
        playing = src is not None and src.is_playing()
        self.play_button.setText("Pause" if playing else "Play")
        if not seekable:
            self.time_label.setText("live" if src is not None and src.is_camera else "")

    def toggle_play(self):
        src = self.source
        if src is None or src.is_camera:
            return
        src.pause() if src.is_playing() else src.play()
        self._update_playback_controls()

    def step(self, seconds: float):
        if self.source is None or not self.seek.isEnabled():
            return
        fps = self.source_info.get("fps") or 25.0
        self._seek_moved(self.seek.value() + round(seconds * fps))

    def _seek_moved(self, value):
        if self.source is not None and self.seek.isEnabled():
            value = max(0, min(int(value), self.seek.maximum()))
            self.seek.setValue(value)
            self.source.seek(value)

    def _set_loop(self, on):
        self.settings.loop = bool(on)
        if self.source is not None:
            self.source.set_loop(bool(on))

    # drag and drop
    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            path = urls[0].toLocalFile()
            if Path(path).suffix.lower() in MODEL_SUFFIXES:
                self.open_model(path)  # a model file: run it, never open it as a video
            else:
                self.open_path(path)
            event.acceptProposedAction()

    # --- engines ---------------------------------------------------------------------
    def _on_availability(self, available: dict):
        if self._closing:
            return
        self._availability = available
        model = self.backend_combo.model()
        for row in range(self.backend_combo.count()):
            name = self.backend_combo.itemData(row)
            reason = available.get(name, "not reported by the engine")
            item = model.item(row)
            item.setEnabled(reason is None)
            item.setToolTip(reason or BACKEND_LABELS[name])
        mp_reason = available.get("mediapipe", "not reported by the engine")
        self.compare_action.setEnabled(mp_reason is None)
        self.compare_action.setToolTip("student and MediaPipe side by side (V)" if mp_reason is
                                       None else f"MediaPipe unavailable: {mp_reason}")
        if self.autoload:
            self.load_backend(self.settings.backend)

    def load_backend(self, name: str):
        """Load a backend in the background; with no model bundled, say so and use
        MediaPipe where it is available."""
        avail = self._availability
        if name != "mediapipe" and self.model_path is None and not self._model_bundled():
            msg = (f"no model bundled at {_rel(assets.default_model())}; train one with "
                   "`uniskel train` or pass --model")
            if avail.get("mediapipe", "unknown") is None:
                self.show_error(msg + ". Using MediaPipe instead.")
                name = "mediapipe"
            else:
                self.show_error(msg + f". MediaPipe is unavailable too: {avail.get('mediapipe')}")
                return
        elif name not in ("auto",) and avail.get(name, None) is not None:
            self.show_error(f"{BACKEND_LABELS.get(name, name)} unavailable: {avail[name]}; "
                            "using auto")
            name = "auto"
        self._select_backend_item(name)
        self.view.set_text(title=f"loading {BACKEND_LABELS.get(name, name)}...")
        self.statusBar().showMessage(f"loading {BACKEND_LABELS.get(name, name)}...")
        self.engine.load(name, self.model_path)

    def _model_bundled(self) -> bool:
        return assets.default_model().exists() or assets.default_onnx().exists()

    def _select_backend_item(self, name):
        i = self.backend_combo.findData(name)
        if i >= 0:
            self.backend_combo.blockSignals(True)
            self.backend_combo.setCurrentIndex(i)
            self.backend_combo.blockSignals(False)

    def _backend_chosen(self, index):
        name = self.backend_combo.itemData(index)
        self.settings.backend = name
        self.load_backend(name)

    def _on_backend_ready(self, description):
        if self._closing:
            return
        self._model_before = None
        self.view.set_text(title=self.engine.short_name)
        self.statusBar().showMessage(f"backend ready: {description}", 4000)
        self.dashboard.reset()

    def _on_backend_failed(self, message):
        if self._closing:
            return
        before = self._model_before
        if before is not None:  # an opened model was refused: the running one stays
            self._model_before = None
            self.model_path = before[0]
            if self.engine.running:
                self.show_error(message)
                self.view.set_text(title=self.engine.short_name)
                return
        self.show_error(message)
        self.view.set_text(title="no backend")
        if self.engine.requested != "mediapipe" and self._availability.get("mediapipe",
                                                                          "?") is None:
            self.statusBar().showMessage("falling back to MediaPipe", 4000)
            self._select_backend_item("mediapipe")
            self.engine.load("mediapipe", None)

    def set_compare_with(self, key: str) -> None:
        """Which model the compare view runs (MoveNet Lightning or Thunder, MediaPipe)."""
        self.settings.compare_with = key
        if not self.compare_choices[key].isChecked():
            self.compare_choices[key].setChecked(True)
        if self._comparing:
            self._load_compare()

    def _load_compare(self) -> None:
        name, _, variant = self.settings.compare_with.partition(":")
        self.compare_engine.load(name, variant or None)

    def set_compare(self, on):
        on = bool(on)
        self._comparing = on
        self.compare_view.setVisible(on)
        if on:
            self.compare_view.set_text(
                title=f"loading {settings_mod.COMPARE_WITH[self.settings.compare_with]}...")
            self._load_compare()
        else:
            self.compare_engine.unload()
            self.compare_view.set_frame(None)

    def _on_compare_failed(self, message):
        self.show_error(f"compare view: {message}")
        self.compare_action.setChecked(False)

    def _on_result(self):
        item = self.engine.take_latest()
        if item is None or self._closing:
            return
        packet, result = item
        people = result.people if result is not None else []
        self._last_result = (packet, result)
        self.view.pending = (packet, result)
        self.view.set_frame(packet.frame, people)

    def _on_compare_result(self):
        item = self.compare_engine.take_latest()
        if item is None or self._closing:
            return
        packet, result = item
        self.compare_view.set_frame(packet.frame, result.people if result is not None else [])

    def _on_painted(self, view):
        packet, result = getattr(view, "pending", (None, None))
        view.pending = (None, None)
        if packet is None:
            return
        latency = (time.monotonic() - packet.captured) * 1000.0
        if result is None:
            return
        first = self.followed_person(result.people)
        self.dashboard.add(latency, dict(result.stages_ms),
                           first.keypoints if first else None,
                           first.quality if first else None,
                           person=first.track_id if first else None,
                           people=len(result.people))

    # --- output ----------------------------------------------------------------------
    def record_folder(self) -> Path:
        return Path(self.settings.record_folder) if self.settings.record_folder \
            else default_folder()

    def choose_folder(self):
        folder = QFileDialog.getExistingDirectory(self, "Recording folder",
                                                  str(self.record_folder()))
        if folder:
            self.settings.record_folder = folder

    def set_recording(self, on):
        if on and not self.recorder.active:
            if self.source is None or self._last_result is None:
                self.show_error("nothing to record yet: open a source first")
                self._uncheck_record()
                return
            frame = self._last_result[0].frame
            fps = self.source_info.get("fps") or 30.0
            measured = self.dashboard.current().get("fps", 0.0)
            if self.source_info.get("kind") != "video" and measured > 1.0:
                fps = min(fps, measured)
            try:
                video, kp = self.recorder.start(
                    self.record_folder(), fps, (frame.shape[1], frame.shape[0]),
                    self.settings.record_format,
                    meta={"source": self.source_label, "backend": self.engine.backend_name})
            except UniskelError as exc:
                self.show_error(str(exc))
                self._uncheck_record()
                return
            self.statusBar().showMessage(f"recording to {video}")
        elif not on and self.recorder.active:
            self.recorder.stop("stopped", wait=True)

    def _uncheck_record(self):
        self.record_action.blockSignals(True)
        self.record_action.setChecked(False)
        self.record_action.blockSignals(False)

    def _on_recording_stopped(self, summary):
        self._uncheck_record()
        if summary.error:
            self.show_error(f"{summary.reason}; kept {summary.frames} frames in {summary.video}")
        else:
            self.statusBar().showMessage(
                f"recording saved ({summary.reason}): {summary.video}, {summary.frames} frames,"
                f" keypoints in {Path(summary.keypoints).name}", 10000)
        self.last_recording = summary

    def snapshot(self):
        if self._last_result is None:
            self.show_error("nothing to save yet: no frame shown")
            return None
        packet, result = self._last_result
        try:
            path = save_snapshot(self.record_folder(), packet.frame,
                                 result.people if result is not None else [], self.options())
        except UniskelError as exc:
            self.show_error(str(exc))
            return None
        self.statusBar().showMessage(f"snapshot saved: {path}", 6000)
        return path

    # --- presenter mode, help, messages ----------------------------------------------
    def set_presenter(self, on):
        on = bool(on)
        if on == self._presenting:
            return
        self._presenting = on
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
        if self.present_action.isChecked() != on:
            self.present_action.setChecked(on)
        self.help.large = on
        self._update_status()

    def toggle_help(self):
        self.help.setVisible(not self.help.isVisible())
        if self.help.isVisible():
            self.help.raise_()
            self.help.setGeometry(self.centralWidget().rect())

    def _escape(self):
        if self.help.isVisible():
            self.help.hide()
        elif self._presenting:
            self.set_presenter(False)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.help.setGeometry(self.centralWidget().rect())

    def show_error(self, message: str):
        """Show a problem in the window (never a traceback); the app stays usable."""
        message = str(message).strip().splitlines()[0] if str(message).strip() else "error"
        self.last_error = message
        if self._closing:
            print(f"uniskel demo: {message}", file=sys.stderr)
            return
        self._error_until = time.monotonic() + ERROR_SECONDS
        self.view.set_text(banner=message)
        self.statusBar().showMessage(message, int(ERROR_SECONDS * 1000))
        print(f"uniskel demo: {message}", file=sys.stderr)
        self.error_shown.emit(message)

    def _update_status(self):
        if self._error_until and time.monotonic() > self._error_until:
            self._error_until = 0.0
            self.view.set_text(banner=self._lost_message)
        if self.engine.running:
            self.view.set_text(title=self.engine.speed_caption())
        if self.compare_view.isVisible() and self.compare_engine.running:
            self.compare_view.set_text(title=self.compare_engine.speed_caption())
        cur = self.dashboard.current()
        parts = [self._source_name() or "no source", self.engine.backend_name or "no backend"]
        if cur:
            parts.append(f"{cur['fps']:.1f} fps")
            parts.append(f"{cur['latency_ms']:.0f} ms capture to paint")
        if self.recorder.active:
            parts.append(f"REC {self.recorder.frames} frames")
        line = "  |  ".join(parts)
        self.status_label.setText(line)
        self.view.set_text(status=line if self._presenting or self.recorder.active else "")

    def closeEvent(self, event):  # noqa: N802
        self._closing = True
        self._status_timer.stop()
        self._close_source("window closed")
        self.recorder.finish()  # one stopped at the end of a video may still be writing
        self.engine.shutdown()
        self.compare_engine.shutdown()
        if self._presenting:
            self.settings.dashboard = self._before_present.get("dock", self.settings.dashboard)
        try:
            settings_mod.save(self.settings, self._store)
            store = self._store if self._store is not None else settings_mod.qsettings()
            if not self._presenting:
                store.setValue("geometry", self.saveGeometry())
            store.sync()
        except Exception:  # noqa: BLE001 - failing to remember settings must not block quitting
            pass
        super().closeEvent(event)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(assets.root()))
    except ValueError:
        return str(path)
