"""The frame pipeline: one RGB frame in, the people in it (21 keypoints each) out.

Five named stages, each timed by one ``StageTimer`` (``engine.runtime.profile``;
milliseconds in ``FrameResult.stages_ms``; ``Pipeline.add_callback`` hears each stage
and each frame as it ends):

``detect``  which boxes to crop: tracked people's boxes from their last keypoints, plus
            a detector's boxes when people must be (re)acquired (``engine.runtime.tracker``;
            when it finds nobody and nobody is followed, it looks at the frame turned over
            too, for someone upside down);
``crop``    warp each box to the model input (``engine.runtime.crop``), into one batch buffer;
            over the crop of someone half hidden, the people in front of them painted
            out, and round someone in a crowd (or anyone followed by their last pose,
            tracking more than one), what lies outside their box blacked out
            (``engine.runtime.occlusion``);
``infer``   the backend: crops -> keypoints (``engine.backends``), back to frame pixels
            with the inverse warp; two batches when someone is half hidden (the people
            in front first, so their poses of this frame can be painted out); a second
            look, turned upright, at anyone whose pose lies sideways or upside down, their
            crop kept inside and painted as the first was (``engine.runtime.turn``);
``decode``  score (points outside a person detector's box dropped), merge and track;
``smooth``  One Euro filter per tracked person (``engine.runtime.smoothing``), optional; the
            people handed out have thorax and pelvis no surer than the surer of their
            parents (``skeleton.cap_derived``).

Everyone in the frame, up to ``max_people``: the person detector (``engine.runtime.detector``;
NanoDet by default) finds people at the start, every ``redetect_every`` frames (live,
at least every ``budget.REDETECT_SECONDS``), and soon after someone is lost; in between,
each person is followed by their own keypoints, and all crops of a frame go through the
model as one batch.

With ``target_fps`` (live use: the app and ``uniskel bench``), many people are shared out
to hold that frame rate: the frame budget (``engine.runtime.budget.FrameBudget``) says
how many tracked people's crops fit a frame, and whether the detector fits too; first
those whose box touches someone else's are inferred, then those inferred longest ago.
The others' last poses are carried over, moved on as their boxes move
(``Person.refreshed`` is False for them). Newly detected people, and the tracked people
their boxes touch, are always inferred. Frames that come more slowly than
``target_fps`` (a 5 fps video, a slow camera) fit more people (everyone, on a 5 fps
video) and the detector on every frame where it takes at most half a frame's time.
Without ``target_fps``, everyone is inferred on every frame (``uniskel infer``,
``eval``, the Python API).

``max_people=1`` is the one-person (presenter) mode: it follows the
most prominent person, and the detector looks at a smaller image (256 px) since that
person is large. Without a detector file the pose model itself searches a few fixed
windows and tracks one person.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from uniskel.engine.runtime import camera as cameramod
from uniskel.engine.runtime import crop as cropmod
from uniskel.engine.runtime import occlusion
from uniskel.engine.runtime import turn as turnmod
from uniskel.engine.models import quality as qualitymod
from uniskel.engine import skeleton
from uniskel.engine.runtime import detector as detectors
from uniskel.engine.runtime.detector import Detector
from uniskel.engine.runtime.boxes import iou
from uniskel.engine.runtime.budget import FrameBudget
from uniskel.engine.runtime.profile import StageTimer
from uniskel.engine.runtime.smoothing import KeypointSmoother
from uniskel.engine.runtime.tracker import Pose, Tracker, drop_outside

STAGES = ("detect", "crop", "infer", "decode", "smooth")
#: the frame rate live use (the app, ``uniskel bench``) holds with many people
LIVE_FPS = 30.0
#: the default cap on people tracked (the app, ``uniskel infer``, the Python API): on a
#: street the people near the camera and the nearer of those further away
#: (``scripts/coverage.py``); a group in front of a webcam is well under it
EVERYONE = 10
@dataclass
class Person:
    keypoints: np.ndarray  # (21, 3): x, y in frame pixels, confidence in [0, 1]
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1), frame pixels
    track_id: int
    score: float  # mean keypoint confidence (over the points the backend predicts)
    #: the model's expected OKS for this pose (engine/models/quality.py); None: no estimate
    quality: float | None = None
    #: inferred on this frame (False: carried over from an earlier one, ``target_fps``)
    refreshed: bool = True


@dataclass
class FrameResult:
    frame_index: int
    timestamp: float  # seconds
    people: list[Person]
    stages_ms: dict[str, float]
    backend: str
    size: tuple[int, int]  # frame (height, width)
    #: the frame these people belong to (a reference, not a copy); None if not kept
    frame: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def total_ms(self) -> float:
        return float(sum(self.stages_ms.values()))


def _box_into(box, warp) -> tuple:
    """A box (x0, y0, x1, y1) in frame pixels -> in the pixels of the crop ``warp`` cuts
    (a crop's warp scales, shifts and turns by quarter turns: corners stay corners)."""
    (x0, y0), (x1, y1) = cropmod.apply(warp, np.array(box[:4], np.float64).reshape(2, 2))
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _turned_over(boxes, shape) -> list:
    """Boxes (x0, y0, x1, y1, score) found on a frame turned over (180 degrees) -> in
    the frame's own pixels."""
    h, w = shape[:2]
    return [(w - b[2], h - b[3], w - b[0], h - b[1], *b[4:]) for b in boxes]


def _into(keypoints, warp) -> np.ndarray:
    """Keypoints (21, 3) in frame pixels -> in the pixels of the crop ``warp`` cuts."""
    k = keypoints.copy()
    k[:, :2] = cropmod.apply(warp, k[:, :2])
    return k


def handed_out(tracks, carried: set, timestamp: float, smoother=None) -> list[Person]:
    """The ``smooth`` stage: the people handed out for the tracks, their keypoints smoothed
    by ``smoother`` (a ``KeypointSmoother``; None: no smoothing) and with thorax and
    pelvis no surer than their parents (the tracks keep their own keypoints)."""
    people = []
    for tr in tracks:
        k = (smoother(tr.track_id, tr.keypoints, timestamp, tr.size)  # a new array
             if smoother is not None else tr.keypoints.copy())
        skeleton.cap_derived(k)
        people.append(Person(k, tr.box, tr.track_id, tr.score, tr.quality,
                             tr.track_id not in carried))
    if smoother is not None:
        smoother.keep_only(tr.track_id for tr in tracks)
    return people


class Pipeline:
    """``Pipeline(backend).process(frame_rgb, timestamp) -> FrameResult``.

    backend         an ``engine.backends`` Backend (anything with name, input_size, infer)
    smoothing       One Euro smoothing on/off (may be flipped between frames)
    detector        "auto" (NanoDet if its file is bundled, else BlazePose's detector if
                    mediapipe is there, else "search"), a name of ``detectors.DETECTORS``,
                    None (the pose-model window search), or a ``Detector``
    max_people      people tracked at once; the most prominent first
    min_score       mean keypoint confidence below which a person counts as lost; None:
                    the model's own calibration (``person_score`` in its config), else 0.3
    padding         crop margin around a person box (as in training: 1.25)
    redetect_every  frames between detector runs (live: at most ``budget.REDETECT_SECONDS``)
    keep_frame      put a reference to the frame in each FrameResult (for drawing)
    target_fps      hold this frame rate with many people by inferring some of them each
                    frame (see above); None: everyone, every frame
    paint_out       paint the people in front of someone out of their crop
                    (``engine.runtime.occlusion``)
    keep_inside     black out what lies outside a person's box from their crop when
                    someone else's box touches it, and, tracking more than one person,
                    beyond ``occlusion.TRACKED_MARGIN`` of the box of anyone followed by
                    their last pose (``occlusion.keep_inside``)
    turn            a second look, turned upright, at people lying or upside down
                    (``engine.runtime.turn``; one more crop each)
    follow_camera   tracking more than one person, move everyone tracked as the camera
                    moves (a pan, a hand-held sway; ``engine.runtime.camera``)

    One Pipeline belongs to one thread at a time (it keeps tracking state and buffers).
    """

    def __init__(self, backend, smoothing: bool = True, detector: Detector | str | None = "auto",
                 max_people: int = 1, min_score: float | None = None, padding: float = 1.25,
                 redetect_every: int = 15,
                 keypoint_threshold: float = skeleton.DRAW_THRESHOLD,
                 smooth_min_cutoff: float = 0.5, smooth_beta: float = 8.0,
                 keep_frame: bool = True, target_fps: float | None = None,
                 paint_out: bool = True, keep_inside: bool = True, turn: bool = True,
                 follow_camera: bool = True):
        self.backend = backend
        self.turn = turn
        #: the camera's motion, read in everyone mode (``engine.runtime.camera``)
        self.camera = cameramod.CameraMotion() if follow_camera else None
        self.paint_out = paint_out
        self.keep_inside = keep_inside
        #: the live frame budget: how many crops fit a frame, and whether the detector does
        self.budget = FrameBudget(target_fps)
        self.callbacks: dict[str, list] = {"on_stage": [], "on_frame": []}
        self.smoothing = smoothing
        self.max_people = max(1, int(max_people))
        if detector is None:
            detector = "search"
        if isinstance(detector, str):
            detector = detectors.create(detector, people=self.max_people)
        self.detector = detector
        self.padding = padding
        self.keep_frame = keep_frame
        if min_score is None:
            min_score = float(getattr(backend, "person_score", 0.3))
        # sure points and a person's score are on the network's own scale: a model's point power
        # (``ModelConfig.point_power``) calibrates what is drawn, not whom it follows
        self.point_power = power = float(getattr(backend, "point_power", 1.0) or 1.0)
        self.tracker = Tracker(self.max_people, min_score, keypoint_threshold ** power,
                               redetect_every=redetect_every)
        self.smoother = KeypointSmoother(smooth_min_cutoff, smooth_beta)
        self.provided = np.asarray(getattr(backend, "provided", np.ones(21, bool)), bool)
        self.quality = tuple(getattr(backend, "quality", ()) or ())
        self.frame_index = 0
        #: track id -> the quarter turn their last pose was read at (``engine.runtime.turn``)
        self._turns: dict[int, int] = {}
        self._buffer = np.zeros((0, 0, 0, 3), np.uint8)
        self._frame_hw = None  # the last frame's size: tracks do not carry over a change

    def set_max_people(self, n: int) -> None:
        """Change the cap between frames (the app's one-person toggle); tracks over the
        new cap are dropped at the next frame, the most prominent kept."""
        self.max_people = max(1, int(n))
        self.tracker.max_people = self.max_people
        if self.camera is not None:  # read again from the next frame on
            self.camera.reset()
        if isinstance(self.detector, detectors.NanoDetDetector):
            settings = detectors.nanodet_settings(self.max_people)
            self.detector.size, self.detector.min_score = settings["size"], settings["min_score"]

    @property
    def target_fps(self) -> float | None:
        return self.budget.target_fps

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.backend.input_size)

    def reset(self) -> None:
        """Forget everyone (a new source, a seek)."""
        self.tracker.reset()
        self.smoother.reset()
        if self.camera is not None:
            self.camera.reset()
        self.frame_index = 0
        self._turns.clear()
        self.budget.reset()

    def _crops(self, n: int) -> np.ndarray:
        h, w = self.input_size
        if self._buffer.shape[0] < n or self._buffer.shape[1:3] != (h, w):
            self._buffer = np.zeros((max(n, 4), h, w, 3), np.uint8)
        return self._buffer[:n]

    def add_callback(self, event: str, fn) -> None:
        """Call ``fn`` at ``event``: ``"on_stage"`` (``fn(name, ms)``, as each stage's
        timed block ends) or ``"on_frame"`` (``fn(result)``, with each ``FrameResult``).
        Called on the thread that runs the pipeline (the app's engine worker: a GUI takes
        ``FrameResult.stages_ms`` from the result it is handed instead)."""
        self.callbacks[event].append(fn)

    def process(self, frame: np.ndarray, timestamp: float | None = None) -> FrameResult:
        """Run the five stages on one RGB uint8 frame (H, W, 3)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._frame_hw is not None and frame.shape[:2] != self._frame_hw:
            self.tracker.reset()  # boxes and keypoints in another picture's pixels
            self.smoother.reset()
            self._turns.clear()
        self._frame_hw = frame.shape[:2]
        index = self.frame_index
        self.frame_index += 1
        if timestamp is None:
            timestamp = index / 30.0
        clock = time.perf_counter
        start = clock()
        timer = StageTimer(STAGES, clock, self.callbacks["on_stage"])
        # live, the periodic detection is also due by the wall clock
        wall = time.monotonic()
        self.budget.start(wall)
        fits = self.budget.detect_fits()

        with timer("detect"):  # tracked boxes, plus detections to (re)acquire people
            dx = dy = 0.0
            if self.camera is not None and self.max_people > 1:  # a pan moves everyone
                dx, dy = self.camera.shift(frame, [t.box for t in self.tracker.tracks])
                if dx or dy:
                    self.smoother.shift(dx, dy)
            self.tracker.shift(dx, dy)
            proposals, max_new, ran_detector = self._detect(frame, index, wall, fits)
        if ran_detector:
            self.budget.detected(wall, timer.ms["detect"])
        with timer("crop"):
            # which to infer: everyone, or as many as the frame budget fits (the rest
            # carried over); a detector run that fitted a slow frame's time is paid from it
            proposals, carried = self._share_out(
                proposals, timer.ms["detect"] if fits and ran_detector else 0.0)
        found, masked, again = self._crop_and_infer(frame, proposals, carried, timer)
        with timer("decode"):  # score; track
            tracks = self._decode(found, proposals, carried, max_new, frame, masked)
        with timer("smooth"):
            people = handed_out(tracks, carried, timestamp,
                                self.smoother if self.smoothing else None)
            if not self.smoothing:
                self.smoother.reset()  # switching smoothing back on starts fresh
        self.budget.finish(timer.ms, len(proposals) + again, (clock() - start) * 1e3,
                           time.monotonic())

        result = FrameResult(index, float(timestamp), people, timer.ms, self.backend.name,
                             (frame.shape[0], frame.shape[1]),
                             frame if self.keep_frame else None)
        for fn in self.callbacks["on_frame"]:
            fn(result)
        return result

    def _detect(self, frame, index: int, wall: float, fits: bool):
        """-> (proposals: (box, track_id, confirmed, a detector's box) each, the most new
        people to take (None: any), whether the detector ran)."""
        proposals = self.tracker.proposals()
        # someone lost is looked for soon, unless the frame budget is behind: then at the
        # periodic detection (offline, by the frame count alone)
        soon = not self.budget.behind
        overdue = self.budget.detector_due(wall, fits)
        if self.detector is None or not self.tracker.wants_detection(
                index, self.detector.proposes_only, soon, overdue):
            return proposals, None, False
        boxes = self.detector.detect(frame)
        if not boxes and self.turn and not self.tracker.tracks \
                and not self.detector.proposes_only:
            # nobody found, nobody followed: someone upside down from the start (a
            # handstand) is found on the frame turned over, and read by the second look
            boxes = _turned_over(self.detector.detect(np.ascontiguousarray(frame[::-1, ::-1])),
                                 frame.shape)
        new, refined = self.tracker.select_detections(boxes, index, self.detector.proposes_only)
        found_people = not self.detector.proposes_only  # not a search's windows
        proposals = [(refined.get(tid, box), tid, False, tid in refined)
                     for box, tid, _, _ in proposals]
        proposals += [(box, None, confirmed, found_people) for box, confirmed in new]
        return proposals, (1 if self.detector.proposes_only else None), True

    def _crop_and_infer(self, frame, proposals: list, carried: set, timer) -> tuple:
        """The ``crop`` and ``infer`` stages -> (keypoints (n, 21, 3) in frame pixels, one
        per proposal (reordered in place: the people nobody stands in front of first);
        whether each crop was kept inside its box, someone else's touching it; how many
        crops a second look, turned upright, took (``engine.runtime.turn``)).

        Two passes: first the people nobody stands in front of, then the others, with
        the people in front of them painted out of their crops (``engine.runtime.occlusion``):
        from their poses of this very frame (first pass), or their last ones (carried
        over this frame)."""
        with timer("crop"):
            front = self._in_front(proposals, carried)
            proposals[:] = ([p for p, f in zip(proposals, front) if not f[0]]
                            + [p for p, f in zip(proposals, front) if f[0]])
            front = self._in_front(proposals, carried)
            n, first = len(proposals), sum(1 for f in front if not f[0])
            h_in, w_in = self.input_size
            crops = self._crops(n)
            # a window search's windows are not people's boxes: they are cropped whole
            masked = [c and (p[1] is not None or p[3]) for c, p in
                      zip(occlusion.crowded([p[0] for p in proposals]), proposals)] \
                if self.keep_inside else [False] * n
            # everyone mode: people followed by their own pose (not a detector's box)
            follow = self.keep_inside and self.tracker.max_people > 1
            followed = [follow and p[1] is not None and not p[3] for p in proposals]
            warps = []
            found = np.zeros((n, skeleton.NUM_KEYPOINTS, 3), np.float32)  # frame pixels
            # a tracked person is cropped at the turn their last pose was read at
            turns = [self._turns.get(p[1], 0) if self.turn else 0 for p in proposals]

        def dress(i, crop, m, ready):  # the people round them, as their crop needs
            box = proposals[i][0]
            if masked[i]:
                occlusion.keep_inside(crop, _box_into(box, m))
            elif followed[i]:  # their crop from their last pose: not a neighbour's
                occlusion.keep_inside(crop, _box_into(box, m), occlusion.TRACKED_MARGIN)
            people, still = front[i]
            others = [found[j] for j in people if j < ready]
            others += [track.moved_keypoints() for track in still]
            occlusion.paint_out(crop, [_into(k, m) for k in others],
                                self.tracker.keypoint_threshold)

        for lo, hi in ((0, first), (first, n)):
            if lo == hi:
                continue
            with timer("crop"):
                for i in range(lo, hi):
                    c, s = cropmod.box_to_center_scale(proposals[i][0], (h_in, w_in),
                                                       self.padding)
                    m = cropmod.warp_matrix(c, s, (h_in, w_in), turns[i])
                    cv2.warpAffine(frame, m, (w_in, h_in), dst=crops[i],
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=(0, 0, 0))
                    warps.append(m)
                    dress(i, crops[i], m, lo)
            with timer("infer"):
                kps = self.backend.infer(crops[lo:hi])
                for i in range(lo, hi):
                    found[i] = kps[i - lo]
                    found[i, :, :2] = cropmod.apply(cropmod.invert(warps[i]),
                                                    kps[i - lo, :, :2])
        again = 0
        if self.turn and n:
            with timer("infer"):  # the same crops, turned, and dressed the same way
                looked, kept, again = turnmod.look_again(
                    frame, [p[0] for p in proposals], found, self.backend.infer, (h_in, w_in),
                    self.padding, turns=turns, dress=lambda i, crop, m: dress(i, crop, m, n))
                if again:
                    found[:] = looked
            old = self._turns
            self._turns = {tid: t for tid, t in old.items() if tid in carried}
            self._turns.update({p[1]: int(t) for p, t in zip(proposals, kept)
                                if p[1] is not None and t})
        return found, masked, again

    def _decode(self, found: np.ndarray, proposals: list, carried: set, max_new,
                frame: np.ndarray | None = None, masked=()):
        """Score each pose (points outside a whole-person detector box dropped) and track
        (``frame``: for the people's looks) -> the tracks holding a person now. Someone
        new whose crop was kept inside their box (``masked``) is taken only at
        ``occlusion.MASKED_NEW_BAR`` times the pose bar, and where their box overlaps
        nobody tracked, nor anyone new, surer and taken, at ``occlusion.MASKED_NEW_IOU``
        (``occlusion.masked_new_left_out``): such a
        box holds part of someone, or halves of two people, whose crop, kept inside it,
        gives a pose of that part, a second skeleton the tracker would not know for one."""
        poses = []
        expected = None
        if self.quality and len(proposals):
            expected = qualitymod.estimate(found[..., 2], self.quality)
        scored = []
        for i, (box, track_id, confirmed, detected) in enumerate(proposals):
            k = found[i].copy()
            if detected and self.detector.whole_person:  # the whole person is in the
                drop_outside(k, box)  # box: what is outside is someone else's
            conf = k[self.provided, 2]
            if self.point_power != 1.0:  # the person's score on the network's own scale
                conf = conf ** (1.0 / self.point_power)
            scored.append((k, float(conf.mean())))
        left_out = occlusion.masked_new_left_out(
            [p[0] for p in proposals], [p[1] is not None for p in proposals],
            [s for _, s in scored], masked or [False] * len(proposals), self.tracker.min_score)
        for i, (box, track_id, confirmed, detected) in enumerate(proposals):
            if i in left_out:
                continue
            k, score = scored[i]
            poses.append(Pose(k, score, track_id,
                              None if expected is None else float(expected[i]), confirmed,
                              detector_box=tuple(box) if detected else None))
        poses += [self.tracker.carry(tid) for tid in carried]
        return self.tracker.update(poses, max_new=max_new, frame=frame)

    def _in_front(self, proposals, carried):
        """For each proposal: (indices of the proposals in front of them, the tracks of
        the people carried over this frame in front of them)."""
        if not self.paint_out:
            return [((), ())] * len(proposals)
        still = [(t, t.next_box()) for t in self.tracker.tracks if t.track_id in carried]
        return occlusion.fronts([p[0] for p in proposals], still)

    def _share_out(self, proposals, spent_ms: float = 0.0):
        """-> (proposals to infer, ids of tracked people carried over). Newly found people
        and the tracked people their boxes touch are inferred; other tracked people
        (crowded ones, then those inferred longest ago, first) as many as the frame
        budget fits (``FrameBudget.crops_that_fit``, less ``spent_ms``), at least one
        person a frame."""
        tracked = [p for p in proposals if p[1] is not None]
        new = [p for p in proposals if p[1] is None]
        if len(tracked) < 2 or self.budget.crops_that_fit(0) is None:
            return proposals, set()
        # a newcomer is told apart from the people tracked near them by their poses of
        # this frame: those are inferred whatever the time
        near = [p for p in tracked if any(iou(p[0], q[0]) > 0 for q in new)]
        rest = [p for p in tracked if p not in near]
        fit = self.budget.crops_that_fit(len(new) + len(near), spent_ms)
        return near + rest[:fit] + new, {p[1] for p in rest[fit:]}

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
