"""``uniskel infer``: run the pipeline over a video or camera; write an annotated MP4
and/or keypoint records (.jsonl / .csv).

The MP4 and the records are finalised whatever happens (a source that breaks off
mid-way, Ctrl+C): everything written up to that frame stays playable/readable, and
the error is reported afterwards.
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
    options.people(parser, default=6)
    parser.add_argument("--no-smooth", action="store_true", help="turn off One Euro smoothing")
    parser.add_argument("--subset", default="all", choices=sorted(skeleton.SUBSETS),
                        help="keypoints to draw (default all 21)")
    parser.add_argument("--threshold", type=float, default=0.2,
                        help="draw points with confidence at least this (default 0.2)")
    parser.add_argument("--boxes", action="store_true", help="also draw boxes and track ids")


def run(args) -> int:
    import errno
    import shutil
    from pathlib import Path

    import cv2
    from tqdm import tqdm

    from uniskel.engine import backends
    from uniskel.engine.draw import draw_skeleton
    from uniskel.engine.infer import MIN_FREE_BYTES, open_writer
    from uniskel.engine.errors import UniskelError
    from uniskel.engine.pipeline import Pipeline
    from uniskel.engine.records import KeypointWriter
    from uniskel.engine.sources import open_source

    if not args.out and not args.keypoints:
        raise UniskelError("nothing to write: pass --out annotated.mp4 and/or "
                           "--keypoints out.jsonl")
    if args.max_frames is not None and args.max_frames < 1:
        raise UniskelError("--max-frames must be at least 1")
    source = open_source(args.source)
    backend = pipeline = writer = records = None
    frames, failure = 0, None
    try:
        backend = backends.create(args.backend, args.model)
        pipeline = Pipeline(backend, smoothing=not args.no_smooth, max_people=args.max_people)
        if args.keypoints:
            records = KeypointWriter(args.keypoints, source=str(args.source),
                                     size=list(source.size), fps=source.fps,
                                     backend=backend.description or backend.name)
        if args.out:
            writer = open_writer(args.out, source.fps, source.size)
        total = source.frame_count
        if args.max_frames:
            total = min(total, args.max_frames) if total else args.max_frames
        folders = {Path(p).resolve().parent for p in (args.out, args.keypoints) if p}
        bar = tqdm(total=total, unit="frame", desc=f"infer [{backend.name}]",
                   disable=None, file=sys.stderr)
        try:
            for frame, ts, _ in source:
                for folder in folders:
                    if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
                        raise OSError(errno.ENOSPC, f"disk almost full (under "
                                                    f"{MIN_FREE_BYTES >> 20} MB of space left "
                                                    f"in {folder}); stopped so that what was "
                                                    f"written stays playable")
                result = pipeline.process(frame, ts)
                if records is not None:
                    records.write(result)
                if writer is not None:
                    canvas = frame.copy()  # the source may hand out the same array again
                    draw_skeleton(canvas, result.people, subset=args.subset,
                                  threshold=args.threshold, boxes=args.boxes)
                    writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
                frames += 1
                bar.update(1)
                bar.set_postfix_str(f"{len(result.people)} people, {result.total_ms:.0f} ms")
                if args.max_frames and frames >= args.max_frames:
                    break
        except UniskelError as exc:  # the source broke off: keep what we have
            failure = exc
        except OSError as exc:  # an output failed (disk full, drive removed): keep the rest
            failure = UniskelError(f"cannot write output: {exc.strerror or exc}")
        except KeyboardInterrupt:
            print("interrupted; finalising outputs", file=sys.stderr)
        finally:
            bar.close()
    finally:
        if writer is not None:
            writer.release()
        if records is not None:
            try:
                records.close()
            except OSError as exc:
                failure = failure or UniskelError(f"cannot finish {args.keypoints}: "
                                                  f"{exc.strerror or exc}")
        if pipeline is not None:
            pipeline.close()
        if backend is not None:
            backend.close()
        source.close()
    written = [p for p in (args.out, args.keypoints) if p]
    if failure is not None:
        raise UniskelError(f"{failure} ({frames} frames written to {', '.join(written)})")
    print(f"{frames} frames -> {', '.join(written)}")
    return 0
