"""Identities: who a person found again is, so that "watch #3" keeps meaning the same
person through a crossing, an occlusion, a missed frame.

``LostPeople`` keeps the recently lost tracks for the tracker (``engine.runtime.tracker``)
and says which of them a newly found person is, from two things each lost track keeps:

- **motion**: where they would be by now. A lost person is somewhere between where they
  were lost and where their *calm* velocity (measured while nobody was near them, so
  not bent by the crossing that hid them; OC-SORT's observation-centric idea) carries
  them by now; the new box's centre must lie within a share of their size of that
  stretch (``reach``, widening with the time lost). They may have stopped while hidden,
  or walked on: both ends count.
- **look**: their appearance signature (``engine.runtime.appearance``: the colours of
  torso and thighs), against the new person's. A look clearly unlike theirs
  (similarity under ``unlike``) rules a lost person out; a look like theirs (``alike``
  or more) lets them be found again later (``keep_seen`` frames instead of ``keep_lost``)
  and further from where they were expected.

Of the lost people who pass, the one with the least cost (distance in their sizes, the
change of size, the unlikeness of their looks) gets their id back. A new box at IoU
``reclaim_iou`` with where a lost track was, or would be, passes as before (unless their
looks differ).

``drifted`` catches the other way ids are lost: a tracked person's crop sliding onto
someone they crossed, whose own track was lost behind them. When the pose found for a
track looks much less like that track than like a person lost nearby, it is that
person's.

The comparison (see docs/measurements.md, "Ids that hold"): ByteTrack (a second
association pass over low-score boxes), OC-SORT (re-update from the last observation,
direction consistency) and Norfair (keypoint distances, re-identification by a distance
on embeddings) associate *detections* each frame; here a tracked person's own crop
keeps them, and only the people found anew need an identity, so their ideas (the
observation-centric velocity, the re-identification of lost tracks by look) are taken
in a few lines rather than the libraries (both need SciPy, which the desktop bundle has
no room for)."""
from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from uniskel.engine.runtime import appearance
from uniskel.engine.runtime.boxes import centre, inside, iou


class Track(Protocol):
    """What a lost person is here: a tracker's ``Track``."""

    track_id: int
    box: tuple
    look: np.ndarray | None
    calm_velocity: np.ndarray

    def next_box(self, damping: float = 0.5) -> tuple: ...


def _height(box) -> float:
    return max(box[3] - box[1], box[2] - box[0], 1.0)


def _to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance from point ``p`` to the segment ``a``-``b``."""
    ab = b - a
    n = float(ab @ ab)
    t = 0.0 if n <= 0 else min(max(float((p - a) @ ab) / n, 0.0), 1.0)
    return float(np.hypot(*(p - (a + t * ab))))


class LostPeople:
    """The tracks lost within ``keep_lost`` frames (``keep_seen`` for those whose look
    is known), and which of them a new person is."""

    #: the look similarity under which two people are not the same, and over which
    #: they are (``appearance.similarity``: about 0.97 for one person over a clip, 0.1
    #: to 0.4 for two people, 0.8 for two look-alike tennis players)
    unlike, alike = 0.6, 0.9
    #: the reach: a share of the lost person's height around the stretch from where
    #: they were lost to where their motion takes them, plus this much a frame lost
    reach, reach_per_frame = 0.35, 0.005
    #: with a look that vouches for them: wider, for longer
    reach_seen, reach_seen_per_frame = 0.6, 0.015
    #: a lost person's velocity counts up to this share of their height a frame, for at
    #: most this many frames (a pan's, a runner's; not a box's jitter carried for seconds)
    max_speed, max_horizon = 0.08, 45
    #: by how much the looks must fit better swapped (``swap``)
    swap_margin = 0.15

    def __init__(self, keep_lost: int = 30, reclaim_iou: float = 0.3, keep_seen: int = 90):
        self.keep_lost = keep_lost
        self.reclaim_iou = reclaim_iou
        self.keep_seen = max(keep_seen, keep_lost)
        self.reset()

    def reset(self) -> None:
        self.gone: list[tuple[Track, int]] = []  # (lost track, frame it was lost)
        self.reclaimed = 0  # people found again under their old id
        self.drifts = 0  # poses given back to a lost person from a track that drifted

    def remember(self, gone: list[Track], kept_ids: set[int], frame: int) -> None:
        """``gone`` were lost at ``frame``; those lost too long ago (``keep_lost``,
        ``keep_seen`` with a look), or tracked again (``kept_ids``), are forgotten."""
        self.gone = [(t, f) for t, f in self.gone if t.track_id not in kept_ids
                     and frame - f <= (self.keep_lost if t.look is None else self.keep_seen)]
        known = {id(t) for t, _ in self.gone}
        self.gone += [(t, frame) for t in gone if id(t) not in known]

    def _where(self, t: Track, frames: int):
        """(where they were lost, where their calm motion takes them by now) centres."""
        was = centre(t.box)
        h = _height(t.box)
        v = np.asarray(t.calm_velocity, float)
        speed = float(np.hypot(*v))
        if speed > self.max_speed * h:
            v = v * (self.max_speed * h / speed)
        return was, was + v * min(frames, self.max_horizon)

    def cost(self, t: Track, lost_at: int, box, look, frame: int,
             vouched: bool = False, hidden: bool = False) -> float | None:
        """How unlikely it is that a new person (``box``, ``look``) on ``frame`` is the
        lost track ``t`` (lost at ``lost_at``), or None: not them. ``vouched``: their
        look is taken as theirs (``swap`` weighed it); ``hidden``: they are partly behind
        someone, their look partly the other's, so a look unlike the lost one's weighs in
        the cost without ruling them out."""
        frames = max(frame + 1 - lost_at, 1)
        similar = appearance.similarity(look, t.look)
        if similar is not None and similar < self.unlike and not hidden:
            return None
        seen = vouched or (similar is not None and similar >= self.alike)
        if frames > (self.keep_seen if seen else self.keep_lost):
            return None
        h = _height(t.box)
        was, now = self._where(t, frames)
        far = _to_segment(centre(box), was, now) / h
        scale = abs(math.log(_height(box) / h))
        unlikeness = 0.25 if similar is None else 1.0 - similar
        cost = far + scale + 2.0 * unlikeness
        # the same place (IoU with where they were or would be), as before looks
        overlap = max(iou(box, t.next_box(damping=0.5 * frames)), iou(box, t.box))
        if overlap >= self.reclaim_iou or (inside(centre(box), t.box)
                                           and inside(centre(t.box), box)):
            return cost
        reach = (self.reach_seen + self.reach_seen_per_frame * frames if seen
                 else self.reach + self.reach_per_frame * frames)
        if far > reach or scale > math.log(1.8):
            return None
        return cost

    def reclaim(self, box, taken: set[int], frame: int, look=None,
                hidden: bool = False) -> Track | None:
        """The recently lost track this new person (``box``, their ``look`` or None, on
        frame ``frame``; ``hidden``: partly behind someone, as ``cost``) most likely is,
        or None; ids in ``taken`` are someone's already."""
        best = self._cheapest(box, look, taken, frame, hidden=hidden)
        if best is not None:
            self.forget(best)
            self.reclaimed += 1
        return best

    def _cheapest(self, box, look, taken: set[int], frame: int, fits=None,
                  hidden: bool = False) -> Track | None:
        """The lost track (not in ``taken``, and ``fits(track)`` where given) that
        ``box`` and ``look`` on ``frame`` cost least to be, or None."""
        best, best_cost = None, math.inf
        for t, lost_at in self.gone:
            if t.track_id in taken or (fits is not None and not fits(t)):
                continue
            c = self.cost(t, lost_at, box, look, frame, hidden=hidden)
            if c is not None and c < best_cost:
                best, best_cost = t, c
        return best

    def forget(self, t: Track) -> None:
        self.gone = [(g, f) for g, f in self.gone if g is not t]

    def drifted(self, own: np.ndarray | None, box, look, taken: set[int],
                frame: int) -> Track | None:
        """A lost person whose a tracked person's new pose (``box``, ``look``) is rather
        than theirs (their look ``own``): it looks like the lost person (``alike``), and
        clearly more than like the tracked one (by 0.1); or None."""
        mine = appearance.similarity(look, own)
        if mine is None or mine >= self.alike:
            return None
        def alike(t):
            theirs = appearance.similarity(look, t.look)
            return theirs is not None and theirs >= self.alike and theirs >= mine + 0.1

        best = self._cheapest(box, look, taken, frame, alike)
        if best is not None:
            self.forget(best)
            self.drifts += 1
        return best

    def swap(self, own: np.ndarray, own_box, own_now: np.ndarray | None, box, look,
             taken: set[int], frame: int) -> Track | None:
        """Two look-alikes part, and the crop of the one in front went with the one
        who was behind (lost there): a tracked person (their look ``own``, their box
        ``own_box`` and look ``own_now`` this frame) and a newly found one (``box``,
        ``look``). The lost person the tracked person's pose is, when the new one looks
        like the tracked person (``alike``) and the two looks fit better swapped, by
        ``swap_margin``; or None."""
        if own_now is None or (appearance.similarity(look, own) or 0.0) < self.alike:
            return None
        kept_as_is = appearance.similarity(own_now, own) or 0.0
        if kept_as_is >= self.alike + 0.05:  # their pose is them
            return None
        h = _height(own_box)
        if _to_segment(centre(box), centre(own_box), centre(own_box)) / h > self.reach_seen:
            return None
        best, best_gain = None, self.swap_margin
        for t, lost_at in self.gone:
            if t.track_id in taken:
                continue
            swapped = appearance.similarity(own_now, t.look)
            if swapped is None or swapped < self.unlike:
                continue
            if self.cost(t, lost_at, own_box, own_now, frame, vouched=True) is None:
                continue
            gain = (appearance.similarity(look, own) + swapped
                    - kept_as_is - (appearance.similarity(look, t.look) or 0.0))
            if gain > best_gain:
                best, best_gain = t, gain
        if best is not None:
            self.forget(best)
            self.drifts += 1
        return best
