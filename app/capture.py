"""Frame sources for the window: files, images and OpenCV cameras (engine.media.playback in a
QThread), and cameras through Qt Multimedia.

Reading, decoding, seeking, pacing and looping are the engine's (engine.media.sources,
engine.media.playback), the same code as ``uniskel infer``; this module only moves frames and
state changes onto Qt signals. Every source emits ``frame(Packet)`` from its own thread;
a Packet holds a fresh RGB array that no one else writes to, so it can cross threads as
is. Sources also emit ``opened(dict)``, ``ended()``, ``failed(str)`` (a one-line reason,
the same line ``uniskel infer`` would print), ``position(int)`` for videos, and cameras
``lost(str)``/``restored()`` when a device disappears and comes back.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from uniskel.engine.media import sources
from uniskel.engine.errors import UniskelError
from uniskel.engine.media.playback import Event, Packet, Player

__all__ = ["Packet", "Cv2Source", "QtCameraSource", "open_source", "list_cameras",
           "multimedia_error", "parse_camera"]

STILL_FPS = 10.0      # a still image is re-sent at this rate so the engine keeps measuring
STOP_WAIT_MS = 5000   # a read blocks at most a camera's stall timeout (engine.media.sources)


# --- camera discovery -------------------------------------------------------------------

def multimedia_error() -> str | None:
    """Why Qt Multimedia cannot be used here (a missing system library), or None."""
    try:
        from PySide6 import QtMultimedia  # noqa: F401 - importing is the test
    except ImportError as exc:
        return f"Qt Multimedia unavailable ({exc})"
    return None


def list_cameras() -> list[tuple[str, bytes]]:
    """(name, device id) of each camera Qt Multimedia sees. Without Qt Multimedia (the
    desktop bundle leaves it out) the cameras Linux lists, the id their OpenCV index."""
    if multimedia_error():
        return [(name, str(index).encode()) for name, index in sources.v4l2_cameras()]
    from PySide6.QtMultimedia import QMediaDevices
    return [(d.description(), bytes(d.id())) for d in QMediaDevices.videoInputs()]


def parse_camera(spec: str) -> int | None:
    """"camera:N" -> N, a path -> None; a malformed "camera:..." raises UniskelError."""
    return sources.parse_camera(spec)


def open_source(spec: str, parent=None):
    """"camera:N" or a path -> an unstarted source; raises UniskelError (the same line as
    the command line's) if it cannot be."""
    index = parse_camera(spec)
    if index is not None:
        cams = list_cameras()
        if cams:
            if index >= len(cams):
                raise UniskelError(f"no camera {index}: found {len(cams)} "
                                   f"({', '.join(n for n, _ in cams)})")
            if multimedia_error():  # listed by Linux: OpenCV opens it by its own index
                opencv = int(cams[index][1])
                return Cv2Source(opencv, parent, source=sources.CameraSource(opencv))
            return QtCameraSource(cams[index][0], cams[index][1], parent)
        if multimedia_error():  # no Qt Multimedia: OpenCV opens the device directly
            return Cv2Source(index, parent, source=sources.open_source(spec))
        raise UniskelError(f"no camera {index}: no camera found")
    source = sources.open_source(spec, still_fps=STILL_FPS)
    return Cv2Source(str(Path(spec).expanduser()), parent, source=source)


# --- files, images and OpenCV cameras ---------------------------------------------------

class Cv2Source(QThread):
    """Plays a video file or a still image (in real time, with pause, seek and loop), or
    an OpenCV camera index (waiting for it while it is missing): an engine Player run in
    this thread. ``source``: the engine source already opened (else it is opened here)."""

    frame = Signal(object)
    opened = Signal(dict)
    ended = Signal()
    failed = Signal(str)
    lost = Signal(str)
    restored = Signal()
    position = Signal(int)
    warning = Signal(str)  # odd but usable (an assumed frame rate, a size change): once each

    def __init__(self, target: str | int, parent=None, source: sources.Source | None = None):
        super().__init__(parent)
        self.target = target
        self.is_camera = isinstance(target, int)
        self.name = f"camera {target}" if self.is_camera else Path(target).name
        if self.is_camera:
            opener = lambda: sources.CameraSource(int(target))  # noqa: E731
        else:
            opener = lambda: sources.open_source(target, still_fps=STILL_FPS)  # noqa: E731
        self.player = Player(source, opener=opener, name=self.name, loop=True, pace=True,
                             interactive=True, reconnect=self.is_camera)
        self.fps = source.fps if source is not None else 25.0
        self.frame_count = (source.frame_count or 0) if source is not None else 0

    @property
    def loop(self) -> bool:
        return self.player.loop

    # controls, callable from the GUI thread
    def play(self):
        self.player.play()

    def pause(self):
        self.player.pause()

    def is_playing(self) -> bool:
        return self.player.is_playing()

    def seek(self, index: int):
        self.player.seek(index)

    def set_loop(self, loop: bool):
        self.player.set_loop(loop)

    def stop(self):
        self.player.stop()
        self.wait(STOP_WAIT_MS)
        if not self.isRunning():
            self.player.close()  # never started, or finished: release the file or device

    # the thread
    def run(self):
        try:
            for item in self.player.events():
                if isinstance(item, Packet):
                    self.frame.emit(item)
                    if self.player.source is not None and self.player.source.seekable:
                        self.position.emit(item.index)
                else:
                    self._on_event(item)
        except UniskelError as exc:  # a file that breaks off: the engine's one line
            self.failed.emit(str(exc))
        except Exception as exc:  # never let a decoder problem escape the thread
            self.failed.emit(f"{self.name}: {exc}")
        finally:
            self.player.close()

    def _on_event(self, event: Event):
        if event.kind == "opened":
            src = event.source
            self.fps, self.frame_count = src.fps, src.frame_count or 0
            self.opened.emit({"kind": src.kind, "name": self.name, "fps": src.fps,
                              "frames": self.frame_count, "size": (src.size[1], src.size[0])})
        elif event.kind == "ended":
            self.ended.emit()
        elif event.kind == "lost":
            self.lost.emit(event.message)
        elif event.kind == "restored":
            self.restored.emit()
        elif event.kind == "warning":
            self.warning.emit(event.message)


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
