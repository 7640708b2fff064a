"""Why a missed person has no skeleton: ``scripts/coverage.py``'s clips through the
pipeline with its tracker instrumented; for each labelled person missed on a counted
frame, the first thing that lost them (issue 32, docs/measurements.md "Finding more
people (after)"):

- ``no detection this frame``: the detector did not run (the tracker followed others);
- ``no kept box``: the detector ran but kept no box at IoU >= 0.5 with them;
- ``dropped: ...``: their box (``sure`` >= 0.45 or ``unsure``) was left out by
  ``Tracker.select_detections``: at IoU >= 0.5 with, or inside, a tracked person's box
  or next crop, or no room under the cap;
- ``new proposal`` / ``refined a track``: their box was cropped, as someone new or as a
  tracked person's better crop, and then the pose: ``score < bar`` (its mean confidence
  under the tracker's bar: ``min_score``, or the lower ``confirmed_score`` for a box the
  detector is sure of), ``too few sure points``, ``merged/cap`` (the same person as
  someone kept, or no room), or ``kept`` but its points not on them.

    python scripts/why_missed.py --set crowd --redetect-every 1 [--model M.onnx] [-v]
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    import coverage as cov
    from uniskel.engine import backends
    from uniskel.engine.runtime import tracker as trk
    from uniskel.engine.runtime.boxes import iou
    from uniskel.engine.runtime.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("pans", "stills", "crowd"), default="crowd")
    ap.add_argument("--coco", default="runs/pooled_val/ann.json")
    ap.add_argument("--images", default="runs/pooled_val/images")
    ap.add_argument("--redetect-every", type=int, default=15)
    ap.add_argument("--max-people", type=int, default=10)
    ap.add_argument("--model", default=None, help="an ONNX pose model (default: the bundled one)")
    ap.add_argument("-v", "--verbose", action="store_true", help="each miss on its own line")
    a = ap.parse_args()
    if a.set == "crowd":
        clips = cov.crowd_pan()
    elif a.set == "stills":
        clips = cov.coco_stills(a.coco, a.images, 8)
    else:
        clips = cov.coco_pans(a.coco, a.images, 8)
    pipe = Pipeline(backends.create("onnx", a.model), smoothing=False, max_people=a.max_people,
                    keep_frame=False, redetect_every=a.redetect_every)
    t = pipe.tracker
    rec: dict = {}
    select, update = t.select_detections, t.update

    def traced_select(boxes, frame_index, proposes_only=False):
        rec["tracked"] = [(x.track_id, x.box, x.next_box()) for x in t.tracks]
        new, refined = select(boxes, frame_index, proposes_only)
        rec.update(boxes=list(boxes), new=new, refined=refined)
        return new, refined

    def traced_update(poses, *args, **kwargs):
        rec["poses"] = [(p.keypoints, p.score, p.confirmed, p.track_id, p.detector_box,
                         p.carried) for p in poses]
        out = update(poses, *args, **kwargs)
        rec["out"] = [(x.keypoints, x.box) for x in out]
        return out

    t.select_detections, t.update = traced_select, traced_update
    reasons = collections.Counter()
    for c, (frames, fps, wanted, labels, truth, *rest) in enumerate(clips):
        pipe.reset()
        for i, (frame, want) in enumerate(zip(frames, wanted)):
            rec.clear()
            people = pipe.process(frame, i / fps).people
            for b in want or []:
                if cov.found(b, people):
                    continue
                why = _why(b, rec, t, iou, trk)
                reasons[why[0]] += 1
                if a.verbose:
                    print(c, i, [int(v) for v in b], *why)
    for k, v in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"{v:4d} {k}")
    pipe.close()
    return 0


def _why(b, rec, t, iou, trk):
    """-> (reason, detail) for the labelled box ``b`` missed on this frame."""
    if "boxes" not in rec:
        return ("no detection this frame", "")
    matched = [x for x in rec["boxes"] if iou(b, x) >= 0.5]
    if not matched:
        return ("no kept box", "")
    box = max(matched, key=lambda x: x[4])
    tag = "sure" if box[4] >= t.confirm_score else "unsure"
    key = tuple(box[:4])
    refined = [tid for tid, r in rec["refined"].items() if tuple(r) == key]
    if refined:
        how = "refined a track"
        pose = next((p for p in rec["poses"] if p[3] == refined[0] and not p[5]), None)
    elif any(tuple(n[0]) == key for n in rec["new"]):
        how = "new proposal"
        pose = next((p for p in rec["poses"] if p[3] is None and p[4] is not None
                     and tuple(p[4][:4]) == key), None)
    else:
        near = [(max(iou(box, tb), iou(box, nb)),
                 max(trk._within(box, tb), trk._within(box, nb)))
                for _, tb, nb in rec["tracked"]]
        if any(o >= t.same_person_iou for o, _ in near):
            return (f"{tag}: dropped: IoU >= {t.same_person_iou} with a tracked person", "")
        if any(w >= trk.PART_OF for _, w in near):
            return (f"{tag}: dropped: inside a tracked person", "")
        return (f"{tag}: dropped: no room", "")
    if pose is None:
        return (f"{tag}: {how}: no pose", "")
    k, score, confirmed, _, _, _ = pose
    bar = t.confirmed_score if confirmed else t.min_score
    sure = int((k[:, 2] > t.keypoint_threshold).sum())
    detail = f"box {box[4]:.2f} pose {score:.2f} (bar {bar:.2f}) {sure} sure points"
    kept = [o for o in rec["out"] if o[0] is k]
    if kept:
        pts = k[k[:, 2] >= t.keypoint_threshold, :2]
        on = int(((pts[:, 0] >= b[0]) & (pts[:, 0] <= b[2]) & (pts[:, 1] >= b[1])
                  & (pts[:, 1] <= b[3])).sum())
        return (f"{tag}: {how}: kept, " + ("box off" if on >= 4 else "points elsewhere"),
                detail)
    if score < bar:
        return (f"{tag}: {how}: score < bar", detail)
    if sure < t.min_points:
        return (f"{tag}: {how}: too few sure points", detail)
    return (f"{tag}: {how}: merged/cap", detail)


if __name__ == "__main__":
    raise SystemExit(main())
