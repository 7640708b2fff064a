"""Pose metrics: PCK / PCKh, OKS and COCO-style AP (through pycocotools), and the table
that compares models across datasets.

Conventions (the evaluation command documents them to users too):

- PCK@t: a labelled joint is correct when its error is at most ``t * normaliser``.
  Means are pooled over every evaluated joint (sum correct / sum evaluated, as MPII's
  official PCKh code weights joints by their counts); ``per_keypoint`` gives each joint.
- LSP torso size: ``||right_shoulder - left_hip||`` (the diagonal used by the
  LSP/DeepCut evaluation code). LSP's own test set labels every joint; LSPET leaves
  joints out, so where that diagonal is not labelled we take the other diagonal
  ``||left_shoulder - right_hip||``, then a same-side shoulder-hip distance times 1.15
  (the median diagonal / side ratio over the 4,803 LSPET people with all four points).
  With that, 95% of LSPET's last 500 people are evaluated (84% with diagonals only);
  people with no shoulder-hip pair are not evaluated and are counted.
- MPII head size: ``SC_BIAS * ||headbox diagonal||`` (SC_BIAS = 0.6, MPII's own code)
  when a head box is given; otherwise ``||upper_neck - head_top||``, the head segment,
  which is what the toolkit JSON layout carries (no SC_BIAS on a segment).
- OKS: COCO's, ``exp(-d^2 / (2 s^2 k^2))`` with ``s^2`` = object area and ``k = 2 sigma``,
  averaged over labelled points. AP/AR: pycocotools ``COCOeval`` with our sigmas.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from uniskel.engine.skeleton import AREA_FROM_BOX, oks  # noqa: F401 - beside the sigmas

SC_BIAS = 0.6  # MPII: head size = 0.6 * head-box diagonal


@dataclass
class PCK:
    """Per-person, per-joint hits of a PCK evaluation."""

    hits: np.ndarray  # (N, K) bool: evaluated and within threshold
    valid: np.ndarray  # (N, K) bool: evaluated

    @property
    def per_keypoint(self) -> np.ndarray:
        """(K,) fraction correct per joint; NaN for joints never evaluated."""
        n = self.valid.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.hits.sum(0) / np.maximum(n, 1), np.nan)

    def mean(self, joints=None) -> float:
        """Pooled fraction correct over ``joints`` (indices or bool mask; default all)."""
        hits, valid = self.hits, self.valid
        if joints is not None:
            hits, valid = hits[:, joints], valid[:, joints]
        n = valid.sum()
        return float(hits.sum() / n) if n else float("nan")

    def count(self, joints=None) -> int:
        valid = self.valid if joints is None else self.valid[:, joints]
        return int(valid.sum())


def pck(pred, gt, visible, normaliser, thr: float) -> PCK:
    """PCK of predictions ``pred`` (N, K, >=2) against ``gt`` (N, K, >=2).

    ``visible`` (N, K) bool: joints to evaluate. ``normaliser`` (N,): torso / head size
    in pixels; people with a non-finite or non-positive one are not evaluated. A
    non-finite prediction counts as wrong.
    """
    pred = np.asarray(pred, dtype=np.float64)[..., :2]
    gt = np.asarray(gt, dtype=np.float64)[..., :2]
    norm = np.asarray(normaliser, dtype=np.float64).reshape(-1)
    valid = np.asarray(visible, bool) & np.all(np.isfinite(gt), -1)
    valid &= (np.isfinite(norm) & (norm > 0))[:, None]
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm(pred - gt, axis=-1) / np.where(norm > 0, norm, np.nan)[:, None]
        hits = valid & np.isfinite(dist) & (dist <= thr)
    return PCK(hits=hits, valid=valid)


def _segment(gt, mask, a: int, b: int) -> np.ndarray:
    d = np.linalg.norm(gt[:, a, :2] - gt[:, b, :2], axis=-1)
    return np.where(mask[:, a] & mask[:, b], d, np.nan)


SIDE_TO_DIAGONAL = 1.15  # median torso diagonal / same-side shoulder-hip length, LSPET


def torso_size(gt, mask, idx: dict) -> np.ndarray:
    """(N,) ``||r_shoulder - l_hip||``, else ``||l_shoulder - r_hip||``, else
    ``SIDE_TO_DIAGONAL *`` the right (then left) shoulder-hip distance, else NaN.

    ``idx`` maps the names right_shoulder, left_hip, left_shoulder, right_hip to
    indices into ``gt`` (N, K, >=2); ``mask`` (N, K) says which are labelled."""
    gt, mask = np.asarray(gt, np.float64), np.asarray(mask, bool)
    rs, ls, rh, lh = (idx[n] for n in ("right_shoulder", "left_shoulder", "right_hip", "left_hip"))
    out = np.full(gt.shape[0], np.nan)
    for a, b, f in ((rs, lh, 1.0), (ls, rh, 1.0), (rs, rh, SIDE_TO_DIAGONAL),
                    (ls, lh, SIDE_TO_DIAGONAL)):
        seg = _segment(gt, mask, a, b) * f
        out = np.where(np.isfinite(out) | ~(seg > 0), out, seg)
    return out


def head_size(gt, mask, idx: dict, headboxes=None) -> np.ndarray:
    """(N,) MPII head size: ``SC_BIAS * diagonal`` of ``headboxes`` (N, 4) where given
    (rows of NaN for none), else ``||upper_neck - head_top||``, else NaN."""
    gt, mask = np.asarray(gt, np.float64), np.asarray(mask, bool)
    seg = _segment(gt, mask, idx["upper_neck"], idx["head_top"])
    if headboxes is None:
        return seg
    hb = np.asarray(headboxes, np.float64).reshape(-1, 4)
    diag = SC_BIAS * np.linalg.norm(hb[:, 2:] - hb[:, :2], axis=-1)
    return np.where(np.isfinite(diag) & (diag > 0), diag, seg)


AP_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def coco_ap(gt, pred, image_ids, sigmas, *, areas=None, boxes=None, scores=None,
            pred_image_ids=None) -> dict:
    """COCO keypoint AP/AR of predictions for ground-truth people, via pycocotools.

    gt (N, K, 3) x, y, v (v > 0 = labelled); pred (N, K, >=2) in the same order (one
    prediction per ground-truth person, as with ground-truth boxes); image_ids (N,)
    (hashable; people of one image share it); sigmas (K,); areas (N,) object areas
    (default: box area * 0.53); boxes (N, 4) x0, y0, x1, y1 (default: labelled points'
    extent); scores (N,) detection scores (default 1). Returns ``AP_KEYS`` and
    ``instances``. People with no labelled point must be left out by the caller.

    ``pred_image_ids`` (M,): the predictions are detections of their own (M of them,
    e.g. from a person detector's boxes), matched to the ground truth of their image by
    COCOeval; ``scores`` is then (M,). Images are those of the ground truth.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = np.asarray(gt, np.float64)
    pred = np.asarray(pred, np.float64)
    n, k = gt.shape[:2]
    sigmas = np.asarray(sigmas, np.float64)
    if sigmas.shape != (k,):
        raise ValueError(f"{k} keypoints but {sigmas.shape} sigmas")
    if n == 0:
        raise ValueError("no instances to evaluate")
    vis = gt[..., 2] > 0
    if boxes is None:
        boxes = []
        for i in range(n):
            xy = gt[i, vis[i], :2]
            boxes.append((*xy.min(0), *xy.max(0)) if len(xy) else (0, 0, 0, 0))
    boxes = np.asarray(boxes, np.float64).reshape(n, 4)
    wh = np.maximum(boxes[:, 2:] - boxes[:, :2], 0)
    if areas is None:
        areas = wh[:, 0] * wh[:, 1] * AREA_FROM_BOX
    areas = np.asarray(areas, np.float64).reshape(n)
    m = n if pred_image_ids is None else len(pred_image_ids)
    scores = np.ones(m) if scores is None else np.asarray(scores, np.float64).reshape(m)

    ids = {}
    img_int = [ids.setdefault(i, len(ids) + 1) for i in image_ids]
    images = [{"id": v} for v in ids.values()]
    anns, dets = [], []
    for i in range(n):
        g = gt[i].copy()
        g[~vis[i]] = 0
        anns.append({"id": i + 1, "image_id": img_int[i], "category_id": 1, "iscrowd": 0,
                     "keypoints": g.reshape(-1).tolist(), "num_keypoints": int(vis[i].sum()),
                     "area": float(areas[i]),
                     "bbox": [float(boxes[i, 0]), float(boxes[i, 1]), float(wh[i, 0]), float(wh[i, 1])]})
    det_img = img_int if pred_image_ids is None else [ids.get(i) for i in pred_image_ids]
    for j in range(m):
        if det_img[j] is None:  # an image without annotated people is not evaluated
            continue
        p = np.zeros((k, 3))
        p[:, :2] = np.nan_to_num(pred[j, :, :2], nan=-1e6, posinf=-1e6, neginf=-1e6)
        p[:, 2] = 1.0
        dets.append({"image_id": det_img[j], "category_id": 1,
                     "keypoints": p.reshape(-1).tolist(), "score": float(scores[j])})
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO()
        cgt.dataset = {"images": images, "annotations": anns,
                       "categories": [{"id": 1, "name": "person"}]}
        cgt.createIndex()
        cdt = cgt.loadRes(dets)
        ev = COCOeval(cgt, cdt, "keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        ev.params.imgIds = sorted(ids.values())
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # pycocotools says -1 for "no such people" (e.g. no medium-sized person): NaN here
    out = {key: float(v) if v >= 0 else float("nan") for key, v in zip(AP_KEYS, ev.stats)}
    out["instances"] = int(n)
    return out


# --------------------------------------------------------------------------- tables

HEADLINE_KEYS = ("AP", "PCKh@0.5", "PCK@0.2")


def headline(result) -> float:
    """The one number a result stands for: AP, PCKh@0.5 or PCK@0.2 (a bare number as is)."""
    if isinstance(result, (int, float)):
        return float(result)
    for key in HEADLINE_KEYS:
        if key in result:
            return float(result[key])
    raise KeyError(f"no headline metric ({', '.join(HEADLINE_KEYS)}) in {sorted(result)}")


def paper_table(results: dict, datasets=None, *, percent: bool = True,
                digits: int = 1) -> tuple[str, dict]:
    """Rows = models, columns = datasets + average, as in the paper's tables.

    ``results``: {model: {dataset: result}} where a result is an evaluation dict (its
    headline metric is used: AP, PCKh@0.5 or PCK@0.2) or a number in [0, 1].
    ``datasets``: column order (default: first-seen order). A missing cell shows as
    "-"; the average is over the datasets a model has, and is marked ``*`` when that is
    not all of them. Returns (markdown, {model: {dataset: value, "average": value}})
    with values as fractions in [0, 1].
    """
    if datasets is None:
        datasets = []
        for row in results.values():
            for d in row:
                if d not in datasets:
                    datasets.append(d)
    datasets = list(datasets)
    scale = 100.0 if percent else 1.0
    fmt = f"{{:.{digits}f}}"
    table: dict = {}
    any_partial = False
    lines = ["| model | " + " | ".join(datasets) + " | average |",
             "|---|" + "---:|" * (len(datasets) + 1)]
    for model, row in results.items():
        vals = {d: headline(row[d]) for d in datasets if d in row}
        finite = [v for v in vals.values() if np.isfinite(v)]
        avg = float(np.mean(finite)) if finite else float("nan")
        table[model] = {**vals, "average": avg}
        cells = [fmt.format(vals[d] * scale) if d in vals and np.isfinite(vals[d]) else "-"
                 for d in datasets]
        partial = len(finite) < len(datasets)
        any_partial |= partial and bool(finite)
        avg_cell = "-" if not finite else fmt.format(avg * scale) + ("*" if partial else "")
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {avg_cell} |")
    md = "\n".join(lines)
    if any_partial:
        md += "\n\n\\* average over the datasets the model was evaluated on"
    return md, table
