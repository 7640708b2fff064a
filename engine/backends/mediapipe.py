"""``mediapipe``: Google's BlazePose (``mp.solutions.pose``, model_complexity=1) as a
baseline that runs on the same crops as the student.

Each crop is one still image for BlazePose (static image mode: its own person detector,
then the "full" landmark model). Its 33 landmarks map to the unified skeleton with
``engine.skeleton.BLAZEPOSE``; thorax and pelvis are derived (shoulder and hip
midpoints); upper neck and head top are not predicted (confidence 0). Landmark
visibility is the confidence. A crop where BlazePose finds nobody gives all zeros.

Needs the ``mediapipe`` extra (mediapipe==0.10.21, the last release that bundles the
pose models; no download at run time). The wheel carries the "full" landmark model
(``model_complexity=1``, the baseline). The "lite" (0) and "heavy" (2) models come with
the npm package ``@mediapipe/pose``; ``install_landmark_model`` puts such a file where
mediapipe looks for it (where its own downloader would), and without it those
complexities are refused with a reason instead of fetched from the network.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.backends.base import PerCropBackend, to_unified
from uniskel.engine.errors import UniskelError

NAME = "mediapipe"
LABEL = "MediaPipe BlazePose"  # in the window's backend menu
MODEL_SUFFIX = None  # the model file it runs (None: its own, bundled)
AUTO_RANK = None  # place in --backend auto's order (None: never chosen by auto)
LANDMARK_DIR = Path("modules", "pose_landmark")
#: model_complexity -> BlazePose variant; its landmark model is pose_landmark_{kind}.tflite
KINDS = {0: "lite", 1: "full", 2: "heavy"}
LANDMARK_FILES = {c: f"pose_landmark_{kind}.tflite" for c, kind in KINDS.items()}
LANDMARK_MODEL = LANDMARK_DIR / LANDMARK_FILES[1]
NPM_PACKAGE = "@mediapipe/pose@0.5.1675469404"


def _package_root() -> Path | None:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None:
        return None
    roots = [Path(r) for r in (spec.submodule_search_locations or [])]
    return roots[0] if roots else None


def _bad_complexity(model_complexity) -> str:
    return f"mediapipe: model_complexity must be 0, 1 or 2, not {model_complexity!r}"


def unavailable(model_complexity: int = 1) -> str | None:
    root = _package_root()
    if root is None:
        return "mediapipe: not installed (pip install 'uniskel[mediapipe]')"
    if not (root / LANDMARK_MODEL).is_file():
        return "mediapipe: this release bundles no pose model (needs mediapipe==0.10.21)"
    if model_complexity not in LANDMARK_FILES:
        return _bad_complexity(model_complexity)
    name = LANDMARK_FILES[model_complexity]
    if not (root / LANDMARK_DIR / name).is_file():
        return (f"mediapipe: {name} is not installed (it comes with the npm package "
                f"{NPM_PACKAGE}; npm pack it, then pass the file's path as the teacher's "
                "tflite, or call engine.backends.mediapipe.install_landmark_model)")
    return None


def install_landmark_model(path, model_complexity: int) -> Path:
    """Copy a BlazePose landmark ``.tflite`` (lite or heavy, from ``@mediapipe/pose``) to
    where mediapipe's pose graph loads it; returns the installed path. An existing file
    of the same size is kept."""
    import shutil

    root = _package_root()
    if root is None:
        raise UniskelError("mediapipe: not installed (pip install 'uniskel[mediapipe]')")
    if model_complexity not in LANDMARK_FILES:
        raise UniskelError(_bad_complexity(model_complexity))
    src = Path(path)
    if not src.is_file():
        raise UniskelError(f"BlazePose landmark model not found: {src}")
    with open(src, "rb") as f:
        if f.read(8)[4:8] != b"TFL3":
            raise UniskelError(f"{src} is not a TFLite model")
    dst = root / LANDMARK_DIR / LANDMARK_FILES[model_complexity]
    if dst.is_file() and dst.stat().st_size == src.stat().st_size:
        return dst
    try:
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    except OSError as exc:
        raise UniskelError(f"cannot install {src.name} into {dst.parent}: {exc.strerror}") from None
    return dst


class MediaPipeBackend(PerCropBackend):
    name = NAME
    provided = skeleton.provided_mask(skeleton.BLAZEPOSE)

    def __init__(self, input_size: tuple[int, int] = (256, 192), model_complexity: int = 1,
                 min_detection_confidence: float = 0.5):
        reason = unavailable(model_complexity)
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

        self.description = (f"mediapipe (BlazePose {KINDS[model_complexity]}, model_complexity={model_complexity}, "
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
        return to_unified(skeleton.BLAZEPOSE, native)

    def close(self):
        if self._pose is not None:
            self._pose.close()
            self._pose = None


def load(model_path=None, input_size=(256, 192), model_complexity: int = 1,
         **_) -> MediaPipeBackend:
    return MediaPipeBackend(input_size=input_size, model_complexity=model_complexity)
