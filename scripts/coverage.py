"""Who in a clip gets a skeleton: the pipeline over a clip (everyone, up to a cap, every
person every frame); on every 5th frame the person detector's confident boxes of people
taller than 96 px ("clearly visible": score >= 0.45) are the people to find, and one
counts as found when a shown person's box overlaps it (IoU >= 0.3, or one box's centre
inside the other) and at least 4 of their drawn points (the app's draw threshold) lie in it: a
skeleton on them, not only a box. Prints the share found, the share found of the
``--max-people`` tallest of them (who a cap should keep), and how many people were shown
per frame.

    python scripts/coverage.py runs/bench/street_720p.mp4 [--max-people 10] [--model M]
"""
from __future__ import annotations

import argparse

import numpy as np


MIN_POINTS = 4


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


def main() -> int:
    from uniskel.engine import backends
    from uniskel.engine.bench import decode_all
    from uniskel.engine.detector import NanoDetDetector
    from uniskel.engine.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--max-people", type=int, default=6)
    ap.add_argument("--model", default=None)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--verbose", action="store_true", help="the people missed, per frame")
    a = ap.parse_args()
    frames, fps = decode_all(a.source, a.frames)
    pipe = Pipeline(backends.create("onnx", a.model), smoothing=False,
                    max_people=a.max_people, keep_frame=False)
    reference = NanoDetDetector()
    hits = total = top_hits = top_total = 0
    shown = []
    for i, frame in enumerate(frames):
        people = pipe.process(frame, i / fps).people
        shown.append(len(people))
        if i % 5:
            continue
        want = [b for b in reference.detect(frame) if b[4] >= 0.45 and b[3] - b[1] > 96]
        total += len(want)
        hits += sum(found(b, people) for b in want)
        tallest = sorted(want, key=lambda b: b[1] - b[3])[:a.max_people]
        top_total += len(tallest)
        top_hits += sum(found(b, people) for b in tallest)
        if a.verbose:
            missed = [tuple(int(v) for v in b[:4]) for b in tallest
                      if not found(b, people)]
            boxes = [tuple(int(v) for v in p.box) for p in people]
            print(f"frame {i}: {len(people)} shown {boxes}, of the tallest missed {missed}")
    print(f"clearly visible people found: {hits}/{total} = {100 * hits / max(total, 1):.1f}% "
          f"(every 5th of {len(frames)} frames); the {a.max_people} tallest found: {top_hits}/"
          f"{top_total} = {100 * top_hits / max(top_total, 1):.1f}%; people shown per frame "
          f"{np.mean(shown):.2f}; cap {a.max_people}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
