"""``uniskel eval``: a model's accuracy on a labelled dataset, the standard way (COCO OKS AP
through pycocotools, LSP PCK@0.2, MPII PCKh@0.5), on ground-truth boxes or the engine's
own person detector (the metrics themselves: uniskel.training.evaluate)."""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path

from uniskel.commands import options
from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training import evaluate as E
from uniskel.training.cuts import CUTS


def _parse_range(text: str):
    try:
        a, b = text.split(":")
        return (int(a) if a.strip() else None, int(b) if b.strip() else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP (e.g. 7500:8000), got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", required=True, choices=list(E.FORMATS),
                   help="dataset format and metric: coco/halpe/aic/crowdpose -> OKS AP, "
                        "lsp -> PCK@0.2 (torso), mpii -> PCKh@0.5")
    p.add_argument("--images", type=Path, metavar="DIR",
                   help="image folder (default for coco: shared data coco_mini/train2017; "
                        "for lsp: shared data lspet/images)")
    p.add_argument("--annotations", type=Path, metavar="FILE",
                   help="annotation JSON (coco/halpe/aic/crowdpose/mpii; default for coco: "
                        "the coco_mini keypoint file)")
    p.add_argument("--joints", type=Path, metavar="FILE.mat",
                   help="LSP / LSP-extended joints.mat (default: shared data lspet/joints.mat)")
    p.add_argument("--range", type=_parse_range, metavar="A:B", dest="index_range",
                   help="lsp only: entries A..B-1 of joints.mat (LSPET validation: 7500:8000)")
    p.add_argument("--split", choices=("train", "val"),
                   help="keep one part of the image-id split (id %% 4 == 1 is val): "
                        "coco_mini's val part is the COCO data the shipped student never "
                        "trained on")
    p.add_argument("--cut", choices=tuple(CUTS),
                   help="a framing check: each person's picture ends at their mid-torso (as "
                        "a webcam frames a person at a desk) or half a shoulder width below "
                        "the shoulders, boxed from above the head (close-up: a camera close "
                        "to them); reports the metric over the points still in the picture "
                        "and outside_drawn, the share of points below the cut drawn anyway "
                        f"(confidence >= the draw threshold, {skeleton.DRAW_THRESHOLD:g})")
    p.add_argument("--no-turn", dest="turn", action="store_false",
                   help="no second look, turned upright, at people whose pose lies sideways "
                        "or upside down (engine/runtime/turn.py; the pipeline takes it, so "
                        "the evaluation does by default)")
    p.add_argument("--boxes", choices=("gt", "detector"), default="gt",
                   help="where the people are: the annotated boxes (gt, the default, for "
                        "comparing pose models) or the engine's person detector (detector: "
                        "the system as users run it; also reports person_recall)")
    from uniskel.engine.runtime.detector import DETECTORS

    p.add_argument("--detector", default="auto", choices=["auto", *DETECTORS],
                   help="--boxes detector: the person detector (default auto)")
    options.backend(p, model_help="model file (default: the shipped student, assets/models/)")
    p.add_argument("--mediapipe-complexity", type=int, choices=(0, 1, 2), default=1,
                   metavar="C", help="--backend mediapipe only: BlazePose lite (0), full (1, "
                   "the default and the baseline) or heavy (2; its model comes with the npm "
                   "package @mediapipe/pose and must be installed first)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write every result to this JSON file")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N people")
    p.add_argument("--batch-size", type=int, default=32, metavar="B", help="crops per batch (32)")
    p.add_argument("--on-error", choices=("skip", "raise"), default="skip",
                   help="a malformed entry or unreadable image: skip it with a warning "
                        "(default) or stop")


def run(args) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="uniskel eval: %(message)s")
    if args.batch_size < 1:
        raise UniskelError("--batch-size must be at least 1")
    from uniskel.engine.media import safefiles

    safefiles.check_output(args.json, "results", {  # before the run, not after it
        "annotations": args.annotations, "joints": args.joints, "model": args.model})
    if args.mediapipe_complexity != 1 and args.backend != "mediapipe":
        raise UniskelError("--mediapipe-complexity applies to --backend mediapipe only")
    if args.boxes == "detector" and E.FORMATS[args.format] != "ap":
        raise UniskelError(f"--boxes detector scores AP formats (coco, halpe, aic, crowdpose), "
                           f"not {args.format}")
    from uniskel.engine import backends

    bundled_only = args.backend in backends.MODULES and \
        backends.MODULES[args.backend].MODEL_SUFFIX is None  # --model names a variant
    if args.model is not None and not bundled_only and not args.model.is_file():
        raise UniskelError(f"model file not found: {args.model}")
    problems_read: list = []
    instances, ann, images = load_instances(args, problems_read)
    if not instances:
        raise UniskelError(f"no annotated people to evaluate in {ann}")

    from uniskel.engine.backends import create

    extra = {"model_complexity": args.mediapipe_complexity} if args.backend == "mediapipe" else {}
    backend = create(args.backend, args.model, **extra)
    backend_name = getattr(backend, "name", args.backend)
    t0 = time.perf_counter()
    if args.cut and args.boxes == "detector":
        raise UniskelError("--cut applies to --boxes gt")
    res = E.evaluate(backend.infer, instances, args.format, backend.input_size,
                   provided=E.provided_points(backend, backend_name),
                   quality=tuple(getattr(backend, "quality", ()) or ()), batch_size=args.batch_size,
                   on_error=args.on_error, progress=None, cut=args.cut, turn=args.turn)
    if args.boxes == "detector":
        from uniskel.engine.runtime import detector as detectors

        det = detectors.create(args.detector, people=20)
        gt_res = res
        res = E.evaluate_detected(backend, instances, args.format, det,
                                quality=tuple(getattr(backend, "quality", ()) or ()),
                                on_error=args.on_error, turn=args.turn)
        det.close()
        res["detector"] = det.name
        res["gt_boxes"] = {k: gt_res[k] for k in ("AP", "AP50", "AP75", "AR", "instances")
                           if k in gt_res}
    seconds = time.perf_counter() - t0
    res["problems"] = problems_read + res["problems"]
    res["skipped"] += len(problems_read)
    model = getattr(backend, "path", None) or getattr(backend, "model_path", None) or args.model
    res["meta"] = {
        "format": args.format, "annotations": str(ann), "images": str(images),
        "range": list(args.index_range) if args.index_range else None, "limit": args.limit,
        "split": args.split, "boxes": args.boxes, "turn": args.turn,
        "backend": backend_name, "backend_description": getattr(backend, "description", ""),
        "mediapipe_complexity": args.mediapipe_complexity if args.backend == "mediapipe" else None,
        "model": str(model) if model else None,
        "input_size": list(backend.input_size), "padding": E.PADDING,
        "seconds": round(seconds, 3), "people_per_s": round(len(instances) / max(seconds, 1e-9), 2),
    }
    title = (f"uniskel eval: {args.format} ({ann}), backend {backend_name}"
             + (f", model {model}" if model else ""))
    print(format_table(res, title))
    if args.json:
        from uniskel.engine.media.records import write_json

        write_json(args.json, E.jsonable(res), "results")  # whole, or the old file stays
        print(f"  results written to {args.json}", file=sys.stderr)
    return 0




def _defaults(args):
    from uniskel.engine.assets import shared_data

    data = shared_data()
    fmt = args.format
    if args.index_range is not None and fmt != "lsp":
        raise UniskelError("--range applies to --format lsp only (use --limit for a quick run)")
    if args.split and fmt == "lsp":
        raise UniskelError("--split is for image-id formats; --format lsp splits with --range")
    if fmt == "lsp":
        if args.annotations is not None:
            raise UniskelError("--format lsp reads --joints FILE.mat, not --annotations")
        joints = args.joints or data / "lspet" / "joints.mat"
        images = args.images or data / "lspet" / "images"
        return joints, images
    if args.joints is not None:
        raise UniskelError(f"--joints is for --format lsp; --format {fmt} reads --annotations")
    if fmt == "coco" and args.annotations is None and args.images is None:
        mini = data / "coco_mini"
        return mini / "annotations" / "person_keypoints_train2017.json", mini / "train2017"
    if args.annotations is None or args.images is None:
        raise UniskelError(f"--format {fmt} needs --annotations FILE and --images DIR")
    return args.annotations, args.images


def load_instances(args, problems: list | None = None):
    """The instances the command line names (defaults, --range, --limit applied)."""
    from uniskel.training import datasets

    ann, images = _defaults(args)
    if not Path(images).is_dir():
        raise UniskelError(f"image folder not found: {images}")
    kw = {"on_error": args.on_error, "problems": problems}
    if args.format == "lsp":
        kw["index_range"] = args.index_range
    instances = datasets.read(args.format, ann, images, split=args.split, **kw)
    if args.limit is not None:
        if args.limit < 1:
            raise UniskelError("--limit must be at least 1")
        instances = instances[: args.limit]
    return instances, ann, images


def _pct(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * v:5.1f}"


def format_table(res: dict, title: str) -> str:
    lines = [title]
    for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "PCK@0.2", "PCK@0.2_provided",
                "PCKh@0.5", "PCKh@0.5_provided"):
        if key in res:
            lines.append(f"  {key:<18} {_pct(res[key])}")
    if "per_keypoint" in res:
        lines.append("  per keypoint:")
        for name, v in res["per_keypoint"].items():
            lines.append(f"    {name:<16} {_pct(v)}")
    lines.append(f"  people evaluated   {res['instances']}")
    for name, o in (res.get("by_orientation") or {}).items():
        if o["people"]:
            lines.append(f"  {name + ':':<18} {_pct(o['mean'])} (head top {_pct(o['head_top'])}, "
                         f"upper neck {_pct(o['upper_neck'])}; {o['people']} people, "
                         "by their neck-to-head-top line)")
    if "detection_score" in res:
        lines.append(f"  detection score    {res['detection_score']}")
    if "person_recall" in res:
        r = res["person_recall_people"]
        lines.append(f"  person recall      {_pct(res['person_recall'])} ({r['found']} of "
                     f"{r['annotated']} people taller than {r['taller_than_px']:g} px, "
                     f"detector {res.get('detector', '?')}, {res['detections']} detections)")
    if "inside_drawn_right" in res:
        lines.append(f"  inside drawn right {_pct(res['inside_drawn_right'])} "
                     f"({res['inside_points']} labelled points in the picture, drawn "
                     f"(confidence >= {res['draw_threshold']:g}) at OKS >= 0.5 of their own)")
    if "outside_drawn" in res:
        lines.append(f"  outside drawn      {_pct(res['outside_drawn'])} ({res['outside_points']} "
                     f"labelled points below the {res['cut']} cut, confidence >= "
                     f"{res['draw_threshold']:g})")
    if "gt_boxes" in res:
        lines.append(f"  AP on GT boxes     {_pct(res['gt_boxes'].get('AP'))} (same model)")
    if res.get("not_evaluated"):
        lines.append(f"  not evaluated      {res['not_evaluated']} (no torso / head size)")
    if res.get("skipped"):
        lines.append(f"  skipped            {res['skipped']} (malformed entries or unreadable "
                     "images; see the warnings)")
    return "\n".join(lines)
