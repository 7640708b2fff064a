"""Test doubles for the reliability tests: broken videos, a source that breaks off, a small
real filesystem that fills up (tmpfs), and reading back what was written."""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np

from uniskel.engine.media.sources import Source, SourceError


def write_video(path, n=30, size=(160, 120), fps=15, fourcc="mp4v", noise=True):
    """A real video written by cv2 (noise frames, so it does not compress to nothing)."""
    rng = np.random.default_rng(0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert w.isOpened(), path
    for i in range(n):
        frame = (rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) if noise
                 else np.full((size[1], size[0], 3), (i * 8) % 256, np.uint8))
        w.write(frame)
    w.release()
    return Path(path)


def bad_videos(folder: Path) -> dict[str, tuple[Path, str]]:
    """{kind: (path, words the error line must contain)} for every unusable video."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    good = write_video(folder / "whole.mp4")
    data = good.read_bytes()
    cut = folder / "cut_in_half.mp4"
    cut.write_bytes(data[: len(data) // 2])
    text = folder / "shopping_list.mp4"
    text.write_text("eggs\nmilk\nbread\n" * 40)
    return {
        "missing": (folder / "not_there.mp4", "source not found"),
        "empty": (empty, "file is empty"),
        "truncated": (cut, "truncated"),
        "not_a_video": (text, "not a video"),
    }


def read_video(path) -> tuple[int, tuple | None]:
    """(frames cv2 can decode, shape of the last one)."""
    cap = cv2.VideoCapture(str(path))
    n, shape = 0, None
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape
    cap.release()
    return n, shape


class BreakingSource(Source):
    """Yields ``n`` RGB frames (a bright 'person' on noise), then raises ``error``
    (a camera unplugged mid-run), or simply ends when ``error`` is None."""

    kind = "fake"

    def __init__(self, n: int, error: BaseException | None = None, size=(120, 160),
                 fps: float = 15.0, noise: bool = True):
        super().__init__("fake camera")
        self.n, self.error, self.size, self.fps = n, error, size, fps
        self.frame_count = None
        self.noise = noise
        self.closed = False
        self._rng, self._next = np.random.default_rng(1), 0

    def read(self):
        if self._next >= self.n:
            if self.error is not None:
                raise self.error
            return None
        h, w = self.size
        frame = (self._rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if self.noise
                 else np.full((h, w, 3), 30, np.uint8))
        frame[h // 6: h - h // 8, w // 3: w // 3 + w // 5] = 255
        self._next += 1
        return frame, self._next - 1

    def close(self):
        self.closed = True


def camera_unplugged(n: int, **kw) -> BreakingSource:
    return BreakingSource(n, SourceError("camera 0: stopped delivering frames "
                                         "(unplugged or taken by another program?)"), **kw)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    """Mount a small tmpfs at ``path`` (a real filesystem that fills up, or refuses
    writes); yields False where this machine cannot (not root, no mount permission)."""
    path.mkdir(parents=True, exist_ok=True)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        yield False
        return
    opts = f"size={size}" + (",ro" if read_only else "")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
