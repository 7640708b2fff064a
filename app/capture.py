"""Frame sources for the window: cameras (Qt Multimedia), video files and still images.

Every source emits ``frame(Packet)`` from its own thread; a Packet holds a fresh RGB
array that no one else writes to, so it can cross threads as is. Sources also emit
``opened(dict)``, ``ended()``, ``failed(str)`` (a one-line reason), and cameras
``lost(str)``/``restored()`` when a device disappears and comes back.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
STILL_FPS = 10.0      # a still image is re-sent at this rate so the engine keeps measuring


@dataclass
class Packet:
    frame: np.ndarray          # RGB uint8 (H, W, 3), owned by this packet
    timestamp: float           # seconds in the source (video position, or since start)
    captured: float            # time.monotonic() when it was read
    index: int                 # frame number in the source
    restart: bool = False      # first frame after a seek, a loop or a reconnect
    extra: dict = field(default_factory=dict)


# --- camera discovery -------------------------------------------------------------------

def multimedia_error() -> str | None:
    """Why Qt Multimedia cannot be used here (a missing system library), or None."""
    try:
        from PySide6 import QtMultimedia  # noqa: F401 - importing is the test
    except ImportError as exc:
        return f"Qt Multimedia unavailable ({exc})"
    return None


def list_cameras() -> list[tuple[str, bytes]]:
    """(name, device id) of each camera Qt Multimedia sees; [] without Qt Multimedia."""
    if multimedia_error():
        return []
    from PySide6.QtMultimedia import QMediaDevices
    return [(d.description(), bytes(d.id())) for d in QMediaDevices.videoInputs()]


def parse_camera(spec: str) -> int | None:
    """"camera:N" -> N, a path -> None; a malformed "camera:..." raises UniskelError."""
    from uniskel.engine.sources import parse_camera as engine_parse
    return engine_parse(spec)


def open_source(spec: str, parent=None):
    """"camera:N" or a path -> an unstarted source; raises UniskelError if it cannot be."""
    from uniskel.engine.errors import UniskelError
    index = parse_camera(spec)
    if index is not None:
        cams = list_cameras()
        if cams:
            if index >= len(cams):
                raise UniskelError(f"no camera {index}: found {len(cams)} "
                                   f"({', '.join(n for n, _ in cams)})")
            return QtCameraSource(cams[index][0], cams[index][1], parent)
        if multimedia_error():  # no Qt Multimedia: let OpenCV try the device directly
            from uniskel.engine import sources
            sources.open_source(spec).close()  # a missing camera fails here, not later
            return Cv2Source(index, parent)
        raise UniskelError(f"no camera {index}: no camera found")
    path = Path(spec).expanduser()
    if path.exists() and not path.is_dir() and not os.access(path, os.R_OK):
        raise UniskelError(f"{path}: not readable (permission denied)")
    from uniskel.engine import sources
    sources.open_source(path).close()  # the same checks, and messages, as `uniskel infer`
    return Cv2Source(str(path), parent)


# --- files, images and OpenCV cameras ---------------------------------------------------

class Cv2Source(QThread):
    """Reads a video file, a still image, or (fallback) an OpenCV camera index.

    Files play in real time at their own frame rate, and can pause, seek and loop."""

    frame = Signal(object)
    opened = Signal(dict)
    ended = Signal()
    failed = Signal(str)
    lost = Signal(str)
    restored = Signal()
    position = Signal(int)

    def __init__(self, target: str | int, parent=None):
        super().__init__(parent)
        self.target = target
        self.is_camera = isinstance(target, int)
        self.name = f"camera {target}" if self.is_camera else Path(target).name
        self.fps = 25.0
        self.frame_count = 0
        self.loop = True
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._playing = True
        self._seek_to: int | None = None
        self._at_end = False
        self._stop = False

    # controls, callable from the GUI thread
    def play(self):
        with self._lock:
            self._playing = True
            if self._at_end:  # play after the end starts again
                self._seek_to, self._at_end = 0, False
        self._wake.set()

    def pause(self):
        with self._lock:
            self._playing = False
        self._wake.set()

    def is_playing(self) -> bool:
        return self._playing

    def seek(self, index: int):
        with self._lock:
            self._seek_to = max(0, int(index))
            self._at_end = False
        self._wake.set()

    def set_loop(self, loop: bool):
        self.loop = bool(loop)

    def stop(self):
        self._stop = True
        self._wake.set()
        self.wait(3000)

    # the thread
    def run(self):
        try:
            if self.is_camera:
                self._run_camera()
            else:
                self._run_file()
        except Exception as exc:  # never let a decoder problem escape the thread
            self.failed.emit(f"{self.name}: {exc}")

    def _run_file(self):
        import cv2
        path = str(self.target)
        if Path(path).suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                self.failed.emit(f"{self.name}: not an image OpenCV can read")
                return
            return self._run_still(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        cap = cv2.VideoCapture(path)
        ok, bgr = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            cap.release()
            image = cv2.imread(path, cv2.IMREAD_COLOR)  # maybe an image with an odd name
            if image is not None:
                return self._run_still(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            self.failed.emit(f"{self.name}: not a video or image OpenCV can read")
            return
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 25.0
        self.frame_count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.opened.emit({"kind": "video", "name": self.name, "fps": self.fps,
                          "frames": self.frame_count, "size": (bgr.shape[1], bgr.shape[0])})
        index, restart = 0, True
        t0, i0 = time.monotonic(), 0
        try:
            while not self._stop:
                with self._lock:
                    seek, self._seek_to = self._seek_to, None
                    playing = self._playing
                if seek is not None:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, seek)
                    ok, bgr = cap.read()
                    index, restart = seek, True
                    t0, i0 = time.monotonic(), index
                    if not ok:
                        self.ended.emit()
                        bgr = None
                if bgr is not None:
                    self._emit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index / self.fps, index,
                               restart)
                    self.position.emit(index)
                    restart, bgr = False, None
                if not playing:
                    self._wake.wait(0.1)
                    self._wake.clear()
                    t0, i0 = time.monotonic(), index + 1
                    continue
                # pace to the file's frame rate; if far behind, resynchronise
                due = t0 + (index + 1 - i0) / self.fps
                delay = due - time.monotonic()
                if delay < -0.5:
                    t0, i0 = time.monotonic(), index + 1
                elif delay > 0:
                    self._wake.wait(delay)
                    self._wake.clear()
                    with self._lock:
                        if self._seek_to is not None or not self._playing:
                            continue
                ok, bgr = cap.read()
                index += 1
                if not ok:
                    bgr = None
                    if self.loop and index > 1:
                        self.seek(0)
                    else:
                        with self._lock:
                            self._playing, self._at_end = False, True
                        self.ended.emit()
        finally:
            cap.release()

    def _run_still(self, rgb: np.ndarray):
        self.frame_count = 1
        self.opened.emit({"kind": "image", "name": self.name, "fps": STILL_FPS, "frames": 1,
                          "size": (rgb.shape[1], rgb.shape[0])})
        start, n = time.monotonic(), 0
        while not self._stop:
            if self._playing or n == 0:
                self._emit(rgb.copy(), time.monotonic() - start, n, n == 0)
                n += 1
            self._wake.wait(1.0 / STILL_FPS)
            self._wake.clear()

    def _run_camera(self):
        import cv2
        cap, start, n, was_lost = None, time.monotonic(), 0, False
        while not self._stop:
            if cap is None:
                cap = cv2.VideoCapture(int(self.target))
                if not cap.isOpened():
                    cap.release()
                    cap = None
                    if not was_lost:
                        was_lost = True
                        self.lost.emit(f"{self.name} is not available; waiting for it")
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
            ok, bgr = cap.read()
            if not ok:
                cap.release()
                cap = None
                if not was_lost:
                    was_lost = True
                    self.lost.emit(f"{self.name} disconnected; waiting for it to come back")
                continue
            if was_lost or n == 0:
                self.opened.emit({"kind": "camera", "name": self.name, "fps": 30.0,
                                  "frames": 0, "size": (bgr.shape[1], bgr.shape[0])})
                if was_lost:
                    self.restored.emit()
            self._emit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.monotonic() - start, n,
                       was_lost or n == 0)
            was_lost = False
            n += 1
        if cap is not None:
            cap.release()

    def _emit(self, rgb, ts, index, restart):
        self.frame.emit(Packet(rgb, float(ts), time.monotonic(), int(index), bool(restart)))


# --- Qt Multimedia cameras --------------------------------------------------------------

class QtCameraSource(QObject):
    """A camera through QCamera + QMediaCaptureSession + QVideoSink.

    Frames are converted to RGB arrays in a helper thread (newest frame wins), not in
    the GUI thread. When the device disappears it says so and reconnects when a device
    with the same id returns."""

    frame = Signal(object)
    opened = Signal(dict)
    ended = Signal()
    failed = Signal(str)
    lost = Signal(str)
    restored = Signal()
    position = Signal(int)
    is_camera = True
    fps = 30.0
    frame_count = 0
    loop = False

    def __init__(self, name: str, device_id: bytes, parent=None):
        super().__init__(parent)
        from PySide6.QtMultimedia import QMediaCaptureSession, QMediaDevices, QVideoSink
        self.name, self.device_id = name, device_id
        self._devices = QMediaDevices(self)
        self._devices.videoInputsChanged.connect(self._inputs_changed)
        self._session = QMediaCaptureSession(self)
        self._sink = QVideoSink(self)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._on_frame, type=_direct())
        self._camera = None
        self._latest = None
        self._cond = threading.Condition()
        self._stop = False
        self._lost = False
        self._n = 0
        self._start = time.monotonic()
        self._last_frame = time.monotonic()
        self._converter = threading.Thread(target=self._convert_loop, daemon=True,
                                           name="camera-convert")
        self._watchdog = QTimer(self)
        self._watchdog.timeout.connect(self._check_alive)

    def start(self):
        self._converter.start()
        self._connect_camera()
        self._watchdog.start(1000)

    def play(self):
        pass

    def pause(self):
        pass

    def is_playing(self) -> bool:
        return True

    def seek(self, index):
        pass

    def set_loop(self, loop):
        pass

    def stop(self):
        self._watchdog.stop()
        self._stop = True
        with self._cond:
            self._cond.notify_all()
        if self._camera is not None:
            self._camera.stop()
        self._session.setCamera(None)
        if self._converter.is_alive():
            self._converter.join(2.0)

    def _device(self):
        from PySide6.QtMultimedia import QMediaDevices
        for d in QMediaDevices.videoInputs():
            if bytes(d.id()) == self.device_id:
                return d
        return None

    def _connect_camera(self):
        from PySide6.QtMultimedia import QCamera
        device = self._device()
        if device is None:
            self._mark_lost(f"camera '{self.name}' is not connected; waiting for it")
            return
        if self._camera is not None:
            self._camera.stop()
            self._camera.deleteLater()
        self._camera = QCamera(device, self)
        self._camera.errorOccurred.connect(self._on_error)
        self._session.setCamera(self._camera)
        self._camera.start()
        self._last_frame = time.monotonic()

    def _mark_lost(self, message):
        if not self._lost:
            self._lost = True
            self.lost.emit(message)

    def _on_error(self, error, text):
        self._mark_lost(f"camera '{self.name}' stopped ({text or error}); waiting for it")

    def _inputs_changed(self):
        present = self._device() is not None
        if not present:
            self._mark_lost(f"camera '{self.name}' disconnected; waiting for it to come back")
            if self._camera is not None:
                self._camera.stop()
        elif self._lost:
            self._connect_camera()

    def _check_alive(self):
        if self._lost:
            if self._device() is not None:
                self._connect_camera()
        elif time.monotonic() - self._last_frame > 4.0:
            self._mark_lost(f"camera '{self.name}' sends no frames; retrying")

    def _on_frame(self, video_frame):  # any thread: keep only the newest
        with self._cond:
            self._latest = (video_frame, time.monotonic())
            self._cond.notify()

    def _convert_loop(self):
        from PySide6.QtGui import QImage
        from uniskel.app.overlay import qimage_to_numpy
        while True:
            with self._cond:
                while self._latest is None and not self._stop:
                    self._cond.wait(0.5)
                if self._stop:
                    return
                video_frame, captured = self._latest
                self._latest = None
            if not video_frame.isValid():
                continue
            image = video_frame.toImage()
            if image.isNull():
                continue
            rgb = qimage_to_numpy(image.convertToFormat(QImage.Format.Format_RGB888))
            self._last_frame = time.monotonic()
            restart = self._n == 0 or self._lost
            if restart:
                self.opened.emit({"kind": "camera", "name": self.name, "fps": 30.0,
                                  "frames": 0, "size": (rgb.shape[1], rgb.shape[0])})
            if self._lost:
                self._lost = False
                self.restored.emit()
            self.frame.emit(Packet(rgb, captured - self._start, captured, self._n, restart))
            self._n += 1


def _direct():
    from PySide6.QtCore import Qt
    return Qt.ConnectionType.DirectConnection
