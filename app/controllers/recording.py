"""Recording and snapshots: R records the annotated view to MP4 plus every person's
keypoints, S saves the frame on screen as PNG, both into the recording folder.

The recorder subscribes to the student engine's results: ``add`` is connected to the
bridge's ``processed(packet, result)`` signal with a direct connection, so every frame
the engine finishes reaches the recorder on the engine's thread (the recorder only
queues it, never blocking), whatever the GUI is doing. The GUI thread starts and stops.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog

from uniskel.app.recorder import default_folder, save_snapshot
from uniskel.engine.errors import UniskelError


class RecordingController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.recorder = window.recorder
        self.options = None          # OverlayOptions to draw with (a copy; any thread reads)
        self.last_recording = None   # RecordingSummary of the last recording
        self.recorder.stopped.connect(self._on_stopped)
        window.engine.processed.connect(self.add, Qt.ConnectionType.DirectConnection)

    # --- the subscription (the engine's thread) -------------------------------------------
    def add(self, packet, result) -> None:
        """One processed frame; queued when recording. Records name the source's frame
        number (the pipeline counts only the frames it processed, and the
        newest-frame-wins worker skips some)."""
        options = self.options
        if self.recorder.active and options is not None:
            self.recorder.add(packet.frame, replace(result, frame_index=packet.index), options)

    def set_options(self, options) -> None:
        self.options = options

    # --- recording -------------------------------------------------------------------------
    def folder(self) -> Path:
        s = self.w.settings
        return Path(s.record_folder) if s.record_folder else default_folder()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Recording folder", str(self.folder()))
        if folder:
            self.w.settings.record_folder = folder

    def set_recording(self, on) -> None:
        w = self.w
        if on and not self.recorder.active:
            shown = w.display.last_result
            if w.sources.source is None or shown is None:
                w.show_error("nothing to record yet: open a source first")
                self._uncheck()
                return
            frame = shown[0].frame
            info = w.sources.info
            fps = info.get("fps") or 30.0
            measured = w.dashboard.current().get("fps", 0.0)
            if info.get("kind") != "video" and measured > 1.0:
                fps = min(fps, measured)
            try:
                video, _ = self.recorder.start(
                    self.folder(), fps, (frame.shape[1], frame.shape[0]),
                    w.settings.record_format,
                    meta={"source": w.sources.label, "backend": w.engine.backend_name})
            except UniskelError as exc:
                w.show_error(str(exc))
                self._uncheck()
                return
            w.statusBar().showMessage(f"recording to {video}")
        elif not on and self.recorder.active:
            self.recorder.stop("stopped", wait=True)

    def stop(self, reason: str, wait: bool = False) -> None:
        """The source went away (``reason`` ends up in the summary)."""
        if self.recorder.active:
            self.recorder.stop(reason, wait=wait)

    def stop_and_wait(self, reason: str) -> None:
        self.stop(reason, wait=True)

    def _uncheck(self) -> None:
        action = self.w.action["record"]
        action.blockSignals(True)
        action.setChecked(False)
        action.blockSignals(False)

    def _on_stopped(self, summary) -> None:
        self._uncheck()
        if summary.error:
            self.w.show_error(
                f"{summary.reason}; kept {summary.frames} frames in {summary.video}")
        else:
            self.w.statusBar().showMessage(
                f"recording saved ({summary.reason}): {summary.video}, {summary.frames} frames,"
                f" keypoints in {Path(summary.keypoints).name}", 10000)
        self.last_recording = summary

    # --- snapshots -------------------------------------------------------------------------
    def snapshot(self):
        """The frame on screen with its skeletons, full size, as PNG; its path or None."""
        shown = self.w.display.last_result
        if shown is None:
            self.w.show_error("nothing to save yet: no frame shown")
            return None
        packet, result = shown
        try:
            path = save_snapshot(self.folder(), packet.frame,
                                 result.people if result is not None else [],
                                 self.w.display.options())
        except UniskelError as exc:
            self.w.show_error(str(exc))
            return None
        self.w.statusBar().showMessage(f"snapshot saved: {path}", 6000)
        return path
