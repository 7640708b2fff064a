"""``uniskel bench``: frames per second of the full frame pipeline on a video, per stage.

All frames are decoded first (decoding is not timed), then the pipeline runs over them
``--repeat`` times (a short clip is looped; the pipeline is reset at each pass so every
pass is the same work: acquisition on its first frame, tracking after). A few untimed
warm-up frames come first. Reported: ``fps`` (frames / summed pipeline time),
``latency_ms`` p50/p95 per frame, ``stages_ms`` (median per stage), and with
``--model-time`` the model alone on one crop (``model_ms_per_crop``, median).
``--compare mediapipe`` runs the same for a second backend and adds ``speedup``
(this backend's fps / the other's).

Tracking, for ``--max-people`` above 1: ``people_per_frame`` (mean people shown per
frame) and ``id_switches_per_100`` (per 100 frames, how often a person in one frame is
the same person in the next, box IoU at least 0.5, under another id; no ground truth
needed, so it measures identity stability, not correctness). ``--target-fps`` (30 by
default, as in the app; 0 for none) shares many people out over frames
(``engine.runtime.pipeline``): ``inferred_per_frame`` is how many of the people shown were
inferred on their frame, the rest carried over from an earlier one; ``person_refresh_hz``
how many times a second each person shown gets a pose of their own frame (fps x
inferred / people).

Against constructed truth (``--truth FILE``: JSON lines ``{"frame": i, "people": [{"id":
..., "box": [x0, y0, x1, y1]}]}``, as ``scripts/make_crossing_clip.py`` and
``scripts/make_pan_clip.py`` write; a person less than half in sight, ``"visible"``
under 0.5, is not looked for on that frame): on each frame the people shown are matched
one to one to the truth boxes (box IoU >= 0.5, Hungarian on IoU); ``truth`` reports
``switches_per_100`` (a truth person matched under a track id other than the one they
were last matched under, after a gap too; ``to_another_persons_id``: of those, the
switches onto a track id matched to another truth person before: an identity swap, not a
fresh id; ``switch_events``: [frame, truth id, track id before, after] of each, in the
first pass), ``coverage`` (the share of truth boxes matched) and ``ids_per_person``
(distinct track ids each truth person was matched under).
"""
from __future__ import annotations



def decode_all(source_spec, max_frames: int, on_open=None):
    """The source's first ``max_frames`` frames and its frame rate; ``on_open(source)`` is
    called once it is open (the command line passes its warning printer)."""
    from uniskel.engine.media import playback
    from uniskel.engine.media.sources import open_source

    frames = []
    with open_source(source_spec) as src:
        if on_open is not None:
            on_open(src)
        fps = src.fps
        for frame, _, _ in playback.play(src):
            frames.append(frame)
            if len(frames) >= max_frames:
                break
    return frames, fps


def _percentile(values, q):
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def model_time(backend, frames, iterations: int = 50) -> float:
    """Median ms of ``backend.infer`` on one real crop (the centre of the first frame)."""
    import time

    import numpy as np

    from uniskel.engine.runtime import crop as cropmod

    h, w = frames[0].shape[:2]
    size = tuple(backend.input_size)
    c, s = cropmod.box_to_center_scale((w * 0.25, 0, w * 0.75, h), size)
    one = cropmod.crop(frames[0], cropmod.warp_matrix(c, s, size), size)[None]
    for _ in range(3):
        backend.infer(one)
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        backend.infer(one)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def id_switches(frames_people) -> int:
    """Across consecutive frames, people whose box overlaps (IoU >= 0.5) a person of the
    next frame that carries another id, and no person there with their own id."""
    from uniskel.engine.runtime.boxes import iou

    switches = 0
    for now, nxt in zip(frames_people, frames_people[1:]):
        ids_next = {tid for tid, _ in nxt}
        for tid, box in now:
            if tid in ids_next:
                continue
            if any(iou(box, b) >= 0.5 for t, b in nxt if t != tid):
                switches += 1
    return switches


#: a truth person with less than this share of them in sight (their row's ``visible``,
#: 1 when absent) is not looked for on that frame: hidden behind someone, any box on
#: them is the other person's
MIN_VISIBLE = 0.5


def read_truth(path, min_visible: float = MIN_VISIBLE) -> dict[int, list[tuple]]:
    """A truth file (JSON lines, one a frame) -> {frame: [(id, box), ...]}, leaving out
    those less than ``min_visible`` in sight."""
    import json
    from pathlib import Path

    from uniskel.engine.errors import UniskelError

    out: dict[int, list[tuple]] = {}
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UniskelError(f"{path}: cannot read the truth file ({e})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[int(row["frame"])] = [(p["id"], tuple(float(v) for v in p["box"][:4]))
                                      for p in row["people"]
                                      if float(p.get("visible", 1.0)) >= min_visible]
        except (ValueError, KeyError, TypeError) as e:
            raise UniskelError(f"{path}: line {n} is not a truth row ({e})") from None
    return out


def match_truth(truth_people, shown, min_iou: float = 0.5) -> dict:
    """One frame: truth [(id, box)] and shown [(track_id, box)] -> {truth id: track id}
    for pairs of box IoU >= ``min_iou``, one to one, the assignment of most summed IoU."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from uniskel.engine.runtime.boxes import iou

    if not truth_people or not shown:
        return {}
    m = np.array([[iou(tb, sb) for _, sb in shown] for _, tb in truth_people])
    rows, cols = linear_sum_assignment(-m)
    return {truth_people[r][0]: shown[c][0] for r, c in zip(rows, cols)
            if m[r, c] >= min_iou}


def truth_switches(truth: dict, frames_people, min_iou: float = 0.5) -> dict:
    """``frames_people``: per frame the people shown, [(track_id, box)]; ``truth``:
    ``read_truth``'s dict (frames without a row have no one to find) -> {frames,
    truth_boxes, matched, coverage, switches, switches_per_100, ids_per_person}."""
    last: dict = {}
    ids: dict = {}
    owners: dict = {}  # track id -> the truth people it was matched to
    switches = swaps = boxes = matched = 0
    events = []
    for i, shown in enumerate(frames_people):
        people = truth.get(i, [])
        boxes += len(people)
        pairs = match_truth(people, shown, min_iou)
        matched += len(pairs)
        for tid, track in pairs.items():
            if tid in last and last[tid] != track:
                switches += 1
                swaps += bool(owners.get(track, set()) - {tid})
                events.append([i, tid, last[tid], track])
            last[tid] = track
            ids.setdefault(tid, set()).add(track)
            owners.setdefault(track, set()).add(tid)
    n = len(frames_people)
    return {"frames": n, "truth_boxes": boxes, "matched": matched,
            "coverage": round(matched / boxes, 4) if boxes else 0.0,
            "switches": switches, "to_another_persons_id": swaps,
            "switches_per_100": round(100.0 * switches / max(1, n), 3),
            "ids_per_person": round(sum(len(v) for v in ids.values()) / len(ids), 3)
            if ids else 0.0,
            "people_matched": len(ids), "ids_matched": sum(len(v) for v in ids.values()),
            "switch_events": events}


def sum_truth(parts: list[dict]) -> dict:
    frames = sum(p["frames"] for p in parts)
    boxes = sum(p["truth_boxes"] for p in parts)
    matched = sum(p["matched"] for p in parts)
    switches = sum(p["switches"] for p in parts)
    return {"frames": frames, "truth_boxes": boxes, "matched": matched,
            "coverage": round(matched / boxes, 4) if boxes else 0.0, "switches": switches,
            "to_another_persons_id": sum(p["to_another_persons_id"] for p in parts),
            "switches_per_100": round(100.0 * switches / max(1, frames), 3),
            # over the truth people matched at least once, in every part
            "ids_per_person": round(sum(p["ids_matched"] for p in parts)
                                    / max(1, sum(p["people_matched"] for p in parts)), 3),
            # [frame, truth id, track id before, after] of each switch, the first pass's
            "switch_events": parts[0]["switch_events"]}


def measure(backend, frames, fps: float, repeat: int = 3, warmup: int = 5, max_people: int = 1,
            smoothing: bool = True, with_model_time: bool = False,
            detector: str = "auto", target_fps: float | None = None,
            truth: dict | None = None) -> dict:
    import time

    import numpy as np

    from uniskel.engine.runtime.pipeline import STAGES, Pipeline

    pipeline = Pipeline(backend, smoothing=smoothing, max_people=max_people, keep_frame=False,
                        detector=detector, target_fps=target_fps)
    switches = 0
    against_truth = []
    try:
        backend.warmup()
        for i in range(min(warmup, len(frames))):
            pipeline.process(frames[i], i / fps)
        latencies, stages, people, inferred = [], {s: [] for s in STAGES}, [], []

        def stage_times(result) -> None:  # each frame's stages, as the pipeline ends it
            for s in STAGES:
                stages[s].append(result.stages_ms.get(s, 0.0))

        pipeline.add_callback("on_frame", stage_times)
        for _ in range(max(1, repeat)):
            pipeline.reset()
            seen = []
            for i, frame in enumerate(frames):
                t = time.perf_counter()
                result = pipeline.process(frame, i / fps)
                latencies.append((time.perf_counter() - t) * 1e3)
                people.append(len(result.people))
                inferred.append(sum(p.refreshed for p in result.people))
                seen.append([(p.track_id, p.box) for p in result.people])
            switches += id_switches(seen)
            if truth is not None:
                against_truth.append(truth_switches(truth, seen))
    finally:
        pipeline.close()
    total_s = sum(latencies) / 1e3
    out = {
        "backend": backend.name,
        "description": backend.description or backend.name,
        "frames": len(latencies),
        "fps": round(len(latencies) / total_s, 2) if total_s > 0 else 0.0,
        "latency_ms": {"p50": round(_percentile(latencies, 50), 3),
                       "p95": round(_percentile(latencies, 95), 3)},
        "stages_ms": {s: round(float(np.median(v)), 3) for s, v in stages.items()},
        "people_per_frame": round(float(np.mean(people)), 3) if people else 0.0,
        "id_switches_per_100": round(100.0 * switches / max(1, len(latencies)), 3),
        "inferred_per_frame": round(float(np.mean(inferred)), 3) if inferred else 0.0,
        # how often each person shown gets a pose of their own frame, per second
        "person_refresh_hz": (round(len(latencies) / total_s * sum(inferred) / sum(people), 2)
                              if total_s > 0 and sum(people) else 0.0),
        "target_fps": target_fps,
        "max_people": max_people,
        "detector": getattr(pipeline.detector, "name", None),
    }
    if truth is not None:
        out["truth"] = sum_truth(against_truth)
    if with_model_time:
        out["model_ms_per_crop"] = round(model_time(backend, frames), 3)
    return out
