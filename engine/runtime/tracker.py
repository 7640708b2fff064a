"""Following people from frame to frame, top-down style (as BlazePose and MoveNet do).

A tracked person's next crop comes from their previous keypoints (box of the confident
points, nudged by their recent motion), so the detector is needed only to acquire
people: at the start, when someone is lost, and every ``redetect_every`` frames (and,
once someone was lost since the last detection, as soon as ``lost_gap`` frames have
passed since it). With ``max_people`` tracked, the periodic detection still runs (but in
one-person mode), and a newcomer the detector vouches for whose box is ``outrank``
times the smallest tracked person's takes their place: someone walking up to the
camera is shown before the far people who filled the cap. For ``redetect_every`` frames
after a detector's box for a person, their crop keeps at least ``hold_scale`` of its
size (``_hold_scale``); the box from a pose is ``runtime.next_crop``'s. A person is lost when
the mean confidence of their keypoints falls below ``min_score`` (or too few points
remain); they are then dropped and acquisition runs again. Two poses that land on the
same person (box IoU above ``same_person_iou``, or their shared sure points alike: OKS
above ``same_person_oks``) are merged, keeping the tracked one.

A person's pose may be carried over a frame without inference (``carry``: the pipeline
keeping to a frame rate with many people, ``engine.runtime.pipeline``): their last keypoints
and box move on by half their recent motion (as their next crop does), and their motion
is measured between the frames that were inferred.

Identities: each track keeps a look (``engine.runtime.appearance``: the colours of torso
and thighs, blended in slowly while nobody is near them) and a calm velocity (their
motion while nobody was near). A person found again after they were lost, where they
were or would be by now, and looking like them, gets their old id back; of two poses on
one person, the track that looks like them keeps it; a tracked person's pose that looks
like someone lost near them rather than like them is that person's
(``engine.runtime.identities``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from uniskel.engine.runtime import appearance, occlusion
from uniskel.engine import skeleton
from uniskel.engine.runtime.boxes import area as _area, centre as _centre
from uniskel.engine.runtime.boxes import iou, size as _size, within as _within
from uniskel.engine.runtime.identities import LostPeople
from uniskel.engine.runtime.next_crop import no_collapse, pose_to_box


@dataclass
class Pose:
    """One pose from the model, in frame pixels; ``track_id`` None when newly found."""

    keypoints: np.ndarray  # (21, 3)
    score: float
    track_id: int | None = None
    quality: float | None = None  # the model's expected OKS (engine/models/quality.py), if any
    #: a person detector vouched for this person this frame (its box, score >= confirm)
    confirmed: bool = False
    #: not inferred this frame: the track's last pose, carried over (``Tracker.carry``)
    carried: bool = False
    #: the person detector's box its crop was cut from (frame pixels); None: the crop
    #: came from the person's own keypoints (or a window search)
    detector_box: tuple | None = None


@dataclass(eq=False)
class Track:
    track_id: int
    keypoints: np.ndarray  # (21, 3), frame pixels, as the model gave them (unsmoothed)
    box: tuple[float, float, float, float]
    score: float
    age: int = 1  # frames tracked
    quality: float | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre px/frame
    confirmed_at: int = -10 ** 9  # frame a person detector last vouched for them
    #: the frame and box of their last pose from the model (not carried over)
    refreshed_at: int = 0
    refreshed_box: tuple | None = None  # None: ``box``
    #: (width, height) of the last person-detector box found on them, and its frame
    detected_size: tuple | None = None
    detected_at: int = -10 ** 9
    #: their appearance signature (``appearance.signature``), blended in slowly while
    #: nobody is near them, and the frame it was last blended
    look: np.ndarray | None = None
    looked_at: int = -10 ** 9
    #: their velocity when nobody was last near them (where they go while hidden)
    calm_velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    #: the camera moved this frame (``Tracker.shift``): they were moved with it, and
    #: their own velocity is not added on top (a pan's reading is surer than theirs)
    panned: bool = False

    def __post_init__(self):
        if self.refreshed_box is None:
            self.refreshed_box = self.box

    def shift(self, d: np.ndarray) -> None:
        """Move them by ``d`` (dx, dy; the camera moved): box, keypoints, last pose's box."""
        move = lambda b: tuple(float(v) for v in np.asarray(b, float) + np.r_[d, d])
        self.box, self.refreshed_box = move(self.box), move(self.refreshed_box)
        self.keypoints = self.keypoints.copy()
        self.keypoints[:, :2] += d

    def moved_keypoints(self) -> np.ndarray:
        """Their last keypoints (a copy), moved on as their box moves to ``next_box``."""
        k = self.keypoints.copy()
        k[:, :2] += _centre(self.next_box()) - _centre(self.box)
        return k

    def next_box(self, damping: float = 0.5) -> tuple[float, float, float, float]:
        """Where to crop next frame: the last box, moved on by the damped velocity (not
        while the camera moves: ``panned``)."""
        dx, dy = (0.0, 0.0) if self.panned else self.velocity * damping
        x0, y0, x1, y1 = self.box
        return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(x1 - x0, y1 - y0, 1.0)


#: a person detector's box, widened by this share of its width and height on each side,
#: holds all of that person's keypoints (``drop_outside``)
DETECTOR_MARGIN = 0.1


def drop_outside(keypoints: np.ndarray, box, margin: float = DETECTOR_MARGIN) -> None:
    """Set to 0 the confidence of the keypoints (21, 3) outside a person detector's
    ``box`` widened by ``margin`` (in place). In a crowd the crop of one person holds
    their neighbours too, and the model may put some points (or all) on a neighbour; a
    detector's box is that person's whole extent, so points outside it are someone
    else's, and a pose that went to the neighbour keeps too few points to be shown."""
    x0, y0, x1, y1 = box[:4]
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    outside = ((keypoints[:, 0] < x0 - mx) | (keypoints[:, 0] > x1 + mx)
               | (keypoints[:, 1] < y0 - my) | (keypoints[:, 1] > y1 + my))
    keypoints[outside, 2] = 0.0


#: a detector box this much inside a tracked person's box is part of them (a face, a
#: torso), not somebody new
PART_OF = 0.8
#: a detector box scoring under this (the everyone-mode NanoDet keeps boxes down to 0.2,
#: ``detector.NANODET_EVERYONE``) may bring someone new, whom the pose must then vouch
#: for, but never replaces a tracked person's crop from their keypoints
REFINE_SCORE = 0.3


def same_pose(keypoints: np.ndarray, box, other_keypoints: np.ndarray, other_box,
              same_iou: float, same_oks: float, threshold: float, min_points: int) -> bool:
    """A pose (``keypoints``, ``box``) is another (``other_keypoints``, ``other_box``)
    twice: their boxes overlap by IoU ``same_iou``, or they touch and at least
    ``min_points`` points both poses are sure of (above ``threshold``) lie at an object
    keypoint similarity (COCO's OKS, at the scale of the other's box) of at least
    ``same_oks``. The second catches what box IoU misses: a crop that closed in on part
    of someone already shown (their upper body, from a detection of a person half hidden
    behind them)."""
    overlap = iou(box, other_box)
    if overlap >= same_iou:
        return True
    if overlap == 0.0:
        return False
    sure = (keypoints[:, 2] > threshold) & (other_keypoints[:, 2] > threshold)
    if sure.sum() < min_points:
        return False
    area = skeleton.AREA_FROM_BOX * _area(other_box)
    similarity = skeleton.oks(keypoints[None], other_keypoints[None], sure[None], area)
    return float(similarity[0]) >= same_oks


class Tracker:
    def __init__(self, max_people: int = 1, min_score: float = 0.3,
                 keypoint_threshold: float = skeleton.DRAW_THRESHOLD, min_points: int = 4,
                 redetect_every: int = 15, same_person_iou: float = 0.5,
                 keep_lost: int = 30, reclaim_iou: float = 0.3, lost_gap: int = 5,
                 confirmed_score: float | None = None, confirm_score: float = 0.45,
                 max_shrink: float = 0.8, same_person_oks: float = 0.5,
                 outrank: float = 1.5, hold_scale: float = 0.75, keep_seen: int = 90,
                 look_every: int = 5, look_rate: float = 0.2):
        self.max_people = max(1, int(max_people))
        self.min_score = min_score
        self.keypoint_threshold = keypoint_threshold
        self.min_points = min_points
        self.redetect_every = redetect_every
        self.same_person_iou = same_person_iou
        self.same_person_oks = same_person_oks
        self.lost_gap = lost_gap  # frames from a detection to one for someone lost since
        # a person a detector vouched for (score >= confirm_score, within redetect_every
        # frames) is kept down to this lower mean confidence: the detector, not the pose
        # model's confidence alone, says someone is there
        self.confirmed_score = 0.5 * min_score if confirmed_score is None else confirmed_score
        self.confirm_score = confirm_score
        # ids found again: a lost person's id is kept ``keep_lost`` frames, ``keep_seen``
        # once their look is known
        self.lost_people = LostPeople(keep_lost, reclaim_iou, keep_seen)
        # a person's look is blended in every ``look_every`` frames, ``look_rate`` of
        # the way, while nobody is near them
        self.look_every, self.look_rate = look_every, look_rate
        self.max_shrink = max_shrink  # a tracked box shrinks at most to this share a frame
        self.outrank = outrank  # a newcomer this much larger takes a full cap's smallest
        self.hold_scale = hold_scale  # share of a recent detector box a crop keeps
        self.reset()

    def reset(self) -> None:
        self.tracks: list[Track] = []
        self._next_id = 1
        self._last_detection = -10 ** 9
        self._lost_since_detection = False  # someone was lost after the last detection
        self.lost = 0  # tracks lost so far (for stats and tests)
        self.outranked = 0  # people dropped from a full cap for someone more prominent
        self._frame = 0
        self.lost_people.reset()

    @property
    def reclaimed(self) -> int:
        """People found again under their old id (for stats and tests)."""
        return self.lost_people.reclaimed

    # ---- before inference ----
    def proposals(self) -> list[tuple[tuple, int, bool, bool]]:
        """(box, track_id, confirmed, a detector's box) to crop for every tracked person
        (the last two False: their box comes from their keypoints): first those whose
        box overlaps someone else's (carried over, their crop could slide onto the other
        person), then the one inferred longest ago."""
        def crowded(t):
            return any(iou(t.box, o.box) > 0.0 for o in self.tracks if o is not t)

        return [(t.next_box(), t.track_id, False, False)
                for t in sorted(self.tracks, key=lambda t: (not crowded(t), t.refreshed_at))]

    def shift(self, dx: float, dy: float) -> None:
        """The picture moved by (dx, dy) pixels since the last frame (the camera panned,
        ``engine.runtime.camera``; (0, 0): it stood still): everyone tracked, and those
        lost lately, move with it, and while it moves, not by their own velocities too."""
        d = np.array([dx, dy], float)
        moved = bool(dx or dy)
        for t in self.tracks + [t for t, _ in self.lost_people.gone]:
            t.panned = moved
            if moved:
                t.shift(d)

    def carry(self, track_id: int) -> Pose:
        """Tracked person ``track_id``'s last pose, for a frame they are not inferred in."""
        t = next(t for t in self.tracks if t.track_id == track_id)
        return Pose(t.keypoints, t.score, t.track_id, t.quality, carried=True)

    def wants_detection(self, frame_index: int, proposes_only: bool = False,
                        soon: bool = True, overdue: bool = False) -> bool:
        """Whether to run the detector on this frame; ``soon=False`` leaves someone lost
        to the periodic detection (the pipeline is behind its frame rate); ``overdue``:
        the periodic detection is due by the clock (frames arrive slowly: a busy
        machine, a slow display), whatever the frame count."""
        if not self.tracks:
            return True
        if proposes_only:  # a window search finds one person; only use it when alone
            return False
        since = frame_index - self._last_detection
        if overdue and self.max_people > 1:
            since = max(since, self.redetect_every)
        if len(self.tracks) >= self.max_people:
            # with the cap full, someone more prominent (nearer) than the least prominent
            # tracked person may have come in: looked for at the periodic detection. Not
            # in one-person mode: a presenter is not dropped for someone walking past
            return self.max_people > 1 and since >= self.redetect_every
        return since >= self.redetect_every or (soon and self._lost_since_detection
                                                and since >= self.lost_gap)

    def select_detections(self, boxes, frame_index: int, proposes_only: bool = False):
        """Match this frame's detector boxes with the tracked people -> (new, refined).

        ``refined``: {track_id: box} for tracked people the detector sees too (box IoU >=
        0.5 with their next crop, one box each, best overlaps first), a better crop than
        the one propagated from keypoints; a confident box (score >= ``confirm_score``)
        also vouches for them. ``new``: (box, confirmed) of the boxes worth a crop as new
        people, most prominent first."""
        self._last_detection = frame_index
        self._lost_since_detection = False
        if proposes_only:  # every window is tried; the model's confidence decides
            return [(tuple(b[:4]), False) for b in boxes], {}
        # a detector box matches a tracked person when it overlaps their next crop
        # (IoU), or holds it (their crop had closed in on a part of them: a face)
        pairs = sorted(((max(iou(b, t.next_box()),
                             0.5 if _within(t.next_box(), b) >= PART_OF else 0.0), i, t)
                        for i, b in enumerate(boxes) for t in self.tracks),
                       key=lambda x: -x[0])
        refined: dict[int, tuple] = {}
        used: set[int] = set()
        for overlap, i, t in pairs:
            if overlap < 0.5:
                break
            if i in used or t.track_id in refined or boxes[i][4] < REFINE_SCORE:
                continue
            used.add(i)
            refined[t.track_id] = tuple(boxes[i][:4])
            t.detected_size, t.detected_at = _size(boxes[i]), self._frame
            if boxes[i][4] >= self.confirm_score:
                t.confirmed_at = self._frame
        tracked = [t.box for t in self.tracks] + [t.next_box() for t in self.tracks]
        # a box inside a tracked person's is a part of them, unless it could be someone
        # half hidden behind them (``occlusion.in_front``): the pipeline paints the
        # person in front out of that crop, so what the model finds there is not them
        fresh = [b for i, b in enumerate(boxes) if i not in used
                 and all(iou(b, t) < self.same_person_iou
                         and (_within(b, t) < PART_OF or occlusion.in_front(t, b))
                         for t in tracked)]
        fresh.sort(key=lambda b: -(b[4] * np.sqrt(_area(b))))
        room = self.max_people - len(self.tracks)
        # one spare, in case the best one is a false alarm
        return [(tuple(b[:4]), b[4] >= self.confirm_score) for b in fresh[:room + 1]], refined

    # ---- after inference ----
    def pose_box(self, keypoints: np.ndarray):
        """The box to crop next from ``keypoints`` (``next_crop.pose_to_box`` at this
        tracker's thresholds), or None."""
        return pose_to_box(keypoints, self.keypoint_threshold, self.min_points)

    def update(self, poses: list[Pose], max_new: int | None = None,
               frame: np.ndarray | None = None) -> list[Track]:
        """Take this frame's poses (``frame``: the RGB picture they were found in, for
        their looks; None: identities by motion alone); returns the tracks that hold a
        person now."""
        previous = {t.track_id: t for t in self.tracks}
        near = self._crowded(self.tracks)  # ids of those someone was near
        looks: dict[int, np.ndarray | None] = {}  # id(pose) -> look, when asked for

        def look_of(p: Pose):
            if id(p) not in looks:
                looks[id(p)] = (None if frame is None
                                else appearance.signature(frame, p.keypoints))
            return looks[id(p)]

        def fit(p: Pose) -> float:
            """How much a tracked person's pose looks like them (0.5: not asked: nobody
            was near them, or no look)."""
            old = previous.get(p.track_id)
            if p.carried or old is None or old.look is None or old.track_id not in near:
                return 0.5
            similar = appearance.similarity(look_of(p), old.look)
            return 0.5 if similar is None else similar

        scored = []
        for p in poses:
            old = previous.get(p.track_id) if p.track_id is not None else None
            if p.carried and old is not None:  # moved on as their box moves
                p.keypoints = old.moved_keypoints()
                scored.append((p, old.next_box()))
                continue
            vouched = p.confirmed or (old is not None and
                                      self._frame - old.confirmed_at <= self.redetect_every)
            bar = self.confirmed_score if vouched else self.min_score
            box = self.pose_box(p.keypoints) if p.score >= bar else None
            if box is not None:
                if old is not None:
                    box = no_collapse(box, old.box, self.max_shrink)
                box = self._hold_scale(box, old, p)
                scored.append((p, tuple(float(v) for v in box)))
        # tracked people first (best first: of two poses on one person, the one that
        # looks like their track, then the surer), then new ones by prominence
        scored.sort(key=lambda pb: (pb[0].track_id is None,
                                    -(pb[0].score + fit(pb[0])) if pb[0].track_id is not None
                                    else -pb[0].score * np.sqrt(_area(pb[1]))))
        kept: list[Track] = []
        kept_ids: set[int] = set()
        posed: dict[int, Pose] = {}  # track id -> its pose of this frame
        new_count = 0
        for pose, box in scored:
            if len(kept) >= self.max_people and (pose.track_id is not None
                                                 or not pose.confirmed):
                continue
            twin = next((k for k in kept if self.same_person(pose.keypoints, box, k)), None)
            if twin is not None:  # the same person twice; a detector's word holds for both
                if pose.confirmed:
                    twin.confirmed_at = self._frame
                continue
            if len(kept) >= self.max_people:  # a newcomer a detector vouched for
                smallest = self._outranked_by(box, [k for k in kept if k.track_id in previous])
                if smallest is None:
                    continue
                kept.remove(smallest)
                kept_ids.discard(smallest.track_id)
            old = previous.get(pose.track_id) if pose.track_id is not None else None
            if old is not None and old.track_id in kept_ids:
                continue
            owner = None  # a lost person this tracked person's pose is, in fact
            if (old is not None and not pose.carried and old.track_id in near
                    and old.look is not None and self.lost_people.gone):
                # their crop slid onto someone lost near them: the pose is that person's
                owner = self.lost_people.drifted(old.look, box, look_of(pose), kept_ids,
                                                 self._frame)
                if owner is not None:
                    self.lost_people.remember([old], kept_ids, self._frame)
            if old is None or owner is not None:
                if owner is not None:
                    old = owner
                else:
                    if max_new is not None and new_count >= max_new:
                        continue
                    new_count += 1
                    old = self.lost_people.reclaim(
                        box, kept_ids, self._frame,
                        look_of(pose) if self.lost_people.gone else None,
                        hidden=any(occlusion.in_front(k.box, box) for k in kept))
                    if old is None and self.lost_people.gone and self._swapped(
                            pose, box, look_of, kept, kept_ids, posed, near):
                        continue
                if old is not None:
                    old.keypoints, old.box, old.score = pose.keypoints, box, pose.score
                    old.quality, old.velocity = pose.quality, np.zeros(2)
                    old.age += 1
                else:
                    old = Track(self._next_id, pose.keypoints, box, pose.score,
                                quality=pose.quality)
                    self._next_id += 1
                if pose.confirmed:
                    old.confirmed_at = self._frame
                if pose.detector_box is not None:
                    old.detected_size, old.detected_at = _size(pose.detector_box), self._frame
                old.refreshed_at, old.refreshed_box = self._frame, box
            elif pose.carried:
                old.keypoints, old.box = pose.keypoints, box
                old.age += 1
            else:  # motion per frame since they were last inferred
                frames = max(self._frame - old.refreshed_at, 1)
                step = (_centre(box) - _centre(old.refreshed_box)) / frames
                old.velocity = 0.5 * old.velocity + 0.5 * step
                old.keypoints, old.box, old.score = pose.keypoints, box, pose.score
                old.quality = pose.quality
                old.age += 1
                old.refreshed_at, old.refreshed_box = self._frame, box
            kept.append(old)
            kept_ids.add(old.track_id)
            posed[old.track_id] = pose
        self._learn(kept, posed, look_of, frame)
        self._frame += 1
        gone = [t for tid, t in previous.items() if tid not in kept_ids]
        self.lost += len(gone)
        self._lost_since_detection |= bool(gone)
        self.lost_people.remember(gone, kept_ids, self._frame)
        self.tracks = sorted(kept, key=lambda t: t.track_id)
        return self.tracks

    def _swapped(self, pose: Pose, box, look_of, kept: list[Track], kept_ids: set[int],
                 posed: dict, near: set[int]) -> bool:
        """A newly found person (``pose``, ``box``) who looks like a tracked person near
        them, whose pose of this frame looks rather like someone lost there: the
        tracked person's crop slid onto the one lost behind them as they parted (two
        look-alikes: see ``LostPeople.swap``). Then the tracked person takes the new
        pose, the lost one theirs (in ``kept``), and True."""
        look = look_of(pose)
        if look is None:
            return False
        for t in kept:
            theirs = posed.get(t.track_id)
            if (t.track_id not in near or t.look is None or theirs is None
                    or theirs.carried or t.refreshed_at != self._frame):
                continue
            lost = self.lost_people.swap(t.look, t.box, look_of(theirs), box, look,
                                         kept_ids, self._frame)
            if lost is None:
                continue
            lost.keypoints, lost.box, lost.score = t.keypoints, t.box, t.score
            lost.quality, lost.velocity = t.quality, np.zeros(2)
            lost.confirmed_at, lost.age = t.confirmed_at, lost.age + 1
            lost.refreshed_at, lost.refreshed_box = self._frame, t.box
            t.keypoints, t.box, t.score, t.quality = pose.keypoints, box, pose.score, pose.quality
            t.velocity, t.refreshed_box = np.zeros(2), box
            if pose.confirmed:
                t.confirmed_at = self._frame
            kept.append(lost)
            kept_ids.add(lost.track_id)
            posed[lost.track_id], posed[t.track_id] = theirs, pose
            return True
        return False

    def _crowded(self, tracks: list[Track]) -> set[int]:
        """Ids of the ``tracks`` whose box touches another's, or where someone was lost."""
        boxes = [t.box for t in tracks] + [t.box for t, _ in self.lost_people.gone]
        return {t.track_id for i, t in enumerate(tracks)
                if any(j != i and iou(t.box, b) > 0.0 for j, b in enumerate(boxes))}

    def _learn(self, kept: list[Track], posed: dict, look_of, frame) -> None:
        """What the people inferred this frame with nobody near them teach about them:
        their calm velocity, and (every ``look_every`` frames) their look."""
        near = self._crowded(kept)
        for t in kept:
            pose = posed.get(t.track_id)
            if pose is None or pose.carried or t.track_id in near:
                continue
            t.calm_velocity = t.velocity.copy()
            if frame is None or self._frame - t.looked_at < self.look_every:
                continue
            look = look_of(pose)
            if look is None:
                continue
            similar = appearance.similarity(look, t.look)
            if similar is None or similar >= self.lost_people.unlike:
                t.look = appearance.blend(t.look, look, self.look_rate)
                t.looked_at = self._frame

    def same_person(self, keypoints: np.ndarray, box, other: Track) -> bool:
        """A pose (``keypoints``, ``box``) is ``other`` twice (``same_pose``, at this
        tracker's bars)."""
        return same_pose(keypoints, box, other.keypoints, other.box, self.same_person_iou,
                         self.same_person_oks, self.keypoint_threshold, self.min_points)

    def _hold_scale(self, box, old: Track | None, pose: Pose):
        """``box`` no smaller than ``hold_scale`` x the person detector's box for them,
        within ``redetect_every`` frames of it (for a newcomer: the box their crop came
        from). A crop from the keypoints closes in on the points the model is sure of;
        on a small or blurred person that is their upper body, where the model, trained
        on whole people, grows less sure still, until they are lost. The detector's box
        holds the whole person, as the crops the model was trained on do."""
        if old is not None and self._frame - old.detected_at <= self.redetect_every:
            size = old.detected_size
        elif old is None and pose.detector_box is not None:
            size = _size(pose.detector_box)
        else:
            return box
        return no_collapse(box, (0.0, 0.0) + size, self.hold_scale)

    def _outranked_by(self, box, tracked: list[Track]) -> Track | None:
        """With the cap full: the least prominent of the people ``tracked`` (before this
        frame), if a newcomer's box is ``outrank`` times as large (square root of the
        area) as theirs; the margin keeps two people of about one size from taking
        turns."""
        if not tracked:
            return None
        smallest = min(tracked, key=lambda t: _area(t.box))
        if np.sqrt(_area(box)) >= self.outrank * np.sqrt(_area(smallest.box)):
            self.outranked += 1
            return smallest
        return None
