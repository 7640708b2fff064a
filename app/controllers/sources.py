"""Sources and playback: the source picker, opening a camera or a file, play/pause, seek,
loop, and what a source says about itself (opened, ended, failed, lost, restored).

Frames go from the source's own thread straight to ``deliver`` (the engines); nothing
here touches a widget on that thread.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QPushButton, QSlider

from uniskel.app import capture
from uniskel.engine import assets
from uniskel.engine.errors import UniskelError

SAMPLE_VIDEO = "media/sample_astronaut.mp4"
SAMPLE_IMAGE = "media/astronaut.png"
VIDEO_FILTER = ("Videos and images (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.png *.jpg *.jpeg "
                "*.bmp);;All files (*)")
NO_SOURCE = "No source. Open a camera or a file, or drop a video here."


def sample_video() -> Path:
    return assets.asset(SAMPLE_VIDEO)


def sample_image() -> Path:
    return assets.asset(SAMPLE_IMAGE)


class SourcesController(QObject):
    switched = Signal()       # a new source starts: forget people, clear the views
    closing = Signal(str)     # the source is being closed (reason): finish what uses it
    ended = Signal(str)       # the source stopped by itself: "source ended" / "source failed"
    restored = Signal()       # a camera came back: tracking starts afresh

    def __init__(self, window, deliver):
        super().__init__(window)
        self.w = window
        self.deliver = deliver    # deliver(packet), called on the source's thread
        self.source = None
        self.label = ""           # what was opened: "camera:N" or a path
        self.info: dict = {}      # what the source said when it opened (kind, fps, frames)
        self.lost_message = ""    # a lost camera's line, shown until it is back
        self._devices = None

        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(22)
        self.combo.setToolTip("camera, sample media, or a file (drag and drop works too)")
        self.combo.activated.connect(self._chosen)
        self.play_button = QPushButton("Pause")
        self.play_button.setToolTip("play or pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setMinimumWidth(160)
        self.seek.setToolTip("seek (Left/Right: 1 s)")
        self.seek.sliderMoved.connect(self.seek_to)
        self.seek.sliderReleased.connect(lambda: self.seek_to(self.seek.value()))
        self.time_label = QLabel("")
        self.time_label.setMinimumWidth(90)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(self.set_loop)

    def apply_settings(self) -> None:
        self.loop_box.setChecked(self.w.settings.loop)

    # --- the picker ------------------------------------------------------------------
    def watch_cameras(self) -> None:
        if capture.multimedia_error() is None:
            from PySide6.QtMultimedia import QMediaDevices
            self._devices = QMediaDevices(self)
            self._devices.videoInputsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        combo = self.combo
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for i, (name, _) in enumerate(capture.list_cameras()):
            combo.addItem(f"Camera: {name}", f"camera:{i}")
        combo.addItem("Sample video (astronaut)", str(sample_video()))
        combo.addItem("Sample image (astronaut)", str(sample_image()))
        if self.label and combo.findData(self.label) < 0:
            combo.addItem(Path(self.label).name, self.label)
        combo.addItem("Open file...", "__open__")
        i = combo.findData(self.label if self.label else current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def _chosen(self, index) -> None:
        data = self.combo.itemData(index)
        if data == "__open__":
            self.open_dialog()
        elif data and data != self.label:
            self.open_path(data)

    def name(self) -> str:
        """What is playing, for the status line: the camera's name or the file's."""
        if capture.parse_camera(self.label) is not None:
            i = self.combo.findData(self.label)
            return self.combo.itemText(i).removeprefix("Camera: ") if i >= 0 else self.label
        return Path(self.label).name

    # --- opening ---------------------------------------------------------------------
    def default_source(self) -> str:
        return "camera:0" if capture.list_cameras() else str(sample_video())

    def open_dialog(self) -> None:
        start = str(Path(self.label).parent) if self.label and \
            capture.parse_camera(self.label) is None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a video or image", start,
                                              VIDEO_FILTER)
        if path:
            self.open_path(path)
        else:
            self.refresh()

    def open_sample_video(self) -> None:
        self.open_path(str(sample_video()))

    def open_sample_image(self) -> None:
        self.open_path(str(sample_image()))

    def open_path(self, spec: str) -> bool:
        """Switch to a camera ("camera:N") or a file; on failure say why and keep going."""
        try:
            source = capture.open_source(spec, self.w)
        except UniskelError as exc:
            self.w.show_error(str(exc))
            self.refresh()
            return False
        self.close("source changed")
        self.source = source
        self.label = spec
        self.info = {}
        self.lost_message = ""
        self.w.settings.last_source = spec
        source.frame.connect(self.deliver, Qt.ConnectionType.DirectConnection)
        source.opened.connect(self._on_opened)
        source.failed.connect(self._on_failed)
        source.ended.connect(self._on_ended)
        source.lost.connect(self.on_lost)
        source.restored.connect(self.on_restored)
        source.position.connect(self._on_position)
        if hasattr(source, "warning"):  # files: an assumed frame rate, a size change
            source.warning.connect(self._on_warning)
        source.set_loop(self.loop_box.isChecked())
        self.switched.emit()
        self.w.view.placeholder = f"Opening {self.name()}..."
        self.refresh()
        self.update_controls()
        source.start()
        return True

    def close(self, reason: str = "source closed") -> None:
        self.closing.emit(reason)
        if self.source is not None:
            src, self.source = self.source, None
            for sig in (src.frame, src.opened, src.failed, src.ended, src.lost, src.restored,
                        src.position, *([src.warning] if hasattr(src, "warning") else [])):
                try:
                    sig.disconnect()
                except (RuntimeError, TypeError):
                    pass
            src.stop()
            src.deleteLater()

    # --- what the source says ----------------------------------------------------------
    def _on_opened(self, info) -> None:
        self.info = info
        self.w.view.placeholder = f"{info.get('name', '')}: waiting for the first frame"
        self.update_controls()

    def _on_failed(self, message) -> None:
        self.w.show_error(message)
        self.ended.emit("source failed")
        self.w.view.placeholder = NO_SOURCE

    def _on_warning(self, message) -> None:
        self.w.statusBar().showMessage(message, 15000)

    def _on_ended(self) -> None:
        self.ended.emit("source ended")
        self.w.statusBar().showMessage("end of video: press Space to play again", 5000)
        self.update_controls()

    def on_lost(self, message) -> None:
        self.lost_message = message
        self.w.view.set_text(banner=message)
        self.w.statusBar().showMessage(message)

    def on_restored(self) -> None:
        self.lost_message = ""
        self.w.view.set_text(banner="")
        self.w.statusBar().showMessage("camera reconnected", 4000)
        self.restored.emit()

    def _on_position(self, index) -> None:
        if not self.seek.isSliderDown():
            self.seek.blockSignals(True)
            self.seek.setValue(index)
            self.seek.blockSignals(False)
        fps = self.info.get("fps") or 25.0
        total = self.info.get("frames") or 0
        self.time_label.setText(f"{index / fps:5.1f} / {total / fps:.1f} s")

    # --- playback --------------------------------------------------------------------
    def update_controls(self) -> None:
        src = self.source
        seekable = bool(src is not None and not src.is_camera
                        and self.info.get("kind") == "video")
        self.seek.setEnabled(seekable)
        self.play_button.setEnabled(src is not None and not src.is_camera)
        self.seek.setRange(0, max(int(self.info.get("frames", 0)) - 1, 0))
        playing = src is not None and src.is_playing()
        self.play_button.setText("Pause" if playing else "Play")
        if not seekable:
            self.time_label.setText("live" if src is not None and src.is_camera else "")

    def toggle_play(self) -> None:
        src = self.source
        if src is None or src.is_camera:
            return
        src.pause() if src.is_playing() else src.play()
        self.update_controls()

    def step(self, seconds: float) -> None:
        if self.source is None or not self.seek.isEnabled():
            return
        fps = self.info.get("fps") or 25.0
        self.seek_to(self.seek.value() + round(seconds * fps))

    def seek_to(self, value) -> None:
        if self.source is not None and self.seek.isEnabled():
            value = max(0, min(int(value), self.seek.maximum()))
            self.seek.setValue(value)
            self.source.seek(value)

    def set_loop(self, on) -> None:
        self.w.settings.loop = bool(on)
        if self.source is not None:
            self.source.set_loop(bool(on))
