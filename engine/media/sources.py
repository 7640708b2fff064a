"""Frame sources: a camera, a video file or a still image, opened and decoded.

``open_source(spec)`` with ``spec`` = ``"camera:N"`` or a file path returns a ``Source``
that knows its ``fps``, ``size`` (h, w) and ``frame_count`` (None for a camera). Every
way a source can be unusable -- a missing, unreadable or empty file, a folder, a file
that is not a video, a truncated video, a missing camera -- raises ``UniskelError`` with
one line naming it, at open time when it can be known then. A camera that stops
delivering, or a video that breaks off before its stated length, raises ``SourceError``
(a ``UniskelError``) after the frames that did arrive; a video that simply ends ends.

A source is read one frame at a time: ``read()`` gives ``(rgb, index)`` or None at the
end, and ``seek(index)`` moves a video (an image starts again). Playing it -- pacing,
looping, pause and seek from another thread, waiting for a camera to come back -- is
``engine.media.playback.Player``, which the window (app/capture.py) and the command line
(``for frame, timestamp, index in playback.play(source)``) both use; a source knows
nothing of its player.

Odd but usable sources say so once: ``source.warnings`` (one line each) and, as each
arises, ``source.on_warning(line)``; the player passes them on as ``Event("warning")``
(the window's status), ``uniskel infer`` prints them. A video file states no frame rate, or one outside
``MIN_FPS``..``MAX_FPS``: timestamps assume ``DEFAULT_FPS``. The frame size changes
mid-video: said where it does (the pipeline restarts its tracks there). OpenCV cannot
decode past a change of frame size in most containers and repeats the last frame it
could instead; a video that moves and then ends on ``STALE_RUN`` or more exact copies
of one frame ends at that frame, said once, rather than have those copies posed as
frames. Identical frames that the video goes on from (a still picture), and a video
that is one picture throughout, are frames.

Cameras use ``CAP_PROP_BUFFERSIZE = 1`` so a slow consumer sees fresh frames, not a
queue. ``loop=True`` repeats a video or an image forever when played by ``playback.play`` (soak);
``realtime=True`` paces files at their frame rate.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import cv2
import numpy as np

from uniskel.engine.errors import UniskelError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CAMERA_PREFIX = "camera:"
STILL_FPS = 30.0      # the rate an image is repeated at when it loops
DEFAULT_FPS = 30.0    # a video that states no plausible frame rate
MIN_FPS, MAX_FPS = 0.01, 1000.0  # plausible: a frame every 100 s (time-lapse) to 1000 fps
STALE_RUN = 3         # a video ending on this many copies of its last frame: see above
LOOKAHEAD = 300       # identical frames read ahead, at most, to see whether the video ends


class SourceError(UniskelError):
    """The source broke off mid-stream (camera unplugged, truncated video)."""


def _rgb(frame_bgr: np.ndarray) -> np.ndarray:
    if frame_bgr.ndim == 2:
        return cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2RGB)
    if frame_bgr.shape[2] == 4:
        return cv2.cvtColor(frame_bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)


class Source:
    kind = "source"
    live = False        # a camera: frames come when they come, nothing to pace or seek
    seekable = False    # a video file: seek(index) goes to that frame

    def __init__(self, name: str):
        self.name = name
        self.fps: float = 30.0
        self.size: tuple[int, int] = (0, 0)  # (height, width)
        self.frame_count: int | None = None
        self.loop = False       # how ``playback.play`` plays it (engine.media.playback)
        self.realtime = False
        self.warnings: list[str] = []  # odd but usable: said once each (see above)
        self.on_warning = None  # called with each new warning line (after those before)
        self._shape = None      # the last frame's (h, w), to see a change

    def warn(self, message: str) -> None:
        """Say ``message`` once: kept in ``warnings``, passed to ``on_warning`` if set."""
        if message in self.warnings:
            return
        self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    def _check_size(self, frame: np.ndarray, index: int) -> None:
        """Say (once) that the frame size changed, where it did."""
        shape = frame.shape[:2]
        if self._shape is not None and shape != self._shape and not any(
                "frame size changes" in w for w in self.warnings):
            (h0, w0), (h1, w1) = self._shape, shape
            self.warn(f"{self.name}: the frame size changes from {w0}x{h0} to {w1}x{h1} at "
                      f"frame {index}; people are found afresh from there")
        self._shape = shape

    def read(self) -> tuple[np.ndarray, int] | None:
        """The next frame (RGB, owned by the caller) and its index, or None at the end;
        raises SourceError if the source breaks off."""
        raise NotImplementedError

    def seek(self, index: int) -> None:
        """Go to frame ``index`` (a video), or start again (an image)."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        h, w = self.size
        return f"<{self.kind} {self.name} {w}x{h} @ {self.fps:.1f} fps>"


class CameraSource(Source):
    kind = "camera"
    live = True

    def __init__(self, index: int, open_timeout: float = 3.0, stall_timeout: float = 2.0,
                 width: int | None = None, height: int | None = None):
        super().__init__(f"camera {index}")
        self.index = index
        self.stall_timeout = stall_timeout
        self.cap = cv2.VideoCapture(index)
        if not self.cap.isOpened():
            self.cap.release()
            raise UniskelError(f"camera {index}: not found or in use by another program")
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if width and height:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._first = self._grab(open_timeout)
        if self._first is None:
            self.cap.release()
            raise UniskelError(f"camera {index}: opened but delivers no frames")
        self.size = self._first.shape[:2]
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0
        self._count = 0

    def _grab(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            ok, frame = self.cap.read()
            if ok and frame is not None and frame.size:
                return frame
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def read(self):
        frame, self._first = self._first, None
        if frame is None:
            if not self.cap.isOpened():
                return None
            frame = self._grab(self.stall_timeout)
            if frame is None:
                raise SourceError(f"camera {self.index}: stopped delivering frames "
                                  f"(unplugged or taken by another program?)")
        self._check_size(frame, self._count)
        self._count += 1
        return _rgb(frame), self._count - 1

    def close(self):
        self.cap.release()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Exactly the same pixels (a sparse look first: almost always enough to differ)."""
    return a.shape == b.shape and np.array_equal(a[::7, ::7], b[::7, ::7]) \
        and np.array_equal(a, b)


class VideoSource(Source):
    kind = "video"
    seekable = True

    def __init__(self, path: Path, loop: bool = False, realtime: bool = False):
        super().__init__(str(path))
        self.path, self.loop, self.realtime = path, loop, realtime
        self.cap = self._open()
        ok, first = self.cap.read()
        if not ok or first is None:
            self.cap.release()
            raise UniskelError(f"{path}: no frame can be decoded (not a video, or truncated)")
        self._first = first
        self._next = 0          # the index of the frame read() gives next
        self._last = None       # the last frame decoded (BGR), to see copies of it
        self._pending = None    # a frame read ahead, given after the copies before it
        self._copies = 0        # copies of _last still to give (a still picture)
        self._dropped = 0       # copies at the end left out (see the module's notes)
        self.size = first.shape[:2]
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        if fps and math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS:
            self.fps = float(fps)
        else:
            self.fps = DEFAULT_FPS
            said = "states no frame rate" if not fps or not math.isfinite(fps) \
                else f"states an implausible frame rate ({fps:g} fps)"
            self.warn(f"{path}: the file {said}; timestamps assume {DEFAULT_FPS:g} fps")
        count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None

    def _open(self):
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise UniskelError(f"{self.path}: not a video OpenCV can read (wrong format, or "
                               f"truncated/corrupt)")
        return cap

    def _check_complete(self, read: int) -> None:
        """A video that ends well before its stated length is broken, not finished."""
        n = self.frame_count
        if n and read < n - max(2, int(0.02 * n)):
            raise SourceError(f"{self.path}: stream breaks off after frame {read} of {n} "
                              f"(truncated or corrupt)")

    def _decode(self) -> np.ndarray | None:
        """The next decoded frame (BGR), or None at the end."""
        frame, self._pending = self._pending, None
        if frame is None:
            frame, self._first = self._first, None
        if frame is None:
            ok, frame = self.cap.read()
            if not ok or frame is None:
                return None
        return frame

    def _give(self, frame: np.ndarray):
        self._next += 1
        return _rgb(frame), self._next - 1

    def read(self):
        if self._copies:  # a still picture the video went on from: its frames
            self._copies -= 1
            return self._give(self._last)
        frame = self._decode()
        if frame is None:
            self._check_complete(self._next + self._dropped)
            return None
        if self._last is not None and _same(frame, self._last):
            copies = 1
            while True:  # read on: does the video go on from this picture?
                after = self._decode()
                if after is None or not _same(after, self._last) or copies >= LOOKAHEAD:
                    break
                copies += 1
            if after is None and copies >= STALE_RUN and self._next > 1:
                self._dropped += copies
                k = self._next - 1
                self.warn(f"{self.path}: the last {copies} frames are exact copies of frame "
                          f"{k}, which is what OpenCV gives when the frame size changes "
                          f"mid-video (it cannot decode past that point); the video ends at "
                          f"frame {k} here, the copies left out (re-encode it at one frame "
                          f"size to use the rest)")
                self._check_complete(self._next + self._dropped)
                return None
            self._pending, self._copies = after, copies - 1
            return self._give(frame)
        self._check_size(frame, self._next)
        self._last = frame
        return self._give(frame)

    def seek(self, index: int) -> None:
        index = max(0, int(index))
        if self.frame_count:
            index = min(index, self.frame_count - 1)
        self._first = self._pending = self._last = None
        self._copies = self._dropped = 0
        if index == 0:  # from the start: reopen, which every container supports
            self.cap.release()
            self.cap = self._open()
        else:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self._next = index

    def close(self):
        self.cap.release()


class ImageSource(Source):
    """One frame; played in a loop it repeats at ``fps``."""
    kind = "image"

    def __init__(self, path: Path, loop: bool = False, realtime: bool = False,
                 fps: float = STILL_FPS):
        super().__init__(str(path))
        self.image = read_image(path)
        if self.image is None:
            raise UniskelError(f"{path}: not a readable image")
        self.size = self.image.shape[:2]
        self.fps = float(fps)
        self.loop, self.realtime = loop, realtime
        self.frame_count = None if loop else 1
        self._given = False
        self._count = 0

    def read(self):
        if self._given:
            return None
        self._given = True
        self._count += 1
        return self.image.copy(), self._count - 1

    def seek(self, index: int) -> None:
        self._given = False


def read_image(path) -> np.ndarray | None:
    """An image file as RGB, or None if it is not one (np.fromfile: also non-ASCII paths
    on Windows)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if bgr is None else _rgb(bgr)


def parse_camera(spec: str) -> int | None:
    """``"camera:N"`` -> N; anything else -> None."""
    s = str(spec).strip()
    if s.lower() == "camera":
        return 0
    if s.lower().startswith(CAMERA_PREFIX):
        rest = s[len(CAMERA_PREFIX):]
        if not rest.isdigit():
            raise UniskelError(f"bad camera {spec!r}: use camera:N with N = 0, 1, ...")
        return int(rest)
    return None


def v4l2_cameras(sysfs: Path = Path("/sys/class/video4linux")) -> list[tuple[str, int]]:
    """(name, OpenCV index) of each camera Linux lists, read from sysfs (no device is
    opened); [] elsewhere. A camera that exposes several nodes (capture, metadata) is
    listed once, by its first node (``index`` 0), the one OpenCV captures from."""
    found = []
    for node in sysfs.glob("video*"):
        number = node.name.removeprefix("video")
        try:
            if not number.isdigit() or (node / "index").read_text().strip() not in ("", "0"):
                continue
            found.append(((node / "name").read_text().strip() or node.name, int(number)))
        except OSError:
            continue
    return sorted(found, key=lambda cam: cam[1])


def open_source(spec, loop: bool = False, realtime: bool = False,
                still_fps: float = STILL_FPS) -> Source:
    """Open ``"camera:N"``, a video file or an image file (``still_fps``: the rate a
    looping image repeats at)."""
    cam = parse_camera(str(spec))
    if cam is not None:
        return CameraSource(cam)
    path = Path(os.path.expanduser(str(spec)))
    if not path.exists():
        raise UniskelError(f"source not found: {path}")
    if path.is_dir():
        raise UniskelError(f"source is a folder, not a video or image: {path}")
    if not os.access(path, os.R_OK):
        raise UniskelError(f"{path}: not readable (permission denied)")
    if path.stat().st_size == 0:
        raise UniskelError(f"{path}: file is empty")
    if path.suffix.lower() in IMAGE_EXTS:
        return ImageSource(path, loop=loop, realtime=realtime, fps=still_fps)
    return VideoSource(path, loop=loop, realtime=realtime)  # (an image by another name too)
