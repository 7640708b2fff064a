"""``uniskel bench``: frames per second of the full frame pipeline on a video, per stage
(what is measured and how: uniskel.engine.bench)."""
from __future__ import annotations

import argparse
import sys

from uniskel.commands import options
from uniskel.engine import bench
from uniskel.engine.backends import CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.source(parser, "video file (or image) to run on")
    options.backend(parser, model_help="model file for --backend (.pt, or .onnx for onnx)")
    parser.add_argument("--compare", choices=CHOICES,
                        help="a second backend to measure the same way, e.g. mediapipe")
    parser.add_argument("--compare-model", help="model file for --compare")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the clip (default 3)")
    parser.add_argument("--max-frames", type=int, default=300,
                        help="frames decoded from the source (default 300)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames first (default 5)")
    options.people(parser, default=1, detector=True)
    options.target_fps(parser)
    parser.add_argument("--no-smooth", action="store_true", help="skip the smoothing stage")
    parser.add_argument("--model-time", action="store_true",
                        help="also time the model alone on one crop (model_ms_per_crop)")
    parser.add_argument("--truth", help="the clip's truth (JSON lines: frame, people "
                        "[{id, box}]): also count id switches against it")
    options.json_out(parser)


def _line(r: dict) -> str:
    st = "  ".join(f"{k} {v:.2f}" for k, v in r["stages_ms"].items())
    extra = f"  model/crop {r['model_ms_per_crop']:.2f} ms" if "model_ms_per_crop" in r else ""
    return (f"{r['description']}\n  {r['frames']} frames  {r['fps']:.1f} fps  "
            f"p50 {r['latency_ms']['p50']:.2f} ms  p95 {r['latency_ms']['p95']:.2f} ms{extra}\n"
            f"  people/frame {r['people_per_frame']:.2f} (max {r['max_people']}, detector "
            f"{r['detector']})  id switches/100 frames {r['id_switches_per_100']:.2f}\n"
            f"  inferred/frame {r['inferred_per_frame']:.2f}, each person "
            f"{r['person_refresh_hz']:.1f} times a second (target "
            f"{r['target_fps'] or 'none: everyone, every frame'})\n"
            f"  stages (median ms): {st}" + _truth_line(r.get("truth")))


def _truth_line(t) -> str:
    if not t:
        return ""
    return (f"\n  against the truth: id switches/100 frames {t['switches_per_100']:.2f} "
            f"({t['switches']} in {t['frames']} frames, {t['to_another_persons_id']} onto "
            f"another person's id), truth people matched "
            f"{100 * t['coverage']:.1f}% ({t['matched']} of {t['truth_boxes']} boxes), "
            f"track ids per person {t['ids_per_person']:.2f}")


def run(args) -> int:
    import os
    import platform

    from uniskel.engine import backends
    from uniskel.engine.errors import UniskelError

    if args.repeat < 1:
        raise UniskelError("--repeat must be at least 1")
    from uniskel.engine.media import safefiles

    safefiles.check_output(args.json_out, "results", {"source": args.source,
                                                      "model": args.model,
                                                      "truth": args.truth})
    if args.target_fps < 0:
        raise UniskelError("--target-fps must be 0 (everyone on every frame) or more")
    truth = bench.read_truth(args.truth) if args.truth else None
    frames, fps = bench.decode_all(args.source, max(1, args.max_frames),
                                   on_open=lambda src: options.say_warnings(src, "bench"))
    h, w = frames[0].shape[:2]
    opts = dict(repeat=args.repeat, warmup=args.warmup, max_people=args.max_people,
                smoothing=not args.no_smooth, with_model_time=args.model_time,
                detector=args.detector, target_fps=args.target_fps or None, truth=truth)

    def one(name, model):
        backend = backends.create(name, model)
        try:
            return bench.measure(backend, frames, fps, **opts)
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
        from uniskel.engine.media.records import write_json

        write_json(args.json_out, result, "results")
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0
