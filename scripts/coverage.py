"""Who gets a skeleton: the pipeline (everyone, up to a cap, every person every frame)
over clips, counting on every 5th frame the clearly visible people who have one.

Two kinds of clip:

- a video: the person detector's confident boxes of people taller than 96 px (score >=
  0.45) are the people to find;
- ``--coco ANN.json --images DIR``: every photo with at least two labelled people
  becomes a 1.5 s, 30 fps, 1280x720 camera pan across it (as ``make_pan_clip.py``'s, the
  pipeline reset at each), and the people to find are the labelled ones: at least
  ``--min-keypoints`` points labelled, taller than 96 px in the clip, at least 3/4 of
  their box in view. With no video this is the default, on the held-out COCO people
  (``runs/pooled_val``, ``scripts/pool_coco_sets.py``).

One counts as found when a shown person's box overlaps theirs (IoU >= 0.3, or one box's
centre inside the other) and at least 4 of their drawn points (the app's draw threshold)
lie in it: a skeleton on them, not only a box. Prints the share found, the share found
of the ``--max-people`` tallest (who a cap should keep), and the people shown per frame.

With ``--live`` the pipeline runs as the app runs it (``target_fps``: sharing people
out to hold 30 fps, the detector by the clock) on frames fed at the clip's own pace.

    python scripts/coverage.py runs/bench/street_720p.mp4 [--max-people 10] [--model M]
    python scripts/coverage.py runs/bench/street_720p.mp4 --live
    python scripts/coverage.py --coco runs/pooled_val/ann.json --images runs/pooled_val/images
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


MIN_POINTS = 4
TALL = 96  # px: "clearly visible" starts here (as the person recall bar's)
PAN_FRAMES = 45  # 1.5 s pans (``make_pan_clip.pan``)


def found(box, shown) -> bool:
    """Whether one of the people ``shown`` (``Person``) has a skeleton on ``box``."""
    from uniskel.engine.detector import iou
    from uniskel.engine.skeleton import DRAW_THRESHOLD

    def inside(p, b):
        return b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3]

    c = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    for person in shown:
        s = person.box
        cs = ((s[0] + s[2]) / 2, (s[1] + s[3]) / 2)
        if not (iou(box, s) >= 0.3 or (inside(c, s) and inside(cs, box))):
            continue
        k = person.keypoints
        if sum(inside(p, box) for p in k[k[:, 2] >= DRAW_THRESHOLD, :2]) >= MIN_POINTS:
            return True
    return False


def video_clip(source: str, frames: int):
    """-> [(frames, fps, people to find on each frame (None: not counted))] for a video:
    the person detector's confident boxes of people taller than ``TALL``."""
    from uniskel.engine.bench import decode_all
    from uniskel.engine.detector import NanoDetDetector

    images, fps = decode_all(source, frames)
    reference = NanoDetDetector()
    want = [[b[:4] for b in reference.detect(f) if b[4] >= 0.45 and b[3] - b[1] > TALL]
            if i % 5 == 0 else None for i, f in enumerate(images)]
    reference.close()
    return [(images, fps, want)]


def pan(image: np.ndarray, boxes, frames: int = PAN_FRAMES):
    """``make_pan_clip``'s camera pan across ``image`` (RGB) -> (frames, each frame's
    labelled boxes mapped into it, those at least 3/4 in view and taller than TALL)."""
    import cv2

    from make_pan_clip import SIZE, pan as pan_matrices

    out, want = [], []
    for i, m in enumerate(pan_matrices(image, frames)):
        out.append(cv2.warpAffine(image, m, SIZE, flags=cv2.INTER_LINEAR))
        if i % 5:
            want.append(None)
            continue
        s, dx, dy = float(m[0, 0]), float(m[0, 2]), float(m[1, 2])
        keep = []
        for x, y, bw, bh in boxes:
            b = (x * s + dx, y * s + dy, (x + bw) * s + dx, (y + bh) * s + dy)
            clipped = (max(b[0], 0), max(b[1], 0), min(b[2], SIZE[0]), min(b[3], SIZE[1]))
            area = (b[2] - b[0]) * (b[3] - b[1])
            seen = max(clipped[2] - clipped[0], 0) * max(clipped[3] - clipped[1], 0)
            if b[3] - b[1] > TALL and seen >= 0.75 * area:
                keep.append(b)
        want.append(keep)
    return out, want


def coco_pans(annotations: str, images: str, min_keypoints: int):
    """-> [(frames, 30.0, people to find)], one pan per photo with two or more people
    labelled with at least ``min_keypoints`` points."""
    import cv2

    data = json.loads(Path(annotations).read_text())
    people: dict[int, list] = {}
    for a in data["annotations"]:
        if not a.get("iscrowd") and a.get("num_keypoints", 0) >= min_keypoints:
            people.setdefault(a["image_id"], []).append(a["bbox"])
    clips = []
    for info in sorted(data["images"], key=lambda i: i["id"]):
        boxes = people.get(info["id"], [])
        if len(boxes) < 2:
            continue
        image = cv2.cvtColor(cv2.imread(str(Path(images) / info["file_name"])),
                             cv2.COLOR_BGR2RGB)
        frames, want = pan(image, boxes)
        clips.append((frames, 30.0, want))
    return clips


def main() -> int:
    from uniskel.engine import backends
    from uniskel.engine.pipeline import LIVE_FPS, Pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", help="a video (default: --coco pans)")
    ap.add_argument("--coco", default="runs/pooled_val/ann.json")
    ap.add_argument("--images", default="runs/pooled_val/images")
    ap.add_argument("--min-keypoints", type=int, default=8)
    ap.add_argument("--max-people", type=int, default=10)
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--verbose", action="store_true", help="the people missed, per frame")
    ap.add_argument("--live", action="store_true",
                    help="as the app: hold 30 fps, frames fed at the clip's pace")
    a = ap.parse_args()
    clips = (video_clip(a.source, a.frames) if a.source
             else coco_pans(a.coco, a.images, a.min_keypoints))
    pipe = Pipeline(backends.create(a.backend, a.model), smoothing=False,
                    max_people=a.max_people, keep_frame=False,
                    target_fps=LIVE_FPS if a.live else None)
    hits = total = top_hits = top_total = 0
    shown = []
    for c, (frames, fps, wanted) in enumerate(clips):
        pipe.reset()
        start = time.monotonic()
        for i, (frame, want) in enumerate(zip(frames, wanted)):
            if a.live:  # the next frame comes 1 / fps after the last, not before
                time.sleep(max(start + i / fps - time.monotonic(), 0.0))
            people = pipe.process(frame, i / fps).people
            shown.append(len(people))
            if want is None:
                continue
            total += len(want)
            hits += sum(found(b, people) for b in want)
            tallest = sorted(want, key=lambda b: b[1] - b[3])[:a.max_people]
            top_total += len(tallest)
            top_hits += sum(found(b, people) for b in tallest)
            if a.verbose:
                missed = [tuple(int(v) for v in b[:4]) for b in tallest
                          if not found(b, people)]
                boxes = [tuple(int(v) for v in p.box) for p in people]
                print(f"clip {c} frame {i}: {len(people)} shown {boxes}, of the tallest "
                      f"missed {missed}")
    print(f"clearly visible people found: {hits}/{total} = {100 * hits / max(total, 1):.1f}% "
          f"({len(clips)} clip(s), every 5th frame); the {a.max_people} tallest found: "
          f"{top_hits}/{top_total} = {100 * top_hits / max(top_total, 1):.1f}%; people shown "
          f"per frame {np.mean(shown):.2f}; cap {a.max_people}{'; live' if a.live else ''}")
    pipe.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
