"""``uniskel soak``: the live pipeline on a looping video for N minutes; memory and frame
rate must hold (what is measured: uniskel.engine.soak)."""
from __future__ import annotations

import argparse
import sys

from uniskel.commands import options
from uniskel.engine import soak


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.source(parser, "video (or image) to loop")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    options.backend(parser, model_help="model file for --backend (.pt, or .onnx for onnx)")
    parser.add_argument("--rate", type=options.number_at_least(0), default=None,
                        help="frames offered per second (default: the video's own rate; "
                             "0: as fast as it decodes)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds left out of the baseline (default 15, at most 10%% "
                             "of the run)")
    options.people(parser, default=1)
    parser.add_argument("--max-growth-mb", type=float, default=50.0,
                        help="fail if memory grows more than this (default 50)")
    parser.add_argument("--max-fps-drop", type=float, default=0.25,
                        help="fail if last-window fps is this fraction below the first "
                             "(default 0.25)")
    options.json_out(parser, default="runs/soak.json")


def _line(r: dict) -> str:
    m, f = r["rss_mb"], r["fps"]
    return (f"{r['description']}, {r['seconds']:.0f} s on {r['source']}\n"
            f"  frames: {r['frames_submitted']} offered, {r['frames_processed']} processed, "
            f"{r['frames_dropped']} dropped (newest frame wins), {r['errors']} errors\n"
            f"  memory (RSS MB): launch {m['launch']}, after warm-up {m['start']}, "
            f"end {m['end']}, peak {m['peak']}, growth {m['growth']}\n"
            f"  fps: first {f['window_s']:.0f} s {f['first']:.1f}, last {f['window_s']:.0f} s "
            f"{f['last']:.1f}, overall {f['overall']:.1f}; latency p50 "
            f"{r['latency_ms']['p50']} ms, p95 {r['latency_ms']['p95']} ms\n"
            f"  threads: {r['threads']['start']} -> {r['threads']['end']}")


def run(args) -> int:
    from uniskel.engine import backends
    from uniskel.engine.errors import UniskelError

    if args.minutes <= 0:
        raise UniskelError("--minutes must be more than 0")
    from uniskel.engine.media import safefiles

    safefiles.check_output(args.json_out, "report", {"source": args.source,
                                                     "model": args.model})
    seconds = args.minutes * 60.0

    def progress(now, stats):
        print(f"  {now:6.0f} s  {stats.processed} processed, {stats.dropped} dropped, "
              f"{stats.errors} errors, {stats.fps:.1f} fps, RSS {soak.round1(soak.rss_mb())} MB",
              file=sys.stderr, flush=True)

    from uniskel.engine.media.sources import open_source

    with open_source(args.source) as src:  # a bad source is said before a model loads
        options.say_warnings(src, "soak")
    backend = backends.create(args.backend, args.model)
    try:
        report = soak.soak(args.source, backend, seconds, rate=args.rate, warmup_s=args.warmup,
                      max_people=args.max_people, progress=progress)
    finally:
        backend.close()
    problems = soak.verdict(report, args.max_growth_mb, args.max_fps_drop)
    report["limits"] = {"max_growth_mb": args.max_growth_mb, "max_fps_drop": args.max_fps_drop}
    report["passed"], report["problems"] = not problems, problems
    print(_line(report))
    if args.json_out:
        from uniskel.engine.media.records import write_json

        write_json(args.json_out, report, "report")
        print(f"  report: {args.json_out}", file=sys.stderr)
    if report["source_error"]:
        print(f"uniskel soak: source failed: {report['source_error']}", file=sys.stderr)
    for p in problems:
        print(f"uniskel soak: FAIL: {p}", file=sys.stderr)
    if not problems:
        print("uniskel soak: passed")
    return 1 if problems or report["source_error"] else 0
