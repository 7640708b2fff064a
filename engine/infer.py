"""Writing annotated video: the writer ``uniskel infer`` uses (commands/infer.py) and the
disk-space guard that keeps what was written playable."""
from __future__ import annotations

VIDEO_EXTS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}
#: stop writing while this much is still free: OpenCV's writer fails silently on a full
#: disk and its MP4 index, written last, would not fit (the file would not play)
MIN_FREE_BYTES = 16 * 1024 * 1024


def open_writer(path, fps: float, size_hw):
    """An OpenCV VideoWriter for RGB frames of ``size_hw``; UniskelError if impossible."""
    from pathlib import Path

    import cv2

    from uniskel.engine.errors import UniskelError

    path = Path(path)
    fourcc = VIDEO_EXTS.get(path.suffix.lower())
    if fourcc is None:
        raise UniskelError(f"{path}: output video must be one of {', '.join(VIDEO_EXTS)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UniskelError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    h, w = size_hw
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    if not writer.isOpened():
        raise UniskelError(f"{path}: cannot write a video there (folder read-only or missing?)")
    return writer
