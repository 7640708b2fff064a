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

``--set`` picks the labelled people instead: ``pans`` (the default with no video, as
above), ``stills`` (each photo of the pooled val with a labelled person, one frame, as
``uniskel infer`` on an image) or ``crowd`` (``make_pan_clip.py``'s crowd pan, its
labelled people, listed as in its truth). On labelled people it also reports the misses
by cause, as a table (markdown): each person missed on a counted frame gets one row,
the first of **truncated** (their box touches the frame's edge, or fewer than 8 of
their labelled points are in view), **crowd** (another labelled person's box overlaps
theirs at IoU > 0.3), **small** (under 160 px tall), or none of those; and one column,
what the person detector (NanoDet, as the pipeline runs it, on that frame) had for them
at IoU >= 0.5: **never proposed** (no cell scored even 0.05), **below threshold** (a
box, scoring under the detector's 0.3), **suppressed** (scoring 0.3 or more, removed by
NMS), **unsure** (kept, under 0.45: a box the tracker takes only when the pose
confirms it, or leaves out of its selection) or **sure** (0.45 or more: the detector had
them; the tracker, the cap or the pose lost them). Also found / to find per height; the
people in contact (another labelled box at IoU > 0.3) with a skeleton of their own
(shown people matched one to one to them: one skeleton between two counts once); and
on the pans the id switches against the labelled people (``uniskel bench --truth``'s
count, every frame, each pan on its own).

On ``stills`` it also counts the ghosts: people shown whose box overlaps no labelled
person's (any person box in the photo's annotations, those without labelled points
and crowd regions included; ``ghost``), so recall is not bought with skeletons where
nobody is.

With ``--live`` the pipeline runs as the app runs it (``target_fps``: sharing people
out to hold 30 fps, the detector by the clock) on frames fed at the clip's own pace.
Which frames the detector then runs on depends on the machine's timing, and a run's
share found moves by a few points from run to run: ``--repeat N`` runs the clips N
times over, prints each run's share and pools the counts.

    python scripts/coverage.py runs/bench/street_720p.mp4 [--max-people 10] [--model M]
    python scripts/coverage.py runs/bench/street_720p.mp4 --live
    python scripts/coverage.py --set pans --live --repeat 3
    python scripts/coverage.py --coco runs/pooled_val/ann.json --images runs/pooled_val/images
    python scripts/coverage.py --set stills     # or --set crowd
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))

MIN_POINTS = 4
TALL = 96  # px: "clearly visible" starts here (as the person recall bar's)
PAN_FRAMES = 45  # 1.5 s pans (``make_pan_clip.pan``)
# misses by cause
SMALL = 160  # px: under this a person counts as small
HEIGHTS = (96, 160, 256)  # the height buckets' lower ends
CROWD_IOU = 0.3  # another labelled person's box overlapping this much: a crowd
FEW_POINTS = 8  # fewer labelled points than this in view: truncated
EDGE = 2.0  # px: a box this near the frame's edge touches it
PROPOSED = 0.05  # a detector cell scoring at least this proposed someone
CONDITIONS = ("truncated", "crowd", "small", "none of those")
STAGES = ("never proposed", "below threshold", "suppressed", "unsure", "sure")


def condition(box, frame_wh, points_in_view: int, others) -> str:
    """A labelled person's first of ``CONDITIONS``: ``box`` (x0, y0, x1, y1, not clipped)
    in a frame ``frame_wh`` (w, h), ``points_in_view`` of their labelled points in it,
    ``others`` the other labelled people's boxes."""
    w, h = frame_wh
    if (box[0] <= EDGE or box[1] <= EDGE or box[2] >= w - EDGE or box[3] >= h - EDGE
            or points_in_view < FEW_POINTS):
        return "truncated"
    if in_contact(box, others):
        return "crowd"
    if box[3] - box[1] < SMALL:
        return "small"
    return "none of those"


def detector_stage(box, candidates, kept, threshold: float = 0.3,
                   sure: float = 0.45) -> str:
    """What the detector had for ``box`` (IoU >= 0.5), one of ``STAGES``: ``candidates``
    its boxes before the score threshold and NMS (``NanoDetDetector.candidates``),
    ``kept`` those it returned (``detect``)."""
    from uniskel.engine.runtime.boxes import iou

    best_kept = max((b[4] for b in kept if iou(box, b) >= 0.5), default=None)
    if best_kept is not None:
        return "sure" if best_kept >= sure else "unsure"
    best = max((b[4] for b in candidates if iou(box, b) >= 0.5), default=None)
    if best is None:
        return "never proposed"
    return "suppressed" if best >= threshold else "below threshold"


def height_bucket(box) -> str:
    h = box[3] - box[1]
    low = max(b for b in HEIGHTS if b <= h) if h >= HEIGHTS[0] else 0
    high = next((b for b in HEIGHTS if b > low), None)
    return f"{low}-{high}" if high else f"{low}+"


def cause_table(name: str, misses, total: int, found_by_height, total_by_height) -> str:
    """``misses``: [(condition, stage)] -> a markdown table (rows ``CONDITIONS``,
    columns ``STAGES``) with counts and shares of the misses."""
    n = len(misses)
    share = lambda k: f"{k} ({100 * k / n:.0f}%)" if n else "0"
    lines = [f"misses by cause, {name}: {n} of {total} labelled people missed "
             f"({100 * n / max(total, 1):.1f}%)", "",
             "| missed person | " + " | ".join(STAGES) + " | all |",
             "|---|" + "---:|" * (len(STAGES) + 1)]
    for c in CONDITIONS:
        row = [sum(1 for m in misses if m == (c, st)) for st in STAGES]
        lines.append(f"| {c} | " + " | ".join(str(k) for k in row)
                     + f" | {share(sum(row))} |")
    cols = [sum(1 for m in misses if m[1] == st) for st in STAGES]
    lines.append("| all | " + " | ".join(share(k) for k in cols) + f" | {n} |")
    lines.append("")
    lines.append("found by height (px): " + ", ".join(
        f"{b}: {found_by_height.get(b, 0)}/{t} = {100 * found_by_height.get(b, 0) / t:.1f}%"
        for b, t in sorted(total_by_height.items(), key=lambda x: int(x[0].split('-')[0]
                                                                     .rstrip('+')))))
    return "\n".join(lines)


def found(box, shown) -> bool:
    """Whether one of the people ``shown`` (``Person``) has a skeleton on ``box``."""
    from uniskel.engine.runtime.boxes import iou
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


def in_contact(box, others) -> bool:
    """Whether a labelled person's ``box`` overlaps one of the ``others`` (IoU >
    ``CROWD_IOU``): people in contact, hugging, passing in front of each other."""
    from uniskel.engine.runtime.boxes import iou

    return any(iou(box, o) > CROWD_IOU for o in others)


def own_skeletons(boxes, shown) -> int:
    """How many of ``boxes`` have a skeleton of their own: the people ``shown`` matched
    one to one to them (a pair counts as ``found`` counts it), the most pairs. ``found``
    alone lets one skeleton between two people count for both."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    if not boxes or not shown:
        return 0
    m = np.array([[float(found(b, [p])) for p in shown] for b in boxes])
    rows, cols = linear_sum_assignment(-m)
    return int(m[rows, cols].sum())


def video_clip(source: str, frames: int):
    """-> [(frames, fps, people to find on each frame (None: not counted))] for a video:
    the person detector's confident boxes of people taller than ``TALL``."""
    from uniskel.engine.bench import decode_all
    from uniskel.engine.runtime.detector import NanoDetDetector

    images, fps = decode_all(source, frames)
    reference = NanoDetDetector()
    want = [[b[:4] for b in reference.detect(f) if b[4] >= 0.45 and b[3] - b[1] > TALL]
            if i % 5 == 0 else None for i, f in enumerate(images)]
    reference.close()
    return [(images, fps, want, None, None)]


def labels_in(m, people, size):
    """Labelled ``people`` ([(bbox xywh, keypoints (17, 3))]) through the affine ``m`` ->
    (boxes to find: taller than TALL, 3/4 in view; each one's label for the misses by
    cause: {box, points (labelled points in view), others (the other labelled boxes in
    view)})."""
    from make_pan_clip import in_view

    s, dx, dy = float(m[0, 0]), float(m[0, 2]), float(m[1, 2])
    mapped = []
    for bbox, k in people:
        x, y, bw, bh = bbox
        b = (x * s + dx, y * s + dy, (x + bw) * s + dx, (y + bh) * s + dy)
        pts = k[k[:, 2] > 0, :2] * s + (dx, dy)
        n = int(((pts[:, 0] >= 0) & (pts[:, 0] < size[0]) & (pts[:, 1] >= 0)
                 & (pts[:, 1] < size[1])).sum())
        mapped.append((b, n, in_view(m, bbox, size, TALL) is not None,
                       in_view(m, bbox, size, 0, 1e-9) is not None))
    want, labels = [], []
    for j, (b, n, wanted, _) in enumerate(mapped):
        if wanted:
            want.append(b)
            labels.append({"id": j, "box": b, "points": n, "others": [
                o[0] for i, o in enumerate(mapped) if i != j and o[3]]})
    return want, labels


def _clip(box, size):
    return (max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(size[0])),
            min(box[3], float(size[1])))


def pan(image: np.ndarray, boxes, frames: int = PAN_FRAMES, keypoints=None):
    """``make_pan_clip``'s camera pan across ``image`` (RGB) -> (frames, each frame's
    labelled boxes mapped into it, those at least 3/4 in view and taller than TALL
    (None: not counted), each counted frame's labels (``labels_in``), every frame's
    truth for the id switches: [(index of the person, box clipped to the frame)])."""
    import cv2

    from make_pan_clip import SIZE, pan as pan_matrices

    if keypoints is None:
        keypoints = [np.zeros((17, 3), np.float32)] * len(boxes)
    out, want, labels, truth = [], [], [], []
    for i, m in enumerate(pan_matrices(image, frames)):
        out.append(cv2.warpAffine(image, m, SIZE, flags=cv2.INTER_LINEAR))
        w, lab = labels_in(m, list(zip(boxes, keypoints)), SIZE)
        truth.append([(x["id"], _clip(x["box"], SIZE)) for x in lab])
        want.append(None if i % 5 else w)
        labels.append(None if i % 5 else lab)
    return out, want, labels, truth


def _people(annotations: str):
    data = json.loads(Path(annotations).read_text())
    people: dict[int, list] = {}
    for a in data["annotations"]:
        if not a.get("iscrowd"):
            people.setdefault(a["image_id"], []).append(
                (a["bbox"], np.asarray(a["keypoints"], np.float32).reshape(-1, 3),
                 a.get("num_keypoints", 0)))
    return data, people


def coco_pans(annotations: str, images: str, min_keypoints: int):
    """-> [(frames, 30.0, people to find)], one pan per photo with two or more people
    labelled with at least ``min_keypoints`` points."""
    import cv2

    data, people = _people(annotations)
    clips = []
    for info in sorted(data["images"], key=lambda i: i["id"]):
        labelled = [p for p in people.get(info["id"], []) if p[2] >= min_keypoints]
        if len(labelled) < 2:
            continue
        image = cv2.cvtColor(cv2.imread(str(Path(images) / info["file_name"])),
                             cv2.COLOR_BGR2RGB)
        frames, want, labels, truth = pan(image, [p[0] for p in labelled],
                                          keypoints=[p[1] for p in labelled])
        clips.append((frames, 30.0, want, labels, truth))
    return clips


def anyone_in(annotations: str) -> dict:
    """{image id: every person box labelled in it, xyxy}: crowd regions and people
    without labelled points too (for the ghosts: people shown where nobody is labelled)."""
    anyone: dict[int, list] = {}
    for a in json.loads(Path(annotations).read_text())["annotations"]:
        if a.get("category_id", 1) == 1:
            x, y, w, h = a["bbox"]
            anyone.setdefault(a["image_id"], []).append((x, y, x + w, y + h))
    return anyone


def ghost(person, labelled) -> bool:
    """A shown ``person`` (``Person``) overlapping no ``labelled`` person box (xyxy) as
    ``found`` counts it (IoU >= 0.3, or their centres in each other's box): a skeleton
    where nobody is labelled."""
    from uniskel.engine.runtime.boxes import iou

    def inside(p, b):
        return b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3]

    s = person.box
    cs = ((s[0] + s[2]) / 2, (s[1] + s[3]) / 2)
    for b in labelled:
        c = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        if iou(b, s) >= 0.3 or (inside(c, s) and inside(cs, b)):
            return False
    return True


def coco_stills(annotations: str, images: str, min_keypoints: int):
    """-> [([photo], 30.0, [people to find], [labels], None, [every labelled box])]: each
    photo with a labelled person (at least ``min_keypoints`` points, taller than TALL) as
    a clip of one frame; the last, every person box labelled in it (``anyone_in``)."""
    import cv2

    data, people = _people(annotations)
    anyone = anyone_in(annotations)
    clips = []
    for info in sorted(data["images"], key=lambda i: i["id"]):
        labelled = [p[:2] for p in people.get(info["id"], []) if p[2] >= min_keypoints]
        image = None
        if labelled:
            image = cv2.cvtColor(cv2.imread(str(Path(images) / info["file_name"])),
                                 cv2.COLOR_BGR2RGB)
        if image is None:
            continue
        h, w = image.shape[:2]
        identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
        want, labels = labels_in(identity, labelled, (w, h))
        if want:
            clips.append(([image], 30.0, [want], [labels], None, [anyone[info["id"]]]))
    return clips


def crowd_pan():
    """-> [(frames, 30.0, people to find, labels)]: ``make_pan_clip.py``'s crowd pan as
    one clip (its scenes one after the other), its labelled people on every 5th frame."""
    import cv2

    from make_pan_clip import FPS, SIZE, scenes

    frames, want, labels, truth = [], [], [], []
    for k, image, matrices, people in scenes():
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for m in matrices:
            frames.append(cv2.warpAffine(rgb, m, SIZE, flags=cv2.INTER_LINEAR))
            w, lab = labels_in(m, [(p["bbox"], p["keypoints"]) for p in people], SIZE)
            truth.append([(f"{k}:{x['id']}", _clip(x["box"], SIZE)) for x in lab])
            counted = (len(frames) - 1) % 5 == 0
            want.append(w if counted else None)
            labels.append(lab if counted else None)
    return [(frames, float(FPS), want, labels, truth)]


def main() -> int:
    from uniskel.engine import backends
    from uniskel.engine.bench import sum_truth, truth_switches
    from uniskel.engine.runtime.pipeline import LIVE_FPS, Pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", help="a video (default: --coco pans)")
    ap.add_argument("--coco", default="runs/pooled_val/ann.json")
    ap.add_argument("--images", default="runs/pooled_val/images")
    ap.add_argument("--min-keypoints", type=int, default=8)
    ap.add_argument("--max-people", type=int, default=10)
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--set", choices=("pans", "stills", "crowd"), default="pans",
                    help="with no video: the people to find (default pans)")
    ap.add_argument("--redetect-every", type=int, default=15,
                    help="frames between the pipeline's detector runs (default 15, as "
                         "shipped; 1: every frame, to tell the detector's timing from "
                         "the rest)")
    ap.add_argument("--verbose", action="store_true", help="the people missed, per frame")
    ap.add_argument("--live", action="store_true",
                    help="as the app: hold 30 fps, frames fed at the clip's pace")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the clips this many times over and pool the counts (live, "
                         "who is found depends on which frames the detector ran on: a "
                         "run's share moves by a few points from run to run)")
    a = ap.parse_args()
    if a.source:
        clips = video_clip(a.source, a.frames)
    elif a.set == "stills":
        clips = coco_stills(a.coco, a.images, a.min_keypoints)
    elif a.set == "crowd":
        clips = crowd_pan()
    else:
        clips = coco_pans(a.coco, a.images, a.min_keypoints)
    pipe = Pipeline(backends.create(a.backend, a.model), smoothing=False,
                    max_people=a.max_people, keep_frame=False,
                    target_fps=LIVE_FPS if a.live else None,
                    redetect_every=a.redetect_every)
    reference = None
    if clips and clips[0][3] is not None:  # labelled people: the misses by cause
        from uniskel.engine.runtime.detector import NanoDetDetector

        reference = NanoDetDetector(size=416)  # as the pipeline's, everyone mode
    misses, by_height, found_by_height = [], {}, {}
    hits = total = top_hits = top_total = 0
    shown = []
    switches = []
    ghosts = ghost_total = 0
    contact = contact_found = contact_own = 0
    runs = [[0, 0] for _ in range(max(1, a.repeat))]  # (found, to find) per run
    for c, (frames, fps, wanted, labels, truth, *rest) in enumerate(clips * len(runs)):
        run = runs[c // len(clips)]
        pipe.reset()
        start = time.monotonic()
        seen, pending = [], []
        for i, (frame, want) in enumerate(zip(frames, wanted)):
            if a.live:  # the next frame comes 1 / fps after the last, not before
                time.sleep(max(start + i / fps - time.monotonic(), 0.0))
            people = pipe.process(frame, i / fps).people
            shown.append(len(people))
            seen.append([(p.track_id, p.box) for p in people])
            if i == len(frames) - 1 and truth is not None:
                switches.append(truth_switches(dict(enumerate(truth)), seen))
            if want is None:
                continue
            if rest:  # every labelled person: the ghosts
                ghost_total += len(people)
                ghosts += sum(ghost(p, rest[0][i]) for p in people)
            here = sum(found(b, people) for b in want)
            total += len(want)
            hits += here
            run[0] += here
            run[1] += len(want)
            if reference is not None:
                missed = []
                for lab in labels[i]:
                    bucket = height_bucket(lab["box"])
                    by_height[bucket] = by_height.get(bucket, 0) + 1
                    if found(lab["box"], people):
                        found_by_height[bucket] = found_by_height.get(bucket, 0) + 1
                    else:
                        missed.append(lab)
                close = [lab["box"] for lab in labels[i]
                         if in_contact(lab["box"], lab["others"])]
                contact += len(close)
                contact_found += sum(found(b, people) for b in close)
                contact_own += own_skeletons(close, people)
                if missed:  # looked at after the clip: not in a --live run's time
                    pending.append((i, missed))
            tallest = sorted(want, key=lambda b: b[1] - b[3])[:a.max_people]
            top_total += len(tallest)
            top_hits += sum(found(b, people) for b in tallest)
            if a.verbose:
                missed = [tuple(int(v) for v in b[:4]) for b in tallest
                          if not found(b, people)]
                boxes = [tuple(int(v) for v in p.box) for p in people]
                print(f"clip {c} frame {i}: {len(people)} shown {boxes}, of the tallest "
                      f"missed {missed}")
        for i, missed in pending:  # the misses by cause
            kept = reference.detect(frames[i])
            candidates = reference.candidates(frames[i], PROPOSED)
            h, w = frames[i].shape[:2]
            for lab in missed:
                misses.append((condition(lab["box"], (w, h), lab["points"], lab["others"]),
                               detector_stage(_clip(lab["box"], (w, h)), candidates, kept,
                                              reference.min_score)))
    print(f"clearly visible people found: {hits}/{total} = {100 * hits / max(total, 1):.1f}% "
          f"({len(clips)} clip(s), every 5th frame); the {a.max_people} tallest found: "
          f"{top_hits}/{top_total} = {100 * top_hits / max(top_total, 1):.1f}%; people shown "
          f"per frame {np.mean(shown):.2f}; cap {a.max_people}{'; live' if a.live else ''}")
    if len(runs) > 1:
        print(f"found per run ({len(runs)} runs, pooled above): " + ", ".join(
            f"{100 * h / max(t, 1):.1f}%" for h, t in runs))
    if any(len(clip) > 5 for clip in clips):
        print(f"ghosts (people shown overlapping no labelled person, crowd regions and "
              f"people without points included): {ghosts} of {ghost_total} shown")
    if reference is not None:
        name = (a.set + (", live" if a.live else "")
                + (f", detector every {a.redetect_every} frames"
                   if a.redetect_every != 15 else ""))
        print(cause_table(name, misses, total, found_by_height, by_height))
        print(f"people in contact (another labelled box at IoU > {CROWD_IOU}): "
              f"{contact_own}/{contact} = {100 * contact_own / max(contact, 1):.1f}% with "
              f"a skeleton of their own (shown people matched one to one); "
              f"{contact_found}/{contact} found as above")
        reference.close()
    if switches:
        t = sum_truth(switches)
        print(f"id switches against the labelled people (every frame): "
              f"{t['switches_per_100']:.2f} per 100 frames ({t['switches']} in {t['frames']} "
              f"frames, {t['to_another_persons_id']} onto another person's id); labelled "
              f"boxes matched (IoU >= 0.5) {100 * t['coverage']:.1f}%; track ids per person "
              f"{t['ids_per_person']:.2f}")
    pipe.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
