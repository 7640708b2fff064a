"""Recording the annotated view to MP4 and the keypoints to JSON lines / CSV, and snapshots.

The GUI thread only queues (frame, result) pairs; a writer thread paints the overlay
(the same ``paint_people`` as the screen), encodes with cv2.VideoWriter and writes the
keypoint records with engine.records. Stopping, for whatever reason (the user, the
source ending, a write error), releases the writer so the MP4 is finalised and plays.
"""
from __future__ import annotations

import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from uniskel.engine.errors import UniskelError

MIN_FREE_BYTES = 50 * 1024 * 1024   # stop before the disk is full, so the file stays valid
QUEUE_FRAMES = 64


@dataclass
class RecordingSummary:
    video: str
    keypoints: str
    frames: int
    records: int
    dropped: int
    reason: str        # "stopped", "source ended", or an error message
    error: bool = False


def default_folder() -> Path:
    for candidate in (Path.home() / "Videos", Path.home()):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def output_paths(folder: Path, fmt: str, stem: str | None = None) -> tuple[Path, Path]:
    stem = stem or time.strftime("uniskel_%Y%m%d_%H%M%S")
    return folder / f"{stem}.mp4", folder / f"{stem}.{fmt}"


def _open_keypoint_writer(path: Path, meta: dict):
    from uniskel.engine import records
    try:
        return records.KeypointWriter(path, **meta)
    except TypeError:  # a writer without metadata arguments
        return records.KeypointWriter(path)


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
        """Open the files (raises UniskelError with the reason) and start the writer."""
        import cv2
        if self.active:
            raise UniskelError("already recording")
        folder = Path(folder).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UniskelError(f"cannot create the recording folder {folder}: "
                               f"{exc.strerror or exc}") from exc
        video_path, kp_path = output_paths(folder, fmt, stem)
        try:
            probe = video_path.with_suffix(".probe")
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise UniskelError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
        if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
            raise UniskelError(f"not enough free space in {folder} to record")
        w, h = max(int(size[0]) // 2 * 2, 2), max(int(size[1]) // 2 * 2, 2)
        fps = float(fps) if fps and fps > 0 else 30.0
        writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            raise UniskelError(f"cannot open {video_path} for writing (MP4 encoder unavailable?)")
        try:
            keypoints = _open_keypoint_writer(kp_path, {"fps": fps, "size": [int(size[1]), int(size[0])], **(meta or {})})
        except UniskelError:
            writer.release()
            raise
        except OSError as exc:
            writer.release()
            raise UniskelError(f"cannot write {kp_path}: {exc.strerror or exc}") from exc
        self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.dropped = self.frames = 0
        self._summary = RecordingSummary(str(video_path), str(kp_path), 0, 0, 0, "stopped")
        self._thread = threading.Thread(target=self._write_loop, daemon=True,
                                        args=(writer, keypoints, (w, h), folder),
                                        name="recorder")
        self._thread.start()
        return video_path, kp_path

    def add(self, frame: np.ndarray, result, options) -> None:
        """Queue one annotated frame (never blocks; drops if the writer is behind)."""
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

    def _write_loop(self, writer, keypoints, size, folder):
        from uniskel.app.overlay import qimage_to_numpy, render_annotated
        import cv2
        s = self._summary
        try:
            while True:
                frame, result, options = self._queue.get()
                if frame is None:
                    break
                rgb = qimage_to_numpy(render_annotated(frame, result.people, options))
                if (rgb.shape[1], rgb.shape[0]) != size:
                    # odd sizes lose their last column/row (the encoder wants even ones),
                    # so keypoint coordinates still match the pixels
                    rgb = rgb[: size[1], : size[0]]
                    if (rgb.shape[1], rgb.shape[0]) != size:  # the source changed size
                        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                keypoints.write(result)  # first: a failed record leaves no extra frame
                writer.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
                s.frames += 1
                s.records += 1
                self.frames = s.frames
                if s.frames % 15 == 0 and shutil.disk_usage(folder).free < MIN_FREE_BYTES:
                    raise OSError(28, "the disk is almost full")
        except OSError as exc:
            s.reason, s.error = f"recording stopped: {exc.strerror or exc}", True
        except Exception as exc:  # keep the app alive, and the file valid, whatever happened
            s.reason, s.error = f"recording stopped: {exc}", True
        finally:
            writer.release()  # writes the MP4 index: the file plays up to here
            try:
                keypoints.close()
            except OSError as exc:
                if not s.error:
                    s.reason, s.error = f"keypoint file not closed cleanly: {exc}", True
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
    """The annotated frame at full resolution as PNG; raises UniskelError on failure."""
    from uniskel.app.overlay import render_annotated
    folder = Path(folder).expanduser()
    path = folder / f"{stem or time.strftime('uniskel_%Y%m%d_%H%M%S')}.png"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UniskelError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    if not render_annotated(frame, people, options).save(str(path), "PNG"):
        raise UniskelError(f"cannot write {path}")
    return path
