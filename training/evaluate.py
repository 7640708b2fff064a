"""A model's accuracy on a dataset (``uniskel eval``, whose command line is commands/eval.py),
on ground-truth boxes (default) or on the engine's own person-detector boxes
(``--boxes detector``).

Each annotated person is cropped the way the live pipeline crops a tracked box
(``engine.runtime.crop``: the box, padded 1.25x to the model's aspect, warped to its input),
the crops go through the backend in batches, and the predictions are mapped back to
image pixels with the inverse warp. Metrics (definitions in ``training.metrics``):

- ``--format coco``: OKS AP/AR over COCO's 17 points (pycocotools, COCO's sigmas);
  ``halpe``, ``aic``, ``crowdpose``: the same AP over the unified points that dataset
  annotates, with ``engine.skeleton.SIGMAS`` (not the datasets' official sigmas, so
  not comparable to their leaderboards). Detection score (``engine.models.quality``): the
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

Only light modules are imported at the top.
"""
from __future__ import annotations

import logging
import math

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training.cuts import CUTS, split_at_cut

log = logging.getLogger(__name__)

# format -> metric family
FORMATS = {"coco": "ap", "halpe": "ap", "aic": "ap", "crowdpose": "ap", "lsp": "pck", "mpii": "pckh"}
PADDING = 1.25
PCK_THR = 0.2
PCKH_THR = 0.5
MPII_MEAN_EXCLUDES = ("pelvis", "thorax")  # MPII's "total" leaves these out


# --------------------------------------------------------------------------- core

def model_predict_fn(model):
    """A predict_fn for a ``engine.models.model.PoseNet`` on its current device (no grad)."""
    import numpy as np
    import torch

    from uniskel.engine.models import simcc

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
    from uniskel.engine.runtime import crop as C

    center, scale = C.box_to_center_scale(box, input_size, padding)
    m = C.warp_matrix(center, scale, input_size)
    return C.crop(image, m, input_size), C.invert(m)


def predict(predict_fn, instances, input_size, *, batch_size: int = 32, padding: float = PADDING,
            on_error: str = "skip", progress=False, problems: list | None = None,
            turn: bool = True):
    """Run ``predict_fn`` on every instance's ground-truth crop.

    ``predict_fn``: uint8 RGB crops (B, H, W, 3) -> (B, 21, 3) x, y in crop pixels and
    confidence. Returns (predictions (N, 21, 3) in image pixels, the instances kept);
    an image that cannot be read is skipped with a warning (``on_error="skip"``) or
    raises ``UniskelError`` (``"raise"``). ``progress``: True, False, or None (a bar
    only on a terminal). ``turn``: a second look, turned upright, at the people a pose
    says are lying or upside down (``engine.runtime.turn``), as the pipeline takes it.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from tqdm import tqdm

    from uniskel.engine.runtime import crop as C
    from uniskel.engine.runtime import turn as T
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
            crops, inverses, ok, seen = [], [], [], []
            for inst in batch:
                img = images[str(inst.image)]
                if isinstance(img, UniskelError):
                    if on_error == "raise":
                        raise img
                    log.warning("skipped %s", img)
                    if problems is not None:
                        problems.append(str(img))
                    continue
                cut = inst.meta.get("cut_y")
                if cut is not None:  # the picture ends here (evaluate(..., cut=...))
                    img = img.copy()
                    img[int(np.ceil(cut)):] = 0
                c, inv = _crop_box(inst.box, img, input_size, padding)
                crops.append(c)
                inverses.append(inv)
                ok.append(inst)
                seen.append(img)
            if crops:
                out = np.asarray(predict_fn(np.stack(crops)), dtype=np.float64)
                if out.shape != (len(crops), skeleton.NUM_KEYPOINTS, 3):
                    raise UniskelError(f"the model returned keypoints of shape {out.shape}; "
                                       f"expected ({len(crops)}, {skeleton.NUM_KEYPOINTS}, 3)")
                found = out.copy()
                for q, p, inv in zip(found, out, inverses):
                    q[:, :2] = C.apply(inv, p[:, :2])
                if turn:
                    found, _, _ = T.look_again(seen, [inst.box for inst in ok], found, predict_fn,
                                               input_size, padding)
                preds.extend(found)
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


def jsonable(x):
    """``x`` (results: dicts, lists, numpy values, paths) as plain JSON values; NaN and
    infinities become None."""
    import numpy as np
    from pathlib import Path

    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, Path):
        return str(x)
    return _finite(x)


def _coco_truth(instances, subset):
    """The annotated people as COCOeval takes them: keypoints (N, K, 3) over ``subset``
    (v >= 1 where labelled), object areas and boxes."""
    import numpy as np

    from uniskel.training.datasets import stack_keypoints

    gt, mask = stack_keypoints(instances)
    gt = gt[:, subset].copy()
    gt[..., 2] = np.where(mask[:, subset], np.maximum(gt[..., 2], 1), 0)
    return gt, instance_areas(instances), np.array([i.box for i in instances],
                                                   dtype=np.float64)


def instance_areas(instances):
    """(N,) each person's object area, for OKS: the annotated one, else from the box."""
    import numpy as np

    return np.array([i.area if i.area else
                     skeleton.AREA_FROM_BOX * (i.box[2] - i.box[0]) * (i.box[3] - i.box[1])
                     for i in instances])


def _score_ap(instances, preds, mapping, quality=()):
    import numpy as np

    from uniskel.engine.models.quality import person_scores
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
        "by_orientation": by_orientation(res, gt, mask, mean_joints),
        "instances": int(evaluated.sum()),
        "not_evaluated": int((~evaluated).sum()),
        "joints": res.count(mean_joints),
        "provided_keypoints": [n for n, u in zip(names, joints) if u in prov],
    }


#: people by the way their upper neck -> head top points, degrees from straight up
ORIENTATIONS = (("upright", 0, 60), ("sideways", 60, 120), ("upside down", 120, 180))


def by_orientation(res, gt, mask, mean_joints) -> dict:
    """{orientation: {"people", "mean", "head_top", "upper_neck"}} of a PCK result, the
    people grouped by ``ORIENTATIONS`` (those with both points labelled; an athlete
    upside down is where a head top learned from upright people fails)."""
    import numpy as np

    from uniskel.training.metrics import PCK

    top, neck = skeleton.INDEX["head_top"], skeleton.INDEX["upper_neck"]
    has = mask[:, top] & mask[:, neck]
    d = gt[:, top, :2] - gt[:, neck, :2]
    angle = np.degrees(np.arctan2(np.abs(d[:, 0]), -d[:, 1]))  # 0: head straight up
    out = {}
    for name, lo, hi in ORIENTATIONS:
        rows = has & (angle >= lo) & ((angle < hi) | (hi == 180))
        part = PCK(hits=res.hits[rows], valid=res.valid[rows])
        per = part.per_keypoint
        out[name] = {"people": int(rows.sum()), "mean": _finite(part.mean(mean_joints)),
                     "head_top": _finite(float(per[top])),
                     "upper_neck": _finite(float(per[neck]))}
    return out


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


def score_cut(fmt: str, instances, preds, provided=None, quality=(),
              threshold: float = skeleton.DRAW_THRESHOLD, name: str = "mid-torso") -> dict:
    """Metrics of the cut crops (``CUTS[name]``): the usual metric over the points still
    in the picture (PCK keeps its full-body torso size), and ``outside_drawn``: the share
    of the labelled points below the cut that the model gives at least ``threshold``
    confidence (they would be drawn where there is nothing to see), and
    ``inside_drawn_right``: the share of the labelled points still in the picture that it
    draws (at least ``threshold``) where they are (their own term of OKS at least 0.5:
    AP ranks people, so it misses a model that is right but too unsure to be drawn)."""
    import dataclasses

    import numpy as np

    from uniskel.training.metrics import pck, torso_size

    provided = np.ones(skeleton.NUM_KEYPOINTS, bool) if provided is None \
        else np.asarray(provided, bool)
    gt, visible, hidden = split_at_cut(instances)
    mask = visible | hidden
    hidden = hidden & provided[None]
    if FORMATS[fmt] == "ap":
        kept = [dataclasses.replace(i, mask=v) for i, v in zip(instances, visible)]
        res = _score_ap(kept, preds, skeleton.MAPPINGS[fmt], quality)
    elif FORMATS[fmt] == "pck":
        names, joints = _names(skeleton.LSP)
        r = pck(preds, gt, visible, torso_size(gt, mask, skeleton.INDEX), PCK_THR)
        upper = [u for u in joints if visible[:, u].any()]
        res = {f"PCK@{PCK_THR:g}": r.mean(upper), "instances": len(instances),
               "per_keypoint": {n: _finite(float(r.per_keypoint[u]))
                                for n, u in zip(names, joints) if u in upper}}
    else:
        raise UniskelError(f"--cut {name} scores AP and LSP formats, not {fmt}")
    drawn = (preds[..., 2] >= threshold) & hidden
    inside = visible & provided[None]
    right = (skeleton.keypoint_similarity(preds, gt, instance_areas(instances)) >= 0.5) \
        & (preds[..., 2] >= threshold) & inside
    res.update(inside_points=int(inside.sum()),
               inside_drawn_right=float(right.sum() / max(inside.sum(), 1)))
    res.update(cut=name, outside_points=int(hidden.sum()),
               outside_drawn=float(drawn.sum() / max(hidden.sum(), 1)),
               outside_drawn_per_keypoint={
                   skeleton.KEYPOINTS[u]: _finite(float(drawn[:, u].sum() / hidden[:, u].sum()))
                   for u in range(skeleton.NUM_KEYPOINTS) if hidden[:, u].sum()},
               draw_threshold=threshold)
    return res


def evaluate(predict_fn, instances, fmt: str, input_size, *, provided=None, quality=(),
             batch_size: int = 32, padding: float = PADDING, on_error: str = "skip",
             progress=False, cut: str | None = None, turn: bool = True) -> dict:
    """Predict on every instance's ground-truth crop and score: the whole evaluation.

    ``predict_fn``: crops (B, H, W, 3) uint8 RGB -> (B, 21, 3) in crop pixels + conf.
    ``provided``: (21,) bool, the points the model gives (default all); ``quality``: the
    model's quality coefficients (AP's detection score; default none). ``cut``: a name of
    ``CUTS``, the framing check instead (``score_cut``). ``turn``: as ``predict``. Returns the metric dict
    of ``score`` plus ``skipped`` (unreadable images) and ``problems``."""
    problems: list = []
    if cut:
        instances = CUTS[cut](instances)
        if not instances:
            raise UniskelError(f"no people with the labelled points a {cut} framing needs "
                               "(shoulders, and hips or a face point)")
    preds, kept = predict(predict_fn, instances, input_size, batch_size=batch_size,
                          padding=padding, on_error=on_error, progress=progress,
                          problems=problems, turn=turn)
    res = score_cut(fmt, kept, preds, provided, quality, name=cut) if cut \
        else score(fmt, kept, preds, provided, quality)
    res["skipped"] = len(instances) - len(kept)
    res["problems"] = problems
    return res


def evaluate_detected(backend, instances, fmt: str, detector, *, padding: float = PADDING,
                      quality=(), on_error: str = "skip",
                      progress=None, tall: float = 96.0, turn: bool = True) -> dict:
    """AP with the detector's boxes, and person recall; see the module docstring.
    ``turn``: as ``predict``."""
    import numpy as np
    from tqdm import tqdm

    from uniskel.engine.runtime import crop as C
    from uniskel.engine.runtime import turn as T
    from uniskel.engine.runtime.boxes import iou
    from uniskel.engine.models.quality import person_scores
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
        found = out.copy()
        for q, k, inv in zip(found, out, inverses):
            q[:, :2] = C.apply(inv, k[:, :2])
        if turn:
            found, _, _ = T.look_again(image, [b[:4] for b in boxes], found, backend.infer,
                                       input_size, padding)
        pose = person_scores(found, quality, subset)
        for q, b, ps in zip(found, boxes, pose):
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




def provided_points(backend, name: str):
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
