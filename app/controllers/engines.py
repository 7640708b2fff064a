"""Engines and compare: the backend picker (greyed where a backend cannot run, with the
reason), loading a backend and falling back, opening another model file, and the compare
view's engine (MoveNet or MediaPipe beside the student).

The two engine bridges themselves belong to the window (``window.engine``,
``window.compare_engine``); this controller decides what they run.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFileDialog

from uniskel.app import settings as settings_mod
from uniskel.app.engine_bridge import BACKEND_LABELS
from uniskel.engine import assets, backends

#: the model files the student backends run (from engine.backends: .pt, .onnx)
MODEL_SUFFIXES = tuple(sorted({m.MODEL_SUFFIX for m in backends.MODULES.values()
                               if m.MODEL_SUFFIX}))
MODEL_FILTER = f"uniskel models ({' '.join('*' + x for x in MODEL_SUFFIXES)})"


class EnginesController(QObject):
    def __init__(self, window, model_path: str | None = None):
        super().__init__(window)
        self.w = window
        self.model_path = model_path
        self.availability: dict[str, str | None] = {}   # backend -> None or why not
        self.comparing = False     # read by the sources' threads, so a plain bool
        self._model_before = None  # (model path,) while an opened model is loading

        self.combo = QComboBox()
        self.combo.setModel(QStandardItemModel(self.combo))
        for name, label in BACKEND_LABELS.items():
            self.combo.addItem(label, name)
        self.combo.setToolTip("which engine runs the model; greyed: not available here")
        self.combo.activated.connect(self._chosen)

        engine, compare = window.engine, window.compare_engine
        engine.ready.connect(self._on_ready)
        engine.failed.connect(self._on_failed)
        engine.problem.connect(window.show_error)
        compare.failed.connect(self._on_compare_failed)
        compare.problem.connect(window.show_error)

    def apply_settings(self) -> None:
        s = self.w.settings
        self.w.action[f"compare_{s.compare_with}"].setChecked(True)
        self.combo.setCurrentIndex(max(self.combo.findData(s.backend), 0))

    # --- frames (any thread) -----------------------------------------------------------
    def submit(self, packet) -> None:
        """A source's new frame, on the source's thread: never blocks."""
        self.w.engine.submit(packet)
        if self.comparing:
            self.w.compare_engine.submit(packet)

    def reset(self) -> None:
        """Forget tracked people (a new source, a camera back)."""
        self.w.engine.reset()
        self.w.compare_engine.reset()

    # --- the student's backend -----------------------------------------------------------
    def on_availability(self, available: dict) -> None:
        if self.w.closing:
            return
        self.availability = available
        model = self.combo.model()
        for row in range(self.combo.count()):
            name = self.combo.itemData(row)
            reason = available.get(name, "not reported by the engine")
            item = model.item(row)
            item.setEnabled(reason is None)
            item.setToolTip(reason or BACKEND_LABELS[name])
        mp_reason = available.get("mediapipe", "not reported by the engine")
        compare = self.w.action["compare"]
        compare.setEnabled(mp_reason is None)
        compare.setToolTip("student and MediaPipe side by side (V)" if mp_reason is None
                           else f"MediaPipe unavailable: {mp_reason}")
        if self.w.autoload:
            self.load_backend(self.w.settings.backend)

    def load_backend(self, name: str) -> None:
        """Load a backend in the background; with no model bundled, say so and use
        MediaPipe where it is available."""
        avail, w = self.availability, self.w
        if name != "mediapipe" and self.model_path is None and not model_bundled():
            msg = (f"no model bundled at {_rel(assets.default_model())}; train one with "
                   "`uniskel train` or pass --model")
            if avail.get("mediapipe", "unknown") is None:
                w.show_error(msg + ". Using MediaPipe instead.")
                name = "mediapipe"
            else:
                w.show_error(msg + f". MediaPipe is unavailable too: {avail.get('mediapipe')}")
                return
        elif name not in ("auto",) and avail.get(name, None) is not None:
            w.show_error(f"{BACKEND_LABELS.get(name, name)} unavailable: {avail[name]}; "
                         "using auto")
            name = "auto"
        self._select(name)
        w.view.set_text(title=f"loading {BACKEND_LABELS.get(name, name)}...")
        w.statusBar().showMessage(f"loading {BACKEND_LABELS.get(name, name)}...")
        w.engine.load(name, self.model_path)

    def _select(self, name) -> None:
        i = self.combo.findData(name)
        if i >= 0:
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(i)
            self.combo.blockSignals(False)

    def _chosen(self, index) -> None:
        name = self.combo.itemData(index)
        self.w.settings.backend = name
        self.load_backend(name)

    def _on_ready(self, description) -> None:
        w = self.w
        if w.closing:
            return
        if w.engine.model_path == self.model_path:  # the opened model runs (a ready from
            self._model_before = None               # an earlier load may come after it)
        w.view.set_text(title=w.engine.short_name)
        w.statusBar().showMessage(f"backend ready: {description}", 4000)
        w.dashboard.reset()

    def _on_failed(self, message) -> None:
        w = self.w
        if w.closing:
            return
        before = self._model_before
        if before is not None:  # an opened model was refused: the running one stays
            self._model_before = None
            self.model_path = before[0]
            if w.engine.running:
                w.show_error(message)
                w.view.set_text(title=w.engine.short_name)
                return
        w.show_error(message)
        w.view.set_text(title="no backend")
        if w.engine.requested != "mediapipe" and self.availability.get("mediapipe",
                                                                       "?") is None:
            w.statusBar().showMessage("falling back to MediaPipe", 4000)
            self._select("mediapipe")
            w.engine.load("mediapipe", None)

    # --- another model file ----------------------------------------------------------------
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a uniskel model", str(Path.home()),
                                              MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str) -> None:
        """Run the student from another model file, on the chosen backend if it runs that
        kind of file, else on the fastest that does. The engine reads it as data (weights
        only); a refused or broken file is shown as one line and the running model stays."""
        self._model_before = (self.model_path,)  # restored if this one is refused
        self.model_path = path
        chosen = backends.MODULES.get(self.w.settings.backend)
        runs_it = chosen is not None and chosen.MODEL_SUFFIX == Path(path).suffix.lower()
        self.load_backend(self.w.settings.backend if runs_it else "auto")

    # --- the compare view ------------------------------------------------------------------
    def set_compare(self, on) -> None:
        on, w = bool(on), self.w
        self.comparing = on
        w.compare_view.setVisible(on)
        if on:
            w.compare_view.set_text(
                title=f"loading {settings_mod.COMPARE_WITH[w.settings.compare_with]}...")
            self._load_compare()
        else:
            w.compare_engine.unload()
            w.compare_view.set_frame(None)

    def set_compare_with(self, key: str) -> None:
        """Which model the compare view runs (MoveNet Lightning or Thunder, MediaPipe)."""
        self.w.settings.compare_with = key
        choice = self.w.action[f"compare_{key}"]
        if not choice.isChecked():
            choice.setChecked(True)
        if self.comparing:
            self._load_compare()

    def _load_compare(self) -> None:
        name, _, variant = self.w.settings.compare_with.partition(":")
        self.w.compare_engine.load(name, variant or None)

    def _on_compare_failed(self, message) -> None:
        self.w.show_error(f"compare view: {message}")
        self.w.action["compare"].setChecked(False)


def model_bundled() -> bool:
    return assets.default_model().exists() or assets.default_onnx().exists()


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(assets.root()))
    except ValueError:
        return str(path)
