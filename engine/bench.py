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
needed, so it measures identity stability, not correctness).
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from uniskel.engine.backends import CHOICES

    parser.add_argument("--source", required=True, help="video file (or image) to run on")
    parser.add_argument("--backend", default="auto", choices=CHOICES,
                        help="inference backend (default: auto, the fastest that runs here)")
    parser.add_argument("--model", help="model file for --backend (.pt, or .onnx for onnx)")
    parser.add_argument("--compare", choices=CHOICES,
                        help="a second backend to measure the same way, e.g. mediapipe")
    parser.add_argument("--compare-model", help="model file for --compare")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the clip (default 3)")
    parser.add_argument("--max-frames", type=int, default=300,
                        help="frames decoded from the source (default 300)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames first (default 5)")
    parser.add_argument("--max-people", type=int, default=1,
                        help="people tracked (default 1: the one-person mode)")
    parser.add_argument("--detector", default="auto",
                        help="person detector: auto, nanodet, blazepose or search (default auto)")
    parser.add_argument("--no-smooth", action="store_true", help="skip the smoothing stage")
    parser.add_argument("--model-time", action="store_true",
                        help="also time the model alone on one crop (model_ms_per_crop)")
    parser.add_argument("--json", dest="json_out", help="write the results here as JSON")


def decode_all(source_spec, max_frames: int):
    from uniskel.engine.sources import open_source

    frames = []
    with open_source(source_spec) as src:
        fps = src.fps
        for frame, _, _ in src:
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

    from uniskel.engine import crop as cropmod

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
    from uniskel.engine.detector import iou

    switches = 0
    for now, nxt in zip(frames_people, frames_people[1:]):
        ids_next = {tid for tid, _ in nxt}
        for tid, box in now:
            if tid in ids_next:
                continue
            if any(iou(box, b) >= 0.5 for t, b in nxt if t != tid):
                switches += 1
    return switches


def measure(backend, frames, fps: float, repeat: int = 3, warmup: int = 5, max_people: int = 1,
            smoothing: bool = True, with_model_time: bool = False,
            detector: str = "auto") -> dict:
    import time

    import numpy as np

    from uniskel.engine.pipeline import STAGES, Pipeline

    pipeline = Pipeline(backend, smoothing=smoothing, max_people=max_people, keep_frame=False,
                        detector=detector)
    switches = 0
    try:
        backend.warmup()
        for i in range(min(warmup, len(frames))):
            pipeline.process(frames[i], i / fps)
        latencies, stages, people = [], {s: [] for s in STAGES}, []
        for _ in range(max(1, repeat)):
            pipeline.reset()
            seen = []
            for i, frame in enumerate(frames):
                t = time.perf_counter()
                result = pipeline.process(frame, i / fps)
                latencies.append((time.perf_counter() - t) * 1e3)
                for s in STAGES:
                    stages[s].append(result.stages_ms.get(s, 0.0))
                people.append(len(result.people))
                seen.append([(p.track_id, p.box) for p in result.people])
            switches += id_switches(seen)
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
        "max_people": max_people,
        "detector": getattr(pipeline.detector, "name", None),
    }
    if with_model_time:
        out["model_ms_per_crop"] = round(model_time(backend, frames), 3)
    return out


def _line(r: dict) -> str:
    st = "  ".join(f"{k} {v:.2f}" for k, v in r["stages_ms"].items())
    extra = f"  model/crop {r['model_ms_per_crop']:.2f} ms" if "model_ms_per_crop" in r else ""
    return (f"{r['description']}\n  {r['frames']} frames  {r['fps']:.1f} fps  "
            f"p50 {r['latency_ms']['p50']:.2f} ms  p95 {r['latency_ms']['p95']:.2f} ms{extra}\n"
            f"  people/frame {r['people_per_frame']:.2f} (max {r['max_people']}, detector "
            f"{r['detector']})  id switches/100 frames {r['id_switches_per_100']:.2f}\n"
            f"  stages (median ms): {st}")


def run(args) -> int:
    import os
    import platform

    from uniskel.engine import backends
    from uniskel.engine.errors import UniskelError

    if args.repeat < 1:
        raise UniskelError("--repeat must be at least 1")
    frames, fps = decode_all(args.source, max(1, args.max_frames))
    h, w = frames[0].shape[:2]
    opts = dict(repeat=args.repeat, warmup=args.warmup, max_people=args.max_people,
                smoothing=not args.no_smooth, with_model_time=args.model_time,
                detector=args.detector)

    def one(name, model):
        backend = backends.create(name, model)
        try:
            return measure(backend, frames, fps, **opts)
        finally:
            backend.close()

    result = one(args.backend, args.model)
    result.update(source=str(args.source), size=[h, w], repeat=args.repeat,
                  machine={"platform": platform.platform(), "cpus": os.cpu_count(),
                           "python": platform.python_version()})
    print(_line(result))
    if args.compare:
        other = one(args.compare, args.compare_model)
        result["compare"] = other
        result["speedup"] = round(result["fps"] / other["fps"], 3) if other["fps"] else None
        print(_line(other))
        print(f"speedup: {result['speedup']}x ({result['backend']} vs {other['backend']})")
    if args.json_out:
        from uniskel.engine.records import write_json

        write_json(args.json_out, result, "results")
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """``python -m engine.bench``: the same as ``uniskel bench``."""
    from uniskel.engine.errors import run_cli

    return run_cli("uniskel bench", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
