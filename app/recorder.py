"""Recording the annotated view to MP4 and the keypoints to JSON lines / CSV, and snapshots.

The writing is engine.media.outputs, the same code as ``uniskel infer``: the same drawing
(engine.media.draw.render, with the view's options mapped onto a draw.Style), the same
records, the same disk-space guard and the same one-line errors. The engine's thread only
queues (frame, result, options); a writer thread draws, writes the record, then encodes.
Stopping, for whatever reason (the user, the source ending, a write error), finalises
both files, so the MP4 plays and the records read up to the last frame.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from uniskel.engine.media import outputs
from uniskel.engine.media.draw import Style, render
from uniskel.engine.errors import UniskelError

QUEUE_FRAMES = 64


@dataclass
class RecordingSummary:
    video: str
    keypoints: str
    frames: int
    records: int
    dropped: int
    reason: str        # "stopped", "source ended", or the one-line error
    error: bool = False
    line: str = ""     # on error: the line ``uniskel infer`` prints for the same failure


def default_folder() -> Path:
    for candidate in (Path.home() / "Videos", Path.home()):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def output_paths(folder: Path, fmt: str, stem: str | None = None) -> tuple[Path, Path]:
    stem = stem or time.strftime("uniskel_%Y%m%d_%H%M%S")
    return folder / f"{stem}.mp4", folder / f"{stem}.{fmt}"


def style_of(options) -> Style:
    """The view's options (app.overlay.OverlayOptions) as the engine's drawing style; a
    Style is taken as it is."""
    if options is None or isinstance(options, Style):
        return options or Style()
    return Style(subset=options.subset, threshold=options.threshold,
                 line_width=options.line_width, names=options.show_names,
                 ids=options.show_ids, mirror=options.mirror,
                 side_colours=options.side_colours, followed=options.followed)


class Recorder(QObject):
    """One recording at a time. ``stopped`` carries a RecordingSummary."""

    stopped = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._summary: RecordingSummary | None = None
        self.dropped = 0
        self.frames = 0

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, folder, fps: float, size: tuple[int, int], fmt: str = "jsonl",
              stem: str | None = None, meta: dict | None = None) -> tuple[Path, Path]:
        """Open the files (raises UniskelError with the reason; nothing is left behind)
        and start the writer. ``size``: (width, height) of the frames."""
        if self.active:
            raise UniskelError("already recording")
        folder = Path(folder).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UniskelError(f"cannot create the recording folder {folder}: "
                               f"{exc.strerror or exc}") from exc
        video_path, kp_path = output_paths(folder, fmt, stem)
        meta = meta or {}
        out = outputs.Outputs(video_path, kp_path, fps=float(fps) if fps and fps > 0 else 30.0,
                              size_hw=(int(size[1]), int(size[0])),
                              source=meta.get("source"), backend=meta.get("backend"))
        self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.dropped = self.frames = 0
        self._summary = RecordingSummary(str(video_path), str(kp_path), 0, 0, 0, "stopped")
        self._thread = threading.Thread(target=self._write_loop, args=(out,), daemon=True,
                                        name="recorder")
        self._thread.start()
        return video_path, kp_path

    def add(self, frame: np.ndarray, result, options) -> None:
        """Queue one frame to draw with ``options`` (never blocks; drops if the writer is
        behind)."""
        if not self.active:
            return
        try:
            self._queue.put_nowait((frame, result, options))
        except queue.Full:
            self.dropped += 1

    def stop(self, reason: str = "stopped", wait: bool = True) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        if self._summary is not None and self._summary.reason == "stopped":
            self._summary.reason = reason
        try:
            self._queue.put((None, None, None), timeout=10.0)
        except queue.Full:  # the writer is stuck; it is a daemon thread, leave it
            return
        if wait:
            self._thread.join(30.0)

    def finish(self, timeout: float = 30.0) -> None:
        """Wait for a recording that was told to stop to be written out (closing)."""
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def _write_loop(self, out: outputs.Outputs):
        s = self._summary
        failed = None
        try:
            while True:
                frame, result, options = self._queue.get()
                if frame is None:
                    break
                out.write(frame, result, style_of(options))
                s.frames = s.records = self.frames = out.frames
        except Exception as exc:  # keep the app alive, and the files valid, whatever happened
            failed = exc
        finally:
            closing = out.close()  # writes the MP4 index: the file plays up to here
            failed = failed or closing
            if failed is not None:
                s.reason, s.error = str(outputs.failure(failed)), True
                s.line = out.summary_line(failed)
            s.dropped = self.dropped
            self._drain()
            self.stopped.emit(s)

    def _drain(self):
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


def save_snapshot(folder, frame: np.ndarray, people, options, stem: str | None = None) -> Path:
    """The annotated frame at full resolution as PNG, drawn as a recording draws it;
    raises UniskelError on failure."""
    import cv2

    folder = Path(folder).expanduser()
    path = folder / f"{stem or time.strftime('uniskel_%Y%m%d_%H%M%S')}.png"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UniskelError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    image = render(frame, people, style_of(options))
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    try:
        if not ok:
            raise OSError("PNG encoder failed")
        path.write_bytes(png.tobytes())
    except OSError as exc:
        raise UniskelError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
