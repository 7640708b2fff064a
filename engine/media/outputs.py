"""What a run writes: the annotated video and the keypoint records, for ``uniskel infer``
(commands/infer.py) and the window's recorder (app/recorder.py) alike.

``Outputs(video, keypoints, fps=, size_hw=, style=, source=, backend=)`` opens either or
both files, refusing up front, in one line, where they cannot be written, where one is
an input (``inputs=``: the source, the model; also through links) or the disk is
already nearly full. Both are written under temporary names beside their targets
(engine.media.safefiles) and renamed over them at ``close()``, and only if a frame was
written: a refused run, or one that stops before its first frame, leaves files of an
earlier run exactly as they were. ``write(frame, result)`` checks the disk-space guard,
draws the frame with ``engine.media.draw.render``, writes the frame's record and then the
frame (a failed record leaves no extra frame; a stop signal waits for both).
``close()`` finalises both whatever happened, so the MP4 plays and the records read up
to the last frame written.

Failures read the same from both front ends: ``failure(exc)`` turns a write error into
the one line (``cannot write output: ...``), ``summary_line(failure)`` adds what was
kept (``... (N frames written to a.mp4, a.jsonl)``).
"""
from __future__ import annotations

import errno
import shutil
from pathlib import Path

import cv2
import numpy as np

from uniskel.engine.media import draw, records, safefiles
from uniskel.engine.errors import UniskelError, held_signals

VIDEO_EXTS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}
#: stop writing while this much is still free: OpenCV's writer fails silently on a full
#: disk and its MP4 index, written last, would not fit (the file would not play)
MIN_FREE_BYTES = 16 * 1024 * 1024


def free_bytes(folder) -> int:
    return shutil.disk_usage(folder).free


def check_paths(video=None, keypoints=None, inputs: dict | None = None) -> None:
    """Refuse outputs uniskel cannot write (before anything is loaded or made): unknown
    extensions, the same file twice, a folder that cannot be written, an output that is
    one of ``inputs`` ({"source": path, "model": path}, links included)."""
    if not video and not keypoints:
        raise UniskelError("nothing to write: pass --out annotated.mp4 and/or "
                           "--keypoints out.jsonl")
    if video and Path(video).suffix.lower() not in VIDEO_EXTS:
        raise UniskelError(f"{video}: output video must be one of {', '.join(VIDEO_EXTS)}")
    if keypoints and Path(keypoints).suffix.lower() not in records.FORMATS:
        raise UniskelError(f"{keypoints}: keypoint records must be .jsonl or .csv")
    safefiles.check_output(video, "annotated video", inputs)
    safefiles.check_output(keypoints, "keypoint records",
                           {**(inputs or {}), **({"annotated video": video} if video else {})})


def failure(exc: BaseException) -> UniskelError:
    """The one line for why writing stopped: a source that broke off says so itself, an
    output that failed (a full disk, a drive removed) is ``cannot write output: ...``."""
    if isinstance(exc, UniskelError):
        return exc
    if isinstance(exc, OSError):
        return UniskelError(f"cannot write output: {exc.strerror or exc}")
    return UniskelError(f"{type(exc).__name__}: {exc}")


#: what each encoder takes: the largest side in pixels, and frame rates (the MPEG-4
#: time base's denominator is 16 bits; below 0.01 fps FFmpeg sets no time base)
ENCODER_LIMITS = {"mp4v": (8191, 0.01, 65535.0), "MJPG": (65500, 0.01, 1e6)}


def encoder_problem(fourcc: str, w: int, h: int, fps: float) -> str | None:
    """Why the ``fourcc`` encoder would refuse frames of w x h at ``fps``, or None."""
    side, lo, hi = ENCODER_LIMITS.get(fourcc, (None, None, None))
    if side and max(w, h) > side:
        other = "; write .avi (MJPG, up to 65500 px)" if fourcc != "MJPG" else ""
        return (f"the frame size {w}x{h} is larger than the {fourcc} encoder takes ({side} "
                f"px a side at most){other}, or scale the source down")
    if lo and not lo <= fps <= hi:
        return (f"frame rate {fps:g} fps cannot be encoded by {fourcc} (it takes {lo:g} to "
                f"{hi:g} fps)")
    return None


def writer_problem(path: Path, fourcc: str, w: int, h: int, fps: float) -> str:
    """What most likely kept OpenCV's video writer from opening ``path``: the place, or
    else the encoder (OpenCV says no more than that it failed)."""
    import os

    if path.is_dir():
        return "cannot write a video there: it is a folder"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"cannot write a video there: the folder {path.parent} is read-only"
    if path.exists() and not os.access(path, os.W_OK):
        return "cannot write a video there: the file exists and is read-only"
    return (f"OpenCV's video writer (FFmpeg) cannot open {fourcc} for {w}x{h} at {fps:g} "
            f"fps (OPENCV_FFMPEG_LOGLEVEL=24 shows FFmpeg's own reason)")


class VideoOutput:
    """An OpenCV VideoWriter for RGB frames of ``size_hw``, cut to even sides (what the
    encoder keeps anyway: keypoint coordinates still match the pixels)."""

    def __init__(self, path, fps: float, size_hw, write_to=None):
        self.path = Path(path)  # named in messages; ``write_to`` is written, if given
        fourcc = VIDEO_EXTS.get(self.path.suffix.lower())
        if fourcc is None:
            raise UniskelError(f"{self.path}: output video must be one of "
                               f"{', '.join(VIDEO_EXTS)}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UniskelError(f"{self.path}: cannot write there "
                               f"({exc.strerror or exc})") from None
        h, w = (max(int(v) // 2 * 2, 2) for v in size_hw)
        self.size_hw = (h, w)
        fps = float(fps) if fps and fps > 0 else 30.0
        problem = encoder_problem(fourcc, w, h, fps)  # what the encoder refuses, said as such
        if problem:
            raise UniskelError(f"{self.path}: {problem}")
        self._writer = cv2.VideoWriter(str(write_to or self.path),
                                       cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
        if not self._writer.isOpened():
            raise UniskelError(f"{self.path}: {writer_problem(self.path, fourcc, w, h, fps)}")

    def fit(self, rgb: np.ndarray) -> np.ndarray:
        """The frame as it will be encoded: odd sides lose their last row/column; a
        source that changed size is scaled."""
        h, w = self.size_hw
        if rgb.shape[:2] != (h, w):
            rgb = rgb[:h, :w]
            if rgb.shape[:2] != (h, w):
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        return rgb

    def write(self, rgb: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(self.fit(rgb)),
                                        cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()  # writes the MP4 index: the file plays up to here


class Outputs:
    def __init__(self, video=None, keypoints=None, *, fps: float, size_hw,
                 style: draw.Style = draw.Style(), source: str | None = None,
                 backend: str | None = None, inputs: dict | None = None):
        check_paths(video, keypoints, inputs)
        self.video_path = None if not video else str(video)
        self.keypoints_path = None if not keypoints else str(keypoints)
        self.style = style
        self.frames = 0
        self.video: VideoOutput | None = None
        self.records: records.KeypointWriter | None = None
        self.folders = []
        #: (temporary, target) of each file being written, until close() settles them
        self.pending: list[tuple[Path, Path]] = []
        for p in self.paths:
            folder = Path(p).resolve().parent
            if folder not in self.folders:
                self.folders.append(folder)
        try:
            for p in self.paths:
                safefiles.make_folder(p)
            for folder in self.folders:
                if free_bytes(folder) < MIN_FREE_BYTES:
                    raise UniskelError(f"{folder}: not enough free space to write (under "
                                       f"{MIN_FREE_BYTES >> 20} MB left)")
            if keypoints:
                self.pending.append((safefiles.partial_path(keypoints), Path(keypoints)))
                self.records = records.KeypointWriter(
                    keypoints, write_to=self.pending[-1][0], source=source,
                    size=[int(v) for v in size_hw], fps=float(fps), backend=backend)
            if video:
                self.pending.append((safefiles.partial_path(video), Path(video)))
                self.video = VideoOutput(video, fps, size_hw, write_to=self.pending[-1][0])
        except BaseException:
            self._close_quietly()  # the temporaries go; earlier files stay as they were
            raise

    @property
    def paths(self) -> list[str]:
        return [p for p in (self.video_path, self.keypoints_path) if p]

    def check_space(self) -> None:
        """The disk-space guard: raises OSError(ENOSPC) while there is still room to
        finalise what was written."""
        for folder in self.folders:
            if free_bytes(folder) < MIN_FREE_BYTES:
                raise OSError(errno.ENOSPC, f"disk almost full (under {MIN_FREE_BYTES >> 20} MB "
                                            f"of space left in {folder}); stopped so that "
                                            f"what was written stays playable")

    def canvas(self, frame: np.ndarray, result, style: draw.Style | None = None) -> np.ndarray:
        """The annotated frame exactly as it is encoded."""
        image = draw.render(frame, result.people, style or self.style)
        return self.video.fit(image) if self.video is not None else image

    def write(self, frame: np.ndarray, result, style: draw.Style | None = None) -> None:
        """One frame and its record (``style``: this frame's, if not the outputs' own)."""
        self.check_space()
        image = self.canvas(frame, result, style) if self.video is not None else None
        with held_signals():  # a stop signal comes after the frame is written whole
            if self.records is not None:
                self.records.write(result)  # first: a failed record leaves no extra frame
            if image is not None:
                self.video.write(image)
            self.frames += 1

    def close(self) -> UniskelError | None:
        """Finalise both files and, if a frame was written, put them in their targets'
        places (else remove them: earlier files stay); the problem, if any, as one line.
        Stop signals wait until this is done."""
        problem = None
        with held_signals():
            if self.video is not None:
                self.video.close()
                self.video = None
            if self.records is not None:
                try:
                    self.records.close()
                except OSError as exc:
                    problem = UniskelError(f"cannot finish {self.keypoints_path}: "
                                           f"{exc.strerror or exc}")
                self.records = None
            pending, self.pending = self.pending, []
            for partial, target in pending:
                if not self.frames:
                    safefiles.discard(partial)
                    continue
                try:
                    safefiles.commit(partial, target)
                except UniskelError as exc:
                    problem = problem or exc
        return problem

    def _close_quietly(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - already failing; the first error is the one said
            pass

    def summary_line(self, why: BaseException) -> str:
        """``why`` (a failure) and what was kept, as one line."""
        return f"{failure(why)} ({self.kept()})"

    def kept(self) -> str:
        """What this run left on disk, in words."""
        if not self.frames:
            return "no frames written; " + (", ".join(self.paths)) + " not touched"
        return f"{self.frames} frames written to {', '.join(self.paths)}"

