"""Finding people to start tracking: the ``Detector`` seam and its two implementations.

A detector is a plain object with ``detect(frame_rgb) -> list[Box]``, a ``Box`` being
``(x0, y0, x1, y1, score)`` in frame pixels, roughly the tight extent of one person.
The pipeline only calls it to (re)acquire people; tracked people are followed by their
own keypoints.

* ``BlazePoseDetector``: MediaPipe's BlazePose person detector
  (``mediapipe/modules/pose_detection/pose_detection.tflite``, shipped in the
  mediapipe 0.10.21 wheel), run by mediapipe's own ``PoseDetectionCpu`` graph, which
  does the anchors, decoding and non-maximum suppression. Several people per frame.
  It sees the frame at 224x224, so people smaller than about a fifth of the frame
  height are missed; with ``tiles=True`` it also looks at overlapping square tiles
  (landscape frames), finding smaller people at a few ms per tile.
  (The separate LiteRT / tflite-runtime wheels are not needed: mediapipe already
  contains the TFLite runtime and the graph.)
* ``SearchDetector``: no extra model at all. It proposes a few fixed windows (the
  whole frame, and full-height windows across it); the pipeline runs the pose model on
  each and keeps the one it is confident about. It finds the most prominent person
  only, and is the fallback when mediapipe is not installed.
"""
from __future__ import annotations

import importlib.util
import math
from typing import Sequence

import numpy as np

Box = tuple  # (x0, y0, x1, y1, score)


class Detector:
    """The seam: anything with ``detect(frame) -> list[Box]``."""

    name = "detector"
    #: True when ``detect`` proposes windows rather than finding people (scores are 0)
    proposes_only = False

    def detect(self, frame: np.ndarray) -> list[Box]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: list[Box], threshold: float = 0.5) -> list[Box]:
    """Greedy non-maximum suppression by score."""
    keep: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b[4]):
        if all(iou(b, k) < threshold for k in keep):
            keep.append(b)
    return keep


class SearchDetector(Detector):
    """Fixed windows for a pose-model search: the frame, and full-height windows across it."""

    name = "search"
    proposes_only = True

    def __init__(self, columns: int = 3):
        self.columns = columns

    def detect(self, frame: np.ndarray) -> list[Box]:
        h, w = frame.shape[:2]
        boxes = [(0.0, 0.0, float(w), float(h), 0.0)]
        win = min(float(w), 0.75 * h)  # a standing person's crop is taller than wide
        if w > win * 1.2:
            for cx in np.linspace(win / 2, w - win / 2, self.columns):
                boxes.append((cx - win / 2, 0.0, cx + win / 2, float(h), 0.0))
        return boxes


def blazepose_unavailable() -> str | None:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None:
        return "mediapipe not installed"
    from pathlib import Path

    if not any(Path(r, "modules", "pose_detection", "pose_detection.tflite").is_file()
               for r in spec.submodule_search_locations or []):
        return "this mediapipe bundles no pose detector (needs mediapipe==0.10.21)"
    return None


_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""


class BlazePoseDetector(Detector):
    """MediaPipe's BlazePose person detector; boxes from its body-centre/extent keypoints.

    BlazePose's detector box covers the face; its keypoints 0 (hip centre) and 1 (a
    point on the circle that holds the whole body) give the person: centre and radius
    ``r``. We return a standing-person box of half-width ``0.45 r`` and half-height
    ``0.9 r`` around that centre (the circle itself carries a margin).
    """

    name = "blazepose"

    def __init__(self, min_score: float = 0.5, tiles: bool = False):
        self.min_score = min_score
        self.tiles = tiles
        self._graph = None  # built on first use, in the thread that runs it

    def _solution(self):
        if self._graph is None:
            from mediapipe.python.solution_base import SolutionBase

            self._graph = SolutionBase(graph_config=_GRAPH, outputs=["detections"])
        return self._graph

    def _detect_in(self, image: np.ndarray, dx: float = 0.0, dy: float = 0.0) -> list[Box]:
        h, w = image.shape[:2]
        res = self._solution().process({"image": np.ascontiguousarray(image)})
        out = []
        for det in res.detections or []:
            score = float(det.score[0]) if len(det.score) else 0.0
            kps = det.location_data.relative_keypoints
            if score < self.min_score or len(kps) < 2:
                continue
            cx, cy = kps[0].x * w, kps[0].y * h
            r = math.hypot(kps[1].x * w - cx, kps[1].y * h - cy)
            if r < 4:
                continue
            out.append((cx - 0.45 * r + dx, cy - 0.9 * r + dy,
                        cx + 0.45 * r + dx, cy + 0.9 * r + dy, score))
        return out

    def detect(self, frame: np.ndarray) -> list[Box]:
        boxes = self._detect_in(frame)
        h, w = frame.shape[:2]
        if self.tiles and w > 1.3 * h:
            n = math.ceil(w / h) + 1
            for x0 in np.linspace(0, w - h, n).round().astype(int):
                boxes += self._detect_in(frame[:, x0:x0 + h], dx=float(x0))
        elif self.tiles and h > 1.3 * w:
            n = math.ceil(h / w) + 1
            for y0 in np.linspace(0, h - w, n).round().astype(int):
                boxes += self._detect_in(frame[y0:y0 + w], dy=float(y0))
        return nms(boxes, 0.4)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None


def default_detector(tiles: bool = False) -> Detector:
    """BlazePose's detector when mediapipe can run it, else the pose-model search."""
    if blazepose_unavailable() is None:
        return BlazePoseDetector(tiles=tiles)
    return SearchDetector()
