"""``uniskel eval``: a model's accuracy on a dataset, on ground-truth boxes (default) or
on the engine's own person-detector boxes (``--boxes detector``).

Each annotated person is cropped the way the live pipeline crops a tracked box
(``engine.crop``: the box, padded 1.25x to the model's aspect, warped to its input),
the crops go through the backend in batches, and the predictions are mapped back to
image pixels with the inverse warp. Metrics (definitions in ``training.metrics``):

- ``--format coco``: OKS AP/AR over COCO's 17 points (pycocotools, COCO's sigmas);
  ``halpe``, ``aic``, ``crowdpose``: the same AP over the unified points that dataset
  annotates, with ``engine.skeleton.SIGMAS`` (not the datasets' official sigmas, so
  not comparable to their leaderboards). Detection score (``engine.quality``): the
  model's own quality estimate (expected OKS) where its config carries one, else the
  mean confidence of the predicted points above 0.2 (mmpose's rescoring; BlazePose).
- ``--format lsp``: PCK@0.2 of the torso size over LSP's 14 joints (``neck`` is the
  unified ``upper_neck``), per joint, and over the joints the backend provides.
- ``--format mpii``: PCKh@0.5 (head size: see ``metrics.head_size``) over MPII's
  joints except pelvis and thorax (as MPII's own "total"), per joint, and provided.

``--boxes detector`` (COCO-style AP formats): the system as users run it. The engine's
person detector looks at each image with annotated people, every box it finds is cropped
and posed the same way, each pose scored by detector score x the model's own score, and
COCOeval matches them to every annotated person (missed people count, extra detections
are false positives). Reported beside the ground-truth-box AP of the same model, with
``person_recall``: the share of annotated people taller than 96 px that some detector
box covers at IoU >= 0.5.

Python use (e.g. validation during training)::

    results = evaluate(model_predict_fn(model), instances, "lsp", model.cfg.input_size)

Only light modules are imported at the top (``uniskel --help`` imports this file).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

log = logging.getLogger(__name__)

# format -> metric family
FORMATS = {"coco": "ap", "halpe": "ap", "aic": "ap", "crowdpose": "ap", "lsp": "pck", "mpii": "pckh"}
PADDING = 1.25
PCK_THR = 0.2
PCKH_THR = 0.5
MPII_MEAN_EXCLUDES = ("pelvis", "thorax")  # MPII's "total" leaves these out


# --------------------------------------------------------------------------- core

def model_predict_fn(model):
    """A predict_fn for a ``engine.model.PoseNet`` on its current device (no grad)."""
    import numpy as np
    import torch

    from uniskel.engine import simcc

    device = next(model.parameters()).device

    def predict_fn(crops):
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(device)
        x = x.permute(0, 3, 1, 2).float()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                sx, sy = model(x)
        finally:
            model.train(was_training)
        return simcc.SimCC.of(model.cfg).decode(sx.float().cpu().numpy(),
                                                sy.float().cpu().numpy())

    return predict_fn


def _crop_box(box, image, input_size, padding):
    """The crop the live pipeline would take of ``box``, and the inverse warp."""
    from uniskel.engine import crop as C

    center, scale = C.box_to_center_scale(box, input_size, padding)
    m = C.warp_matrix(center, scale, input_size)
    return C.crop(image, m, input_size), C.invert(m)


def predict(predict_fn, instances, input_size, *, batch_size: int = 32, padding: float = PADDING,
            on_error: str = "skip", progress=False, problems: list | None = None):
    """Run ``predict_fn`` on every instance's ground-truth crop.

    ``predict_fn``: uint8 RGB crops (B, H, W, 3) -> (B, 21, 3) x, y in crop pixels and
    confidence. Returns (predictions (N, 21, 3) in image pixels, the instances kept);
    an image that cannot be read is skipped with a warning (``on_error="skip"``) or
    raises ``UniskelError`` (``"raise"``). ``progress``: True, False, or None (a bar
    only on a terminal).
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from tqdm import tqdm

    from uniskel.engine import crop as C
    from uniskel.training.datasets import load_image

    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    input_size = tuple(int(v) for v in input_size)
    batches = [instances[i:i + batch_size] for i in range(0, len(instances), batch_size)]

    def load_batch(batch):
        images = {}
        for inst in batch:
            key = str(inst.image)
            if key in images:
                continue
            try:
                images[key] = load_image(inst)
            except UniskelError as e:
                images[key] = e
        return images

    preds, kept = [], []
    bar = tqdm(total=len(instances), unit="person", desc="eval", leave=False,
               disable=(None if progress is None else not progress))
    with ThreadPoolExecutor(max_workers=1) as pool:  # decode the next batch meanwhile
        future = pool.submit(load_batch, batches[0]) if batches else None
        for b, batch in enumerate(batches):
            images = future.result()
            if b + 1 < len(batches):
                future = pool.submit(load_batch, batches[b + 1])
            crops, inverses, ok = [], [], []
            for inst in batch:
                img = images[str(inst.image)]
                if isinstance(img, UniskelError):
                    if on_error == "raise":
                        raise img
                    log.warning("skipped %s", img)
                    if problems is not None:
                        problems.append(str(img))
                    continue
                c, inv = _crop_box(inst.box, img, input_size, padding)
                crops.append(c)
                inverses.append(inv)
                ok.append(inst)
            if crops:
                out = np.asarray(predict_fn(np.stack(crops)), dtype=np.float64)
                if out.shape != (len(crops), skeleton.NUM_KEYPOINTS, 3):
                    raise UniskelError(f"the model returned keypoints of shape {out.shape}; "
                                       f"expected ({len(crops)}, {skeleton.NUM_KEYPOINTS}, 3)")
                for p, inv in zip(out, inverses):
                    q = p.copy()
                    q[:, :2] = C.apply(inv, p[:, :2])
                    preds.append(q)
                kept.extend(ok)
            bar.update(len(batch))
    bar.close()
    if not preds:
        return np.zeros((0, skeleton.NUM_KEYPOINTS, 3)), kept
    return np.stack(preds), kept


def _names(mapping):
    """Native joint names of a mapping, with their unified indices (mapped ones only)."""
    src = mapping.source
    order = sorted((n, u) for u, n in enumerate(src) if n >= 0)
    return [mapping.native_names[n] for n, _ in order], [u for _, u in order]


def _finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _coco_truth(instances, subset):
    """The annotated people as COCOeval takes them: keypoints (N, K, 3) over ``subset``
    (v >= 1 where labelled), object areas and boxes."""
    import numpy as np

    from uniskel.training.datasets import stack_keypoints
    from uniskel.training.metrics import AREA_FROM_BOX

    gt, mask = stack_keypoints(instances)
    gt = gt[:, subset].copy()
    gt[..., 2] = np.where(mask[:, subset], np.maximum(gt[..., 2], 1), 0)
    areas = np.array([i.area if i.area else
                      AREA_FROM_BOX * (i.box[2] - i.box[0]) * (i.box[3] - i.box[1])
                      for i in instances])
    return gt, areas, np.array([i.box for i in instances], dtype=np.float64)


def _score_ap(instances, preds, mapping, quality=()):
    import numpy as np

    from uniskel.engine.quality import person_scores
    from uniskel.training.metrics import coco_ap

    subset = np.flatnonzero(mapping.mask)
    gt, areas, boxes = _coco_truth(instances, subset)
    scores = person_scores(preds, quality, subset)
    res = coco_ap(gt, preds[:, subset], [i.image_id for i in instances], skeleton.SIGMAS[subset],
                  areas=areas, boxes=boxes, scores=scores)
    res["keypoints"] = [skeleton.KEYPOINTS[u] for u in subset]
    res["detection_score"] = ("quality estimate (expected OKS)" if len(quality)
                              else "mean confidence above 0.2")
    return res


def _score_pck(instances, preds, mapping, provided, key, thr, normaliser, exclude=()):
    from uniskel.training.datasets import stack_keypoints
    from uniskel.training.metrics import pck

    names, joints = _names(mapping)
    gt, mask = stack_keypoints(instances)
    res = pck(preds, gt, mask, normaliser(gt, mask), thr)
    per = res.per_keypoint
    mean_joints = [u for n, u in zip(names, joints) if n not in exclude]
    prov = [u for u in mean_joints if provided[u]]
    evaluated = res.valid[:, joints].any(-1)
    return {
        key: res.mean(mean_joints),
        f"{key}_provided": res.mean(prov) if prov else float("nan"),
        "per_keypoint": {n: _finite(float(per[u])) for n, u in zip(names, joints)},
        "instances": int(evaluated.sum()),
        "not_evaluated": int((~evaluated).sum()),
        "joints": res.count(mean_joints),
        "provided_keypoints": [n for n, u in zip(names, joints) if u in prov],
    }


def score(fmt: str, instances, preds, provided=None, quality=()) -> dict:
    """Metrics of ``preds`` (N, 21, 3, image pixels) for ``instances`` of a format.
    ``quality``: the model's quality coefficients, for AP's detection score."""
    import numpy as np

    from uniskel.training.metrics import head_size, torso_size

    if fmt not in FORMATS:
        raise UniskelError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not instances:
        raise UniskelError("no people left to evaluate")
    provided = np.ones(skeleton.NUM_KEYPOINTS, bool) if provided is None \
        else np.asarray(provided, bool)
    family = FORMATS[fmt]
    if family == "ap":
        return _score_ap(instances, preds, skeleton.MAPPINGS[fmt], quality)
    idx = skeleton.INDEX
    if family == "pck":
        return _score_pck(instances, preds, skeleton.LSP, provided, f"PCK@{PCK_THR:g}", PCK_THR,
                          lambda gt, mask: torso_size(gt, mask, idx))
    headboxes = np.array([i.meta.get("headbox", [np.nan] * 4) for i in instances], np.float64)
    return _score_pck(instances, preds, skeleton.MPII, provided, f"PCKh@{PCKH_THR:g}", PCKH_THR,
                      lambda gt, mask: head_size(gt, mask, idx, headboxes),
                      exclude=MPII_MEAN_EXCLUDES)


def evaluate(predict_fn, instances, fmt: str, input_size, *, provided=None, quality=(),
             batch_size: int = 32, padding: float = PADDING, on_error: str = "skip",
             progress=False) -> dict:
    """Predict on every instance's ground-truth crop and score: the whole evaluation.

    ``predict_fn``: crops (B, H, W, 3) uint8 RGB -> (B, 21, 3) in crop pixels + conf.
    ``provided``: (21,) bool, the points the model gives (default all); ``quality``: the
    model's quality coefficients (AP's detection score; default none). Returns the
    metric dict of ``score`` plus ``skipped`` (unreadable images) and ``problems``."""
    problems: list = []
    preds, kept = predict(predict_fn, instances, input_size, batch_size=batch_size,
                          padding=padding, on_error=on_error, progress=progress,
                          problems=problems)
    res = score(fmt, kept, preds, provided, quality)
    res["skipped"] = len(instances) - len(kept)
    res["problems"] = problems
    return res


def evaluate_detected(backend, instances, fmt: str, detector, *, padding: float = PADDING,
                      quality=(), on_error: str = "skip",
                      progress=None, tall: float = 96.0) -> dict:
    """AP with the detector's boxes, and person recall; see the module docstring."""
    import numpy as np
    from tqdm import tqdm

    from uniskel.engine import crop as C
    from uniskel.engine.detector import iou
    from uniskel.engine.quality import person_scores
    from uniskel.training.datasets import load_image
    from uniskel.training.metrics import coco_ap

    if FORMATS.get(fmt) != "ap":
        raise UniskelError(f"--boxes detector scores AP formats (coco, halpe, aic, crowdpose), "
                           f"not {fmt}")
    by_image: dict = {}
    for inst in instances:
        by_image.setdefault(str(inst.image), []).append(inst)
    mapping = skeleton.MAPPINGS[fmt]
    subset = np.flatnonzero(mapping.mask)
    input_size = tuple(int(v) for v in backend.input_size)
    preds, pred_images, scores, kept, problems = [], [], [], [], []
    tall_total = tall_found = 0
    bar = tqdm(total=len(by_image), unit="image", desc="eval (detector)", leave=False,
               disable=(None if progress is None else not progress))
    for key, people in by_image.items():
        bar.update(1)
        try:
            image = load_image(people[0])
        except UniskelError as e:
            if on_error == "raise":
                raise
            log.warning("skipped %s", e)
            problems.append(str(e))
            continue
        kept.extend(people)
        boxes = detector.detect(image)
        for inst in people:
            x0, y0, x1, y1 = inst.box
            if y1 - y0 > tall:
                tall_total += 1
                tall_found += any(iou(b, inst.box) >= 0.5 for b in boxes)
        if not boxes:
            continue
        crops, inverses = zip(*(_crop_box(b[:4], image, input_size, padding) for b in boxes))
        out = np.asarray(backend.infer(np.stack(crops)), dtype=np.float64)
        pose = person_scores(out, quality, subset)
        for k, inv, b, ps in zip(out, inverses, boxes, pose):
            q = k.copy()
            q[:, :2] = C.apply(inv, k[:, :2])
            preds.append(q)
            pred_images.append(people[0].image_id)
            scores.append(float(b[4]) * float(ps))
    bar.close()
    if not kept:
        raise UniskelError("no readable images with annotated people")
    gt, areas, boxes_gt = _coco_truth(kept, subset)
    if preds:
        res = coco_ap(gt, np.stack(preds)[:, subset], [i.image_id for i in kept],
                      skeleton.SIGMAS[subset], areas=areas, boxes=boxes_gt,
                      scores=np.asarray(scores), pred_image_ids=pred_images)
    else:  # the detector found nobody anywhere
        from uniskel.training.metrics import AP_KEYS
        res = {k: 0.0 for k in AP_KEYS}
        res["instances"] = len(kept)
    res["keypoints"] = [skeleton.KEYPOINTS[u] for u in subset]
    res["detection_score"] = ("detector score x " + ("quality estimate" if len(quality)
                                                     else "mean confidence above 0.2"))
    res["detections"] = len(preds)
    res["images"] = len(by_image) - len(problems)
    res["person_recall"] = tall_found / tall_total if tall_total else float("nan")
    res["person_recall_people"] = {"taller_than_px": tall, "annotated": tall_total,
                                   "found": tall_found}
    res["skipped"] = len(instances) - len(kept)
    res["problems"] = problems
    return res


# --------------------------------------------------------------------------- CLI

def _parse_range(text: str):
    try:
        a, b = text.split(":")
        return (int(a) if a.strip() else None, int(b) if b.strip() else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP (e.g. 7500:8000), got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", required=True, choices=list(FORMATS),
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
    p.add_argument("--boxes", choices=("gt", "detector"), default="gt",
                   help="where the people are: the annotated boxes (gt, the default, for "
                        "comparing pose models) or the engine's person detector (detector: "
                        "the system as users run it; also reports person_recall)")
    p.add_argument("--detector", default="auto", metavar="NAME",
                   help="--boxes detector: auto, nanodet, blazepose (default auto)")
    from uniskel.engine.backends import CHOICES

    p.add_argument("--backend", default="auto", choices=CHOICES,
                   help="inference backend (default: auto)")
    p.add_argument("--model", type=Path, metavar="PATH",
                   help="model file (default: the shipped student, assets/models/)")
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


def _provided(backend, name: str):
    """The unified points a backend gives: its ``provided`` attribute where it has one,
    BlazePose's for mediapipe, else all 21."""
    import numpy as np

    got = getattr(backend, "provided", None)
    if got is not None:
        got = np.asarray(got)
        if got.dtype != bool:  # indices or names
            mask = np.zeros(skeleton.NUM_KEYPOINTS, bool)
            mask[[skeleton.INDEX[g] if isinstance(g, str) else int(g) for g in got]] = True
            got = mask
        return got
    if name == "mediapipe":
        return skeleton.provided_mask(skeleton.BLAZEPOSE)
    return np.ones(skeleton.NUM_KEYPOINTS, bool)


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
    if "detection_score" in res:
        lines.append(f"  detection score    {res['detection_score']}")
    if "person_recall" in res:
        r = res["person_recall_people"]
        lines.append(f"  person recall      {_pct(res['person_recall'])} ({r['found']} of "
                     f"{r['annotated']} people taller than {r['taller_than_px']:g} px, "
                     f"detector {res.get('detector', '?')}, {res['detections']} detections)")
    if "gt_boxes" in res:
        lines.append(f"  AP on GT boxes     {_pct(res['gt_boxes'].get('AP'))} (same model)")
    if res.get("not_evaluated"):
        lines.append(f"  not evaluated      {res['not_evaluated']} (no torso / head size)")
    if res.get("skipped"):
        lines.append(f"  skipped            {res['skipped']} (malformed entries or unreadable "
                     "images; see the warnings)")
    return "\n".join(lines)


def _jsonable(x):
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x


def run(args) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="uniskel eval: %(message)s")
    if args.batch_size < 1:
        raise UniskelError("--batch-size must be at least 1")
    if args.mediapipe_complexity != 1 and args.backend != "mediapipe":
        raise UniskelError("--mediapipe-complexity applies to --backend mediapipe only")
    if args.boxes == "detector" and FORMATS[args.format] != "ap":
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

    options = {"model_complexity": args.mediapipe_complexity} if args.backend == "mediapipe" else {}
    backend = create(args.backend, args.model, **options)
    backend_name = getattr(backend, "name", args.backend)
    t0 = time.perf_counter()
    res = evaluate(backend.infer, instances, args.format, backend.input_size,
                   provided=_provided(backend, backend_name),
                   quality=tuple(getattr(backend, "quality", ()) or ()), batch_size=args.batch_size,
                   on_error=args.on_error, progress=None)
    if args.boxes == "detector":
        from uniskel.engine import detector as detectors

        det = detectors.create(args.detector, people=20)
        gt_res = res
        res = evaluate_detected(backend, instances, args.format, det,
                                quality=tuple(getattr(backend, "quality", ()) or ()),
                                on_error=args.on_error)
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
        "split": args.split, "boxes": args.boxes,
        "backend": backend_name, "backend_description": getattr(backend, "description", ""),
        "mediapipe_complexity": args.mediapipe_complexity if args.backend == "mediapipe" else None,
        "model": str(model) if model else None,
        "input_size": list(backend.input_size), "padding": PADDING,
        "seconds": round(seconds, 3), "people_per_s": round(len(instances) / max(seconds, 1e-9), 2),
    }
    title = (f"uniskel eval: {args.format} ({ann}), backend {backend_name}"
             + (f", model {model}" if model else ""))
    print(format_table(res, title))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(_jsonable(res), f, indent=2)
        print(f"  results written to {args.json}", file=sys.stderr)
    return 0
