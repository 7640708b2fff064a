"""The few-line Python API (``uniskel.Body``), in the spirit of rtmlib's ``Body()(image)``
and Ultralytics' ``YOLO(...)(image)``::

    import cv2, uniskel

    body = uniskel.Body()                       # bundled student, fastest backend here
    for person in body(cv2.imread("photo.jpg")):  # BGR, as OpenCV reads it
        print(person.id, person.score, person["left_wrist"])  # (x, y, confidence)

    for frame in frames_of_a_video:             # ids kept from frame to frame
        people = body.track(frame)

``body(image)`` looks at each image on its own (the person detector runs every time);
``body.track(frame)`` treats calls as consecutive frames of one video, like the live
window: people keep their ids, are followed by their keypoints between detector runs,
and their keypoints are smoothed. Both go through the same ``engine.runtime.pipeline.Pipeline``
as the app and ``uniskel infer``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError


class InputError(UniskelError, ValueError):
    """What was handed to ``Body`` cannot be right (an empty array, a float image, a
    batch): a ValueError naming the problem, and a UniskelError like uniskel's others."""


@dataclass(frozen=True)
class Person:
    """One person in an image, on the 21-keypoint unified skeleton
    (``uniskel.engine.skeleton.KEYPOINTS`` gives the order)."""

    id: int                    # track id: the same person keeps it in ``Body.track``
    keypoints: np.ndarray      # (21, 2) x, y in image pixels
    scores: np.ndarray         # (21,) confidence in [0, 1]
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    score: float               # the person's mean keypoint confidence

    names = skeleton.KEYPOINTS

    def __getitem__(self, name: str) -> tuple[float, float, float]:
        """``person["left_wrist"]`` -> (x, y, confidence)."""
        i = skeleton.INDEX[name]
        return float(self.keypoints[i, 0]), float(self.keypoints[i, 1]), float(self.scores[i])


class Body:
    """A pose estimator for all people in an image.

    backend     "auto" (the fastest that runs here) or a name of ``engine.backends``
                (onnx, cpu, cuda, tensorrt, movenet, mediapipe)
    model       a model file for the backend (default: the bundled student)
    max_people  people found per image, the most prominent first (default
                ``pipeline.EVERYONE``, 10)
    """

    def __init__(self, backend: str = "auto", model: str | Path | None = None,
                 max_people: int | None = None):
        from uniskel.engine import backends
        from uniskel.engine.runtime.pipeline import EVERYONE, Pipeline

        max_people = EVERYONE if max_people is None else max_people
        if isinstance(max_people, bool) or not isinstance(max_people, (int, np.integer)) \
                or max_people < 1:
            raise InputError(f"max_people must be a whole number >= 1, got {max_people!r}")
        self._closed = False
        self.backend = backends.create(backend, model)
        try:
            self.pipeline = Pipeline(self.backend, smoothing=False, max_people=max_people,
                                     keep_frame=False)
        except BaseException:
            self.backend.close()
            raise
        self._tracking = False

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def __call__(self, image) -> list[Person]:
        """The people in one image (BGR uint8 array as OpenCV reads it, or a file path),
        looked at on its own."""
        self._open()
        rgb = _rgb(image)
        self.pipeline.reset()
        self.pipeline.smoothing = False
        self._tracking = False
        return self._people(self.pipeline.process(rgb))

    def track(self, frame, timestamp: float | None = None) -> list[Person]:
        """The people in the next frame of a video (BGR uint8, or a path): ids are kept
        from call to call and keypoints smoothed; ``timestamp`` in seconds (default: 30
        frames per second). ``reset()`` starts a new video."""
        self._open()
        rgb = _rgb(frame)
        if not self._tracking:
            self.pipeline.reset()
            self.pipeline.smoothing = True
            self._tracking = True
        return self._people(self.pipeline.process(rgb, timestamp))

    def reset(self) -> None:
        """Forget everyone (``track`` starts a new video)."""
        self._open()
        self.pipeline.reset()

    def _open(self) -> None:
        if self._closed:
            raise RuntimeError("this uniskel.Body is closed (close() or the end of its "
                               "with block); make a new uniskel.Body()")

    @staticmethod
    def _people(result) -> list[Person]:
        return [Person(id=int(p.track_id), keypoints=p.keypoints[:, :2].astype(np.float32),
                       scores=p.keypoints[:, 2].astype(np.float32),
                       box=tuple(float(v) for v in p.box), score=float(p.score))
                for p in result.people]

    def close(self) -> None:
        """Release the model; calls after this raise RuntimeError. Closing twice is fine."""
        if self._closed:
            return
        self._closed = True
        self.pipeline.close()
        self.backend.close()

    def __enter__(self) -> "Body":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rgb(image) -> np.ndarray:
    """The image as RGB uint8 (H, W, 3); InputError (a ValueError) naming what is wrong
    with it otherwise, before OpenCV sees it."""
    import cv2

    if isinstance(image, (str, Path)):
        from uniskel.engine.media.sources import read_image

        rgb = read_image(image) if Path(image).is_file() else None
        if rgb is None:
            raise InputError(f"{image}: not a readable image")
        return rgb
    want = "expected a BGR uint8 image (H, W, 3) or a file path"
    try:
        array = np.asarray(image)
    except (ValueError, TypeError):  # a ragged list
        array = np.empty((), object)
    if array.dtype == object or array.ndim == 0:
        raise InputError(f"{want}, got {type(image).__name__}")
    if array.ndim not in (2, 3):
        hint = " (a batch? pass one image at a time)" if array.ndim == 4 else ""
        raise InputError(f"{want}, got an array of {array.ndim} "
                         f"dimension{'' if array.ndim == 1 else 's'} {array.shape}{hint}")
    if array.size == 0:
        raise InputError(f"{want}, got an empty image {array.shape}")
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels not in (1, 3, 4):
        raise InputError(f"{want}, got {channels} channels {array.shape}")
    if array.dtype != np.uint8:
        hint = (" (floats in 0..1: (image * 255).astype(np.uint8))"
                if array.dtype.kind == "f" else " (convert with .astype(np.uint8))")
        raise InputError(f"{want}, got dtype {array.dtype} {array.shape}{hint}")
    if channels == 1:
        return cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2RGB)
    if channels == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
