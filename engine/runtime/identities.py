"""Identities: a person found again within ``keep_lost`` frames of losing them, where their
lost track would be by now (its last box moved on by its velocity) or where it was
(IoU at least ``reclaim_iou``), gets their old id back (in the spirit of OC-SORT's
re-update from the last observation), so a brief occlusion or a missed frame is not an
id switch. ``LostPeople`` keeps the recently lost tracks for the tracker
(``engine.runtime.tracker``)."""
from __future__ import annotations

from typing import Protocol

from uniskel.engine.runtime.boxes import centre, inside, iou


class Track(Protocol):
    """What a lost person is here: a tracker's ``Track`` (an id, a box, and where the box
    moves on to)."""

    track_id: int
    box: tuple

    def next_box(self, damping: float = 0.5) -> tuple: ...


class LostPeople:
    """The tracks lost within ``keep_lost`` frames, and which of them a new box is."""

    def __init__(self, keep_lost: int = 30, reclaim_iou: float = 0.3):
        self.keep_lost = keep_lost
        self.reclaim_iou = reclaim_iou
        self.reset()

    def reset(self) -> None:
        self.gone: list[tuple[Track, int]] = []  # (lost track, frame it was lost)
        self.reclaimed = 0  # people found again under their old id

    def remember(self, gone: list[Track], kept_ids: set[int], frame: int) -> None:
        """``gone`` were lost at ``frame``; those lost over ``keep_lost`` frames ago, or
        tracked again (``kept_ids``), are forgotten."""
        self.gone = [(t, f) for t, f in self.gone
                     if frame - f <= self.keep_lost and t.track_id not in kept_ids]
        self.gone += [(t, frame) for t in gone]

    def reclaim(self, box, taken: set[int], frame: int) -> Track | None:
        """The recently lost track this new box (on frame ``frame``) most likely is, or
        None; ids in ``taken`` are someone's already."""
        best, best_iou = None, self.reclaim_iou
        for t, lost_at in self.gone:
            if t.track_id in taken:
                continue
            frames = max(frame + 1 - lost_at, 1)
            # where they would be now, moved on by their velocity, or where they were
            # (they stopped; a small person's velocity is mostly the jitter of their box)
            overlap = 0.0
            for there in (t.next_box(damping=0.5 * frames), t.box):
                o = iou(box, there)
                if o < self.reclaim_iou and inside(centre(box), there) \
                        and inside(centre(there), box):
                    o = self.reclaim_iou  # the same place, boxed differently (a detector's
                    #                       box against one from the keypoints)
                overlap = max(overlap, o)
            if overlap >= best_iou and (best is None or overlap > best_iou):
                best, best_iou = t, overlap
        if best is not None:
            self.gone = [(t, f) for t, f in self.gone if t is not best]
            self.reclaimed += 1
        return best
