"""``uniskel infer``: run the pipeline over a video or camera; write an annotated MP4
and/or keypoint records (.jsonl / .csv).

The writing is engine.media.outputs, the same as the window's recorder: the same drawing, the
same records, the same disk-space guard and error lines. The MP4 and the records are
finalised whatever happens (a source that breaks off mid-way, a full disk, Ctrl+C,
SIGTERM, SIGHUP): everything written up to that frame stays playable/readable, and the
error is reported afterwards (an interruption exits 130 / 143 / 129). A run refused
before its first frame leaves earlier files at those paths as they were.
"""
from __future__ import annotations

import argparse
import sys

from uniskel.commands import options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from uniskel.engine import skeleton

    options.source(parser, "video file, image, or camera:N")
    parser.add_argument("--out", help="annotated video to write (.mp4)")
    parser.add_argument("--keypoints", help="keypoint records to write (.jsonl or .csv)")
    options.backend(parser)
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    from uniskel.engine.runtime.pipeline import EVERYONE

    options.people(parser, default=EVERYONE)
    parser.add_argument("--no-smooth", action="store_true", help="turn off One Euro smoothing")
    parser.add_argument("--subset", default="all", choices=sorted(skeleton.SUBSETS),
                        help="keypoints to draw (default all 21)")
    parser.add_argument("--threshold", type=options.fraction(), default=skeleton.DRAW_THRESHOLD,
                        help=f"draw points with confidence at least this (default "
                             f"{skeleton.DRAW_THRESHOLD:g})")
    parser.add_argument("--boxes", action="store_true", help="also draw boxes and track ids")


def run(args) -> int:
    from tqdm import tqdm

    from uniskel.engine import backends
    from uniskel.engine.media import outputs
    from uniskel.engine.media.draw import Style
    from uniskel.engine.errors import UniskelError
    from uniskel.engine.runtime.pipeline import Pipeline
    from uniskel.engine.media.playback import play
    from uniskel.engine.media.sources import open_source

    inputs = {"source": args.source, "model": args.model}
    outputs.check_paths(args.out, args.keypoints, inputs)
    if args.max_frames is not None and args.max_frames < 1:
        raise UniskelError("--max-frames must be at least 1")
    source = open_source(args.source)
    options.say_warnings(source, "infer")
    backend = pipeline = out = None
    failure = stopped = None
    try:
        backend = backends.create(args.backend, args.model)
        pipeline = Pipeline(backend, smoothing=not args.no_smooth, max_people=args.max_people)
        out = outputs.Outputs(args.out, args.keypoints, fps=source.fps, size_hw=source.size,
                              style=Style(subset=args.subset, threshold=args.threshold,
                                          boxes=args.boxes),
                              source=str(args.source),
                              backend=backend.description or backend.name, inputs=inputs)
        total = source.frame_count
        if args.max_frames:
            total = min(total, args.max_frames) if total else args.max_frames
        bar = tqdm(total=total, unit="frame", desc=f"infer [{backend.name}]",
                   disable=None, file=sys.stderr)
        try:
            for frame, ts, _ in play(source):
                result = pipeline.process(frame, ts)
                out.write(frame, result)
                bar.update(1)
                bar.set_postfix_str(f"{len(result.people)} people, {result.total_ms:.0f} ms")
                if args.max_frames and out.frames >= args.max_frames:
                    break
        except (UniskelError, OSError) as exc:  # the source broke off, or an output failed
            failure = exc                       # (disk full, drive removed): keep the rest
        except KeyboardInterrupt as exc:  # Ctrl+C, SIGTERM, SIGHUP: finalise, then say so
            stopped = exc
        finally:
            bar.close()
    finally:
        if out is not None:
            closing = out.close()
            failure = failure or closing
        if pipeline is not None:
            pipeline.close()
        if backend is not None:
            backend.close()
        source.close()
    if stopped is not None:
        stopped.kept = out.kept()
        raise stopped
    if failure is not None:
        raise UniskelError(out.summary_line(failure))
    if not out.frames:
        raise UniskelError(f"{args.source}: no frames to write ({out.kept()})")
    print(f"{out.frames} frames -> {', '.join(out.paths)}")
    return 0
