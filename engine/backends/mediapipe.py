"""``mediapipe``: Google's BlazePose (``mp.solutions.pose``, model_complexity=1) as a
baseline that runs on the same crops as the student.

Each crop is one still image for BlazePose (static image mode: its own person detector,
then the "full" landmark model). Its 33 landmarks map to the unified skeleton with
``engine.skeleton.BLAZEPOSE``; thorax and pelvis are derived (shoulder and hip
midpoints); upper neck and head top are not predicted (confidence 0). Landmark
visibility is the confidence. A crop where BlazePose finds nobody gives all zeros.

Needs the ``mediapipe`` extra (mediapipe==0.10.21, the last release that bundles the
pose models; no download at run time).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from engine import skeleton
from engine.backends.base import Backend, check_crops, empty_result
from engine.errors import UniskelError

NAME = "mediapipe"
LANDMARK_MODEL = Path("modules", "pose_landmark", "pose_landmark_full.tflite")


def unavailable() -> str | None:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None:
        return "mediapipe: not installed (pip install uniskel[mediapipe])"
    roots = list(spec.submodule_search_locations or [])
    if not any((Path(r) / LANDMARK_MODEL).is_file() for r in roots):
        return "mediapipe: this release bundles no pose model (needs mediapipe==0.10.21)"
    return None


class MediaPipeBackend(Backend):
    name = NAME
    provided = skeleton.provided_mask(skeleton.BLAZEPOSE)

    def __init__(self, input_size: tuple[int, int] = (256, 192), model_complexity: int = 1,
                 min_detection_confidence: float = 0.5):
        reason = unavailable()
        if reason:
            raise UniskelError(reason)
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except Exception as exc:
            raise UniskelError(f"mediapipe: pose solution fails to load ({exc})") from None
        self.input_size = tuple(input_size)
        self.model_complexity = model_complexity
        self._pose = mp_pose.Pose(static_image_mode=True, model_complexity=model_complexity,
                                  smooth_landmarks=False, enable_segmentation=False,
                                  min_detection_confidence=min_detection_confidence)
        import mediapipe

        self.description = (f"mediapipe (BlazePose full, model_complexity={model_complexity}, "
                            f"mediapipe {mediapipe.__version__})")

    def infer_one(self, crop: np.ndarray) -> np.ndarray:
        """One RGB image of any size -> (21, 3) in its pixels."""
        h, w = crop.shape[:2]
        res = self._pose.process(np.ascontiguousarray(crop))
        out = np.zeros((skeleton.NUM_KEYPOINTS, 3), dtype=np.float32)
        if res.pose_landmarks is None:
            return out
        native = np.array([(p.x * w, p.y * h, p.visibility) for p in res.pose_landmarks.landmark],
                          dtype=np.float64)
        uni = skeleton.BLAZEPOSE.convert(native)
        skeleton.derive(uni)
        uni[:, 2] = np.clip(uni[:, 2], 0.0, 1.0)
        return uni.astype(np.float32)

    def infer(self, crops: np.ndarray) -> np.ndarray:
        """Any crop size is accepted (evaluation passes the student's crops unchanged)."""
        crops = check_crops(crops, None)
        if len(crops) == 0:
            return empty_result()
        return np.stack([self.infer_one(c) for c in crops])

    def close(self):
        if self._pose is not None:
            self._pose.close()
            self._pose = None


def load(model_path=None, input_size=(256, 192), **_) -> MediaPipeBackend:
    return MediaPipeBackend(input_size=input_size)
