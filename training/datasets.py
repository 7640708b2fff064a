"""Dataset readers: one annotation file -> a list of ``Instance`` on the unified 21 points.

Formats (each reader's docstring says exactly what it reads):

- COCO keypoint JSON (``read_coco``, through pycocotools), and the COCO-like files of
  Halpe (``read_halpe``: the first 26 body points of its 136), AI Challenger
  (``read_aic``) and CrowdPose (``read_crowdpose``);
- MPII in the JSON layout of the common toolkits (``read_mpii``: ``center``/``scale``,
  ``joints``, ``joints_vis``);
- LSP and LSP-extended ``joints.mat`` (``read_lsp``);
- images with people and no labels (``read_unlabelled``, format "unlabelled"): the
  person detector's boxes, cached, keypoints and mask empty (the teachers teach them).

Conventions, the same for every reader:

- ``Instance.keypoints`` is (21, 3) float64 ``x, y, v`` in image pixels with COCO's
  visibility codes: 0 = not labelled, 1 = labelled but occluded, 2 = labelled and
  visible. A format that does not separate occluded from visible labels gives 2.
  Points the dataset does not annotate are (0, 0, 0).
- ``Instance.mask`` (21,) bool = "annotated here": the dataset's mapping annotates the
  point (``DatasetMapping.mask``) *and* this person has it labelled (v > 0). Derived
  points (thorax/pelvis midpoints) are never in the mask; training derives them.
- ``Instance.box`` is (x0, y0, x1, y1) in image pixels.

Malformed input is reported with the file and the entry. A problem with the whole file
(missing, unreadable, not JSON, wrong layout) always raises ``UniskelError``. A problem
with one entry (wrong keypoint count, NaN, missing fields, an image listed but not on
disk) raises with ``on_error="raise"`` (the default) or, with ``on_error="skip"``, logs a
warning for that entry, leaves it out, and logs the count at the end; pass a list as
``problems`` to collect the messages. Entries that are valid but hold nobody to learn
from (COCO ``iscrowd``, ``num_keypoints == 0``, no labelled mapped point) are left out
as the datasets' own tools do, and counted at INFO level. Images are checked to exist
(``check_images``); whether they decode is found by ``load_image`` when they are read.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

log = logging.getLogger(__name__)

ON_ERROR = ("raise", "skip")


@dataclass
class Instance:
    """One annotated person."""

    image: Path
    box: tuple[float, float, float, float]
    keypoints: np.ndarray  # (21, 3) x, y, v (0 / 1 / 2, COCO-style)
    mask: np.ndarray  # (21,) bool: annotated here
    dataset: str  # its mapping's name: skeleton.MAPPINGS[dataset] is its mapping
    image_id: int | str
    ann_id: int | str | None = None
    index: int = 0  # position of the entry in its annotation file
    source: str = ""  # the annotation file
    area: float | None = None  # segmentation area where the file gives one (OKS scale)
    meta: dict = field(default_factory=dict)  # extras: MPII center/scale/headbox, LSP layout

    def where(self) -> str:
        """Where this instance came from, for error messages."""
        parts = [f"entry {self.index}", f"image {self.image_id}"]
        if self.ann_id is not None:
            parts.append(f"annotation id {self.ann_id}")
        return f"{self.source or self.dataset}: " + ", ".join(parts)


class _EntryError(Exception):
    """One entry of a file is malformed (the message says how)."""


class _Reporter:
    """Raise or skip-and-warn for malformed entries of one file; count what was left out."""

    def __init__(self, path, on_error: str, problems: list | None):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.path, self.on_error, self.problems = str(path), on_error, problems
        self.bad = 0
        self.empty = 0

    def error(self, where: str, msg: str) -> None:
        line = f"{self.path}: {where}: {msg}"
        if self.on_error == "raise":
            raise UniskelError(line)
        self.bad += 1
        log.warning("skipped %s", line)
        if self.problems is not None:
            self.problems.append(line)

    def finish(self, kept: int) -> None:
        if self.bad:
            log.warning("%s: skipped %d malformed entr%s (kept %d)", self.path, self.bad,
                        "y" if self.bad == 1 else "ies", kept)
        if self.empty:
            log.info("%s: left out %d entries with nothing to learn from (crowd, no labelled "
                     "keypoints)", self.path, self.empty)


# --------------------------------------------------------------------------- helpers

def _load_json(path: Path):
    if not path.is_file():
        raise UniskelError(f"annotation file not found: {path}")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise UniskelError(f"{path}: not valid JSON (line {e.lineno} column {e.colno}: "
                           f"{e.msg}); the file may be truncated") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UniskelError(f"{path}: cannot read ({e})") from None


def _numbers(values, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise _EntryError(f"{what} are not numbers") from None
    if not np.all(np.isfinite(arr)):
        raise _EntryError(f"{what} contain NaN or infinity")
    return arr


def _coco_visibility(v: np.ndarray) -> np.ndarray:
    """Any labelled code -> 1 (occluded) or 2 (visible); 0 / negative -> 0."""
    return np.where(v >= 2, 2.0, np.where(v > 0, 1.0, 0.0))


def _unify(mapping: skeleton.DatasetMapping, native: np.ndarray):
    """Native (K, 3) x, y, v -> unified keypoints (21, 3) and the annotated-here mask."""
    kpts = mapping.convert(native)
    labelled = kpts[:, 2] > 0
    mask = mapping.mask & labelled
    kpts[~mask] = 0.0
    return kpts, mask


def _extent(kpts: np.ndarray, mask: np.ndarray):
    """Box around the labelled points, clipped at 0 (None for fewer than two points)."""
    if mask.sum() < 2:
        return None
    xy = kpts[mask, :2]
    x0, y0 = np.maximum(xy.min(0), 0.0)
    x1, y1 = xy.max(0)
    if x1 <= x0 or y1 <= y0:
        return None
    return float(x0), float(y0), float(x1), float(y1)


def _check_image(path: Path, check: bool) -> None:
    if check and not path.is_file():
        raise _EntryError(f"image file not found: {path}")


def load_image(inst: Instance) -> np.ndarray:
    """The instance's image as RGB uint8 (H, W, 3); UniskelError naming file and entry."""
    import cv2

    path = Path(inst.image)
    if not path.is_file():
        raise UniskelError(f"image not found: {path} ({inst.where()})")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as e:
        raise UniskelError(f"cannot read image {path} ({inst.where()}): {e}") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise UniskelError(f"cannot decode image {path} ({inst.where()}): not a readable "
                           "image file")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------- COCO-like

def _pycoco(data: dict):
    """A pycocotools COCO index over already-validated data (its prints silenced)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def read_coco(ann_file, image_dir, *, mapping: skeleton.DatasetMapping = skeleton.COCO,
              dataset: str | None = None, native_counts: tuple[int, ...] | None = None,
              on_error: str = "raise", check_images: bool = True,
              problems: list | None = None) -> list[Instance]:
    """A COCO-style keypoint file (``images``, ``annotations`` with ``keypoints`` as
    x, y, v triplets and ``bbox`` as x, y, w, h).

    ``native_counts``: accepted keypoints per annotation (default: the mapping's); the
    first ``mapping.num_native`` are used. ``iscrowd`` and ``num_keypoints == 0``
    annotations are left out; with a ``person`` category, only its annotations are read.
    The box is ``bbox`` clipped to the image, or the labelled points' extent where
    ``bbox`` is missing or empty. Instances come in the file's image order.
    """
    ann_file, image_dir = Path(ann_file), Path(image_dir)
    dataset = dataset or mapping.name  # keep it a skeleton.MAPPINGS key
    counts = tuple(native_counts or (mapping.num_native,))
    rep = _Reporter(ann_file, on_error, problems)
    data = _load_json(ann_file)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("images"), list):
        raise UniskelError(f"{ann_file}: not a COCO-style keypoint file (needs lists "
                           "'images' and 'annotations')")

    # Entries pycocotools cannot index are reported here, then left out of its index.
    images = []
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("file_name"), str):
            rep.error(f"images[{i}]", "needs 'id' and 'file_name'")
        else:
            images.append(img)
    anns = []
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or "id" not in ann:
            rep.error(f"annotations[{i}]", "needs 'id' and 'image_id'")
        else:
            ann = dict(ann)
            ann["_index"] = i
            anns.append(ann)
    coco = _pycoco({"images": images, "annotations": anns,
                    "categories": [c for c in data.get("categories", []) if isinstance(c, dict)]})

    person = [c["id"] for c in coco.dataset["categories"] if c.get("name") == "person"]
    out: list[Instance] = []
    seen_images = set()
    for img in images:
        if img["id"] in seen_images:
            continue
        seen_images.add(img["id"])
        for ann in coco.imgToAnns.get(img["id"], []):
            if person and ann.get("category_id") not in person:
                continue
            if ann.get("iscrowd") or ann.get("num_keypoints", 1) == 0:
                rep.empty += 1
                continue
            where = f"annotation id {ann['id']} (image id {img['id']}, annotations[{ann['_index']}])"
            try:
                inst = _coco_instance(ann, img, image_dir, mapping, dataset, counts, check_images)
            except _EntryError as e:
                rep.error(where, str(e))
                continue
            if inst is None:
                rep.empty += 1
                continue
            inst.source = str(ann_file)
            out.append(inst)
    unknown = [a for a in anns if a["image_id"] not in coco.imgs]
    for a in unknown:
        rep.error(f"annotation id {a['id']} (annotations[{a['_index']}])",
                  f"image id {a['image_id']} is not in 'images'")
    rep.finish(len(out))
    return out


def _coco_instance(ann, img, image_dir, mapping, dataset, counts, check_images):
    kp = ann.get("keypoints")
    if not isinstance(kp, list):
        raise _EntryError("has no 'keypoints' list")
    if len(kp) % 3 or len(kp) // 3 not in counts:
        want = " or ".join(f"{3 * c} ({c} x 3)" for c in counts)
        raise _EntryError(f"expected {want} keypoint values, got {len(kp)}")
    native = _numbers(kp, "keypoint values").reshape(-1, 3)[: mapping.num_native].copy()
    native[:, 2] = _coco_visibility(native[:, 2])
    kpts, mask = _unify(mapping, native)
    if not mask.any():
        return None

    w_img, h_img = img.get("width"), img.get("height")
    box = None
    bbox = ann.get("bbox")
    if bbox is not None:
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise _EntryError(f"'bbox' must be [x, y, w, h], got {bbox!r}")
        x, y, w, h = _numbers(bbox, "'bbox' values")
        x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), x + w, y + h
        if isinstance(w_img, (int, float)) and isinstance(h_img, (int, float)):
            x1, y1 = min(x1, w_img - 1.0), min(y1, h_img - 1.0)
        if x1 > x0 and y1 > y0:
            box = (float(x0), float(y0), float(x1), float(y1))
    if box is None:
        box = _extent(kpts, mask)
        if box is None:
            raise _EntryError("has no usable 'bbox' and too few labelled keypoints for one")

    path = image_dir / img["file_name"]
    _check_image(path, check_images)
    area = ann.get("area")
    area = float(area) if isinstance(area, (int, float)) and math.isfinite(area) and area > 0 else None
    return Instance(image=path, box=box, keypoints=kpts, mask=mask, dataset=dataset,
                    image_id=img["id"], ann_id=ann["id"], index=ann["_index"], area=area)


def read_halpe(ann_file, image_dir, **kw) -> list[Instance]:
    """Halpe-FullBody (COCO-style, 136 points: 26 body, then face and hands); reads the
    26 body points (files with only those 26 are accepted too). Halpe's images are
    COCO's, so ``image_dir`` is usually a COCO image folder."""
    return read_coco(ann_file, image_dir, mapping=skeleton.HALPE, native_counts=(136, 26), **kw)


def read_aic(ann_file, image_dir, **kw) -> list[Instance]:
    """AI Challenger keypoints converted to COCO-style JSON (14 points, COCO visibility)."""
    return read_coco(ann_file, image_dir, mapping=skeleton.AIC, **kw)


def read_crowdpose(ann_file, image_dir, **kw) -> list[Instance]:
    """CrowdPose (COCO-style JSON, 14 points)."""
    return read_coco(ann_file, image_dir, mapping=skeleton.CROWDPOSE, **kw)


# --------------------------------------------------------------------------- MPII

def read_mpii(ann_file, image_dir, *, on_error: str = "raise", check_images: bool = True,
              problems: list | None = None) -> list[Instance]:
    """MPII in the JSON layout of mmpose / HRNet: a list of entries with ``image``,
    ``center`` (x, y), ``scale`` (person height / 200 px), ``joints`` (16 x 2, MPII
    order) and ``joints_vis`` (16, 1 = labelled; unlabelled joints carry -1, -1).

    ``joints_vis`` does not say whether a labelled joint is occluded, so labelled -> v=2.
    Box: the square ``center +- scale * 200 / 2``. An optional ``headbox``
    ([x0, y0, x1, y1], as in MPII's own annotations) is kept in ``meta`` for PCKh.
    """
    ann_file, image_dir = Path(ann_file), Path(image_dir)
    rep = _Reporter(ann_file, on_error, problems)
    data = _load_json(ann_file)
    if not isinstance(data, list):
        raise UniskelError(f"{ann_file}: not an MPII JSON file (expected a list of entries "
                           "with 'image', 'center', 'scale', 'joints', 'joints_vis')")
    mapping = skeleton.MPII
    out = []
    for i, entry in enumerate(data):
        name = entry.get("image") if isinstance(entry, dict) else None
        where = f"entry {i}" + (f" (image {name})" if isinstance(name, str) else "")
        try:
            inst = _mpii_instance(entry, i, image_dir, mapping, check_images)
        except _EntryError as e:
            rep.error(where, str(e))
            continue
        if inst is None:
            rep.empty += 1
            continue
        inst.source = str(ann_file)
        out.append(inst)
    rep.finish(len(out))
    return out


def _mpii_instance(entry, i, image_dir, mapping, check_images):
    if not isinstance(entry, dict):
        raise _EntryError("is not an object")
    missing = [k for k in ("image", "center", "scale", "joints", "joints_vis") if k not in entry]
    if missing:
        raise _EntryError(f"lacks {', '.join(repr(k) for k in missing)}")
    if not isinstance(entry["image"], str):
        raise _EntryError("'image' is not a file name")
    joints = _numbers(entry["joints"], "'joints'")
    vis = _numbers(entry["joints_vis"], "'joints_vis'")
    n = mapping.num_native
    if joints.shape != (n, 2):
        raise _EntryError(f"expected {n} joints of x, y, got an array of shape {joints.shape}")
    if vis.shape != (n,):
        raise _EntryError(f"expected {n} 'joints_vis' values, got shape {vis.shape}")
    center = _numbers(entry["center"], "'center'")
    scale = _numbers(entry["scale"], "'scale'")
    if center.shape != (2,) or scale.size != 1 or float(scale.reshape(-1)[0]) <= 0:
        raise _EntryError("'center' must be [x, y] and 'scale' a positive number")
    scale = float(scale.reshape(-1)[0])
    native = np.concatenate([joints, np.where(vis > 0, 2.0, 0.0)[:, None]], axis=1)
    kpts, mask = _unify(mapping, native)
    if not mask.any():
        return None
    half = scale * 200.0 / 2
    box = (float(center[0] - half), float(center[1] - half),
           float(center[0] + half), float(center[1] + half))
    meta = {"center": center.tolist(), "scale": scale}
    if "headbox" in entry:
        hb = _numbers(entry["headbox"], "'headbox'").reshape(-1)
        if hb.shape != (4,):
            raise _EntryError("'headbox' must be [x0, y0, x1, y1]")
        meta["headbox"] = hb.tolist()
    path = image_dir / entry["image"]
    _check_image(path, check_images)
    return Instance(image=path, box=box, keypoints=kpts, mask=mask, dataset="mpii",
                    image_id=entry["image"], ann_id=None, index=i, meta=meta)


# --------------------------------------------------------------------------- LSP / LSPET

def _lsp_image(image_dir: Path, k: int, layout: str) -> Path:
    """LSPET names images im00001.jpg, the original LSP im0001.jpg; take whichever exists."""
    five, four = image_dir / f"im{k + 1:05d}.jpg", image_dir / f"im{k + 1:04d}.jpg"
    first, second = (five, four) if layout == "lspet" else (four, five)
    if first.is_file() or not second.is_file():
        return first
    return second


def read_lsp(joints_file, image_dir, *, index_range: tuple[int | None, int | None] | None = None,
             on_error: str = "raise", check_images: bool = True,
             problems: list | None = None) -> list[Instance]:
    """LSP / LSP-extended ``joints.mat`` (variable ``joints``), 14 joints in LSP order.

    Two layouts, told apart by shape:

    - LSPET (Johnson & Everingham 2011), ``(14, 3, N)``: columns x, y, visible. In this
      file ``visible == 0`` marks a joint that was not labelled (its coordinates are
      0 / negative placeholders: every one of LSPET's 13,511 zeros has a zero
      coordinate), so ``visible == 1`` -> labelled, v = 2; ``0`` -> not labelled.
    - the original LSP (2,000 images), ``(3, 14, N)``: rows x, y, is-occluded. Every
      joint is labelled there, occluded ones included: flag 0 -> v = 2, flag 1 -> v = 1.

    ``Instance.dataset`` is "lsp" for both; ``meta["layout"]`` is "lspet" or "lsp".
    Image ``k`` (0-based) is ``im{k+1:05d}.jpg`` (LSPET) or ``im{k+1:04d}.jpg`` (LSP).
    ``index_range`` = (start, stop) over ``k``, Python slice style (LSPET's last 500 =
    ``(7500, 8000)``). Box: the labelled joints' extent, clipped at 0 (a few visible
    joints sit a pixel outside the image); the crop padding adds the margin.
    """
    joints_file, image_dir = Path(joints_file), Path(image_dir)
    if not joints_file.is_file():
        raise UniskelError(f"joints file not found: {joints_file}")
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(joints_file))
    except Exception as e:  # scipy raises several types for a bad file
        raise UniskelError(f"{joints_file}: not a readable MATLAB file ({e})") from None
    if "joints" not in mat:
        names = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise UniskelError(f"{joints_file}: no variable 'joints' (variables: {names})")
    j = np.asarray(mat["joints"], dtype=np.float64)
    n = skeleton.LSP.num_native
    if j.ndim == 3 and j.shape[:2] == (n, 3):
        layout, arr = "lspet", j.transpose(2, 0, 1)  # (N, 14, 3)
    elif j.ndim == 3 and j.shape[:2] == (3, n):
        layout, arr = "lsp", j.transpose(2, 1, 0)
    else:
        raise UniskelError(f"{joints_file}: 'joints' has shape {j.shape}; expected (14, 3, N) "
                           "(LSP-extended) or (3, 14, N) (LSP)")
    total = arr.shape[0]
    start, stop = index_range or (None, None)
    start = 0 if start is None else start
    stop = total if stop is None else stop
    if not (0 <= start < stop <= total):
        raise UniskelError(f"{joints_file}: range {start}:{stop} is outside its {total} entries")

    rep = _Reporter(joints_file, on_error, problems)
    out = []
    for k in range(start, stop):
        path = _lsp_image(image_dir, k, layout)
        where = f"entry {k} ({path.name})"
        try:
            native = _numbers(arr[k], "joint values").copy()
            if layout == "lspet":
                native[:, 2] = np.where(native[:, 2] > 0, 2.0, 0.0)
            else:
                native[:, 2] = np.where(native[:, 2] > 0, 1.0, 2.0)
            kpts, mask = _unify(skeleton.LSP, native)
            box = _extent(kpts, mask)
            if box is None:
                rep.empty += 1
                continue
            _check_image(path, check_images)
        except _EntryError as e:
            rep.error(where, str(e))
            continue
        out.append(Instance(image=path, box=box, keypoints=kpts, mask=mask, dataset="lsp",
                            image_id=path.stem, ann_id=None, index=k, source=str(joints_file),
                            meta={"layout": layout}))
    rep.finish(len(out))
    return out


# --------------------------------------------------------------------------- unlabelled

# Images with people and no labels (ccp_photos; the people of a labelled set nobody
# labelled): the people are the bundled person detector's boxes (engine/runtime/detector.py,
# NanoDet), found once and cached, and the samples carry no ground truth (mask all
# false), so the teachers alone teach them.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
BOXES_VERSION = 2
DETECT_SIZE = 416          # the detector's input (its longer side), as for several people
DETECT_MIN_SCORE = 0.3     # what the cache keeps (the detector's own floor)
MIN_SCORE = 0.35           # what training takes: a person at least this sure ...
MIN_HEIGHT = 96.0          # ... and this tall in image pixels (the detector finds 85-92%
                           # of people over 96 px; teachers on smaller crops guess)
DETECT_PAD = 0.25          # the detector also sees the image with this border (of the
                           # longer side) all round: NanoDet misses a person who fills
                           # the frame's height (123 of ccp_photos' 2,098 photos: no box
                           # at all) and finds them at 0.8 once they fill less of it
MERGE_IOU = 0.5            # the two passes' boxes merged by NMS at this overlap
SAME_PERSON_IOU = 0.3      # a detection is a labelled person when its box overlaps theirs
SAME_PERSON_POINTS = 0.5   # this much (IoU) or holds this share of their labelled points


def image_files(image_dir) -> list[Path]:
    """The image files directly in ``image_dir``, sorted by name (an image's position in
    this list is its index: LSPET's im00001.jpg is 0, as in joints.mat)."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise UniskelError(f"image folder not found: {image_dir}")
    return sorted(p for p in image_dir.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def detector_key(detector_path=None, size: int = DETECT_SIZE) -> dict:
    """What the cached boxes depend on: the detector file's checksum and its settings."""
    from uniskel.engine import assets
    path = Path(detector_path) if detector_path else assets.default_detector()
    if not path.is_file():
        raise UniskelError(f"person detector not found: {path}")
    return {"detector": path.name, "sha256": assets.sha256(path), "size": int(size),
            "min_score": DETECT_MIN_SCORE, "pad": DETECT_PAD, "merge_iou": MERGE_IOU}


def detect_people(det, rgb: np.ndarray) -> list:
    """``det``'s people in ``rgb``: its boxes on the image and on the image framed by a
    grey border of ``DETECT_PAD`` (moved back, clipped to the image), merged by NMS."""
    import cv2

    from uniskel.engine.runtime.boxes import nms
    h, w = rgb.shape[:2]
    p = int(round(DETECT_PAD * max(h, w)))
    framed = cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    found = list(det.detect(rgb))
    for x0, y0, x1, y1, score in det.detect(framed):
        x0, y0 = max(0.0, x0 - p), max(0.0, y0 - p)
        x1, y1 = min(float(w), x1 - p), min(float(h), y1 - p)
        if x1 > x0 and y1 > y0:
            found.append((x0, y0, x1, y1, score))
    return nms(found, MERGE_IOU)


def _stamp(path: Path) -> str:
    """The image's content digest (BLAKE2b, 128 bits): survives copies and moves, changes
    with any edit (7,500 LSPET images: about a second)."""
    import hashlib
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _read_box_cache(cache: Path, key: dict) -> dict:
    """The cached {image file name: {"stamp", "boxes"}} when ``cache`` was written with ``key``;
    {} (and a log line saying why) when it is absent, unreadable or stale."""
    if not cache.is_file():
        return {}
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        log.warning("%s: person-box cache unreadable (%s); finding the people again", cache, e)
        return {}
    if not isinstance(data, dict) or data.get("version") != BOXES_VERSION \
            or not isinstance(data.get("images"), dict):
        log.warning("%s: not a person-box cache of version %d; finding the people again",
                    cache, BOXES_VERSION)
        return {}
    if data.get("key") != key:
        log.warning("%s: person boxes found by another detector or settings (%s, now %s); "
                    "finding the people again", cache, data.get("key"), key)
        return {}
    return data["images"]


def person_boxes(images: list[Path], cache, *, detector_path=None, size: int = DETECT_SIZE,
                 on_error: str = "raise", problems: list | None = None) -> list[list]:
    """Per image, the detector's people ``[x0, y0, x1, y1, score]`` (image pixels, score
    >= ``DETECT_MIN_SCORE``; ``detect_people``), from the JSON file ``cache`` where it
    holds them.

    The cache is keyed by each image's path inside its folder (its file name) with its
    content digest, and by the detector's checksum and settings (``detector_key``): an
    entry whose image changed is found again, and the whole cache when the detector
    changed; a copied or moved image folder keeps its cache (``uniskel pack``). Only
    the images missing from it run the detector, which is built only then; the file is
    rewritten (whole, under a temporary name, then renamed) when anything was added."""
    cache = Path(cache)
    key = detector_key(detector_path, size)
    held = _read_box_cache(cache, key)
    rep = _Reporter(cache, on_error, problems)
    names = [Path(p).name for p in images]
    stamps = [_stamp(Path(p)) for p in images]
    todo = [i for i, (n, s) in enumerate(zip(names, stamps))
            if not (isinstance(held.get(n), dict) and held[n].get("stamp") == s
                    and isinstance(held[n].get("boxes"), list))]
    if todo:
        import cv2

        from uniskel.engine.runtime.detector import NanoDetDetector
        log.info("%s: finding the people in %d of %d images (NanoDet, once)", cache,
                 len(todo), len(images))
        det = NanoDetDetector(detector_path, size=size, min_score=DETECT_MIN_SCORE)
        try:
            for i in todo:
                img = cv2.imread(str(images[i]))
                if img is None:
                    rep.error(f"image {images[i]}", "does not decode")
                    held[names[i]] = {"stamp": stamps[i], "boxes": []}
                    continue
                found = detect_people(det, cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
                held[names[i]] = {"stamp": stamps[i],
                                  "boxes": [[round(float(v), 2) for v in b] for b in found]}
        finally:
            det.close()
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")  # ranks may write at once
        tmp.write_text(json.dumps({"version": BOXES_VERSION, "key": key, "images": held}),
                       encoding="utf-8")
        tmp.replace(cache)
        rep.finish(len(images) - rep.bad)
    return [held[n]["boxes"] for n in names]


def _labelled_people(ann_file: Path) -> dict[str, list]:
    """{image file name: [(box, labelled points (k, 2))]} of a labelled file of the same
    images (COCO-style JSON, MPII JSON list, or LSP joints.mat): whom to leave out."""
    if ann_file.suffix.lower() == ".mat":
        insts = read_lsp(ann_file, ann_file.parent, on_error="skip", check_images=False)
    else:
        data = _load_json(ann_file)
        if isinstance(data, list):
            insts = read_mpii(ann_file, ann_file.parent, on_error="skip", check_images=False)
        else:
            return _coco_people(ann_file, data)
    out: dict[str, list] = {}
    for inst in insts:
        out.setdefault(Path(inst.image).name, []).append(
            (inst.box, inst.keypoints[inst.mask, :2]))
    return out


def _coco_people(ann_file: Path, data) -> dict[str, list]:
    """Every annotated person and crowd region of a COCO-style file, whatever its
    keypoint count (so Halpe, AIC and CrowdPose files work too)."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise UniskelError(f"{ann_file}: not a COCO-style file (needs lists 'images' and "
                           "'annotations'), nor an MPII list or an LSP joints.mat")
    names = {img.get("id"): img.get("file_name") for img in data["images"]
             if isinstance(img, dict)}
    out: dict[str, list] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or names.get(ann.get("image_id")) is None:
            continue
        try:
            x, y, w, h = (float(v) for v in ann.get("bbox"))
            kp = np.asarray(ann.get("keypoints") or [], np.float64).reshape(-1, 3)
        except (TypeError, ValueError):
            continue
        out.setdefault(Path(names[ann["image_id"]]).name, []).append(
            ((x, y, x + w, y + h), kp[kp[:, 2] > 0, :2]))
    return out


def _box_iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def is_labelled_person(box, people) -> bool:
    """Whether a detected ``box`` is one of ``people`` ([(box, points)]): IoU with their
    box >= SAME_PERSON_IOU, or holding >= SAME_PERSON_POINTS of their labelled points."""
    for pbox, pts in people:
        if _box_iou(box, pbox) >= SAME_PERSON_IOU:
            return True
        if len(pts):
            inside = ((pts[:, 0] >= box[0]) & (pts[:, 0] <= box[2])
                      & (pts[:, 1] >= box[1]) & (pts[:, 1] <= box[3]))
            if inside.mean() >= SAME_PERSON_POINTS:
                return True
    return False


def read_unlabelled(ann_file, image_dir, *, cache, index_range=None, split: str | None = None,
                    detector_path=None, min_score: float = MIN_SCORE,
                    min_height: float = MIN_HEIGHT, on_error: str = "raise",
                    check_images: bool = True, problems: list | None = None) -> list[Instance]:
    """The people in the images of ``image_dir`` (``image_files``), found by the person
    detector (``person_boxes``, cached in the JSON file ``cache``): one ``Instance`` per
    person of score >= ``min_score`` and box height >= ``min_height`` px, its keypoints
    all (0, 0, 0) and its mask all False. ``dataset`` is "unlabelled", ``index`` the
    image's position, ``image_id`` its file name's stem, ``meta["score"]`` the
    detector's score.

    ``index_range`` (a, b) and ``split`` ("train" / "val": ``split_part``'s image-id rule
    on numeric file names) choose the images *before* the detector sees any, so a
    held-out part is never even looked at. ``ann_file``: "" for none, or the labelled
    file of the same images (COCO-style JSON, MPII JSON, LSP joints.mat); its labelled
    people (and crowd regions) are then left out (``is_labelled_person``), keeping the
    people nobody labelled."""
    image_dir = Path(image_dir)
    files = image_files(image_dir)
    indexed = list(enumerate(files))
    if index_range is not None:
        a, b = index_range
        indexed = [(k, p) for k, p in indexed if a <= k < b]
    if split is not None:
        if split not in SPLITS:
            raise UniskelError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        try:
            indexed = [(k, p) for k, p in indexed
                       if (int(p.stem) % SPLIT_MOD == SPLIT_VAL) == (split == "val")]
        except ValueError:
            raise UniskelError(f"{image_dir}: a split needs numeric image file names") from None
    labelled = _labelled_people(Path(ann_file)) if str(ann_file).strip() else {}
    boxes = person_boxes([p for _, p in indexed], cache, detector_path=detector_path,
                         on_error=on_error, problems=problems)
    out = []
    left_out = 0
    for (k, path), found in zip(indexed, boxes):
        for j, (x0, y0, x1, y1, score) in enumerate(found):
            if score < min_score or y1 - y0 < min_height:
                continue
            if is_labelled_person((x0, y0, x1, y1), labelled.get(path.name, ())):
                left_out += 1
                continue
            out.append(Instance(image=path, box=(x0, y0, x1, y1),
                                keypoints=np.zeros((skeleton.NUM_KEYPOINTS, 3)),
                                mask=np.zeros(skeleton.NUM_KEYPOINTS, bool),
                                dataset="unlabelled", image_id=path.stem, ann_id=j, index=k,
                                source=str(cache), meta={"score": float(score)}))
    log.info("%s: %d unlabelled people in %d images (%d labelled ones left out)", image_dir,
             len(out), len(indexed), left_out)
    return out


# --------------------------------------------------------------------------- dispatch

READERS = {
    "coco": read_coco,
    "halpe": read_halpe,
    "aic": read_aic,
    "crowdpose": read_crowdpose,
    "mpii": read_mpii,
    "lsp": read_lsp,
    "unlabelled": read_unlabelled,
}


def read(fmt: str, annotations, images, *, split: str | None = None, **kw) -> list[Instance]:
    """``READERS[fmt](annotations, images, **kw)`` with a clear error for an unknown format;
    ``split`` ("train" / "val") keeps that part of the image-id split (``split_part`` below)."""
    if fmt not in READERS:
        raise UniskelError(f"unknown dataset format {fmt!r}; choose one of {', '.join(READERS)}")
    if fmt == "unlabelled":  # chooses its images before the detector sees any
        kw["split"] = split
    instances = READERS[fmt](annotations, images, **kw)
    return instances if split is None else split_part(instances, split)


# A held-out split of an annotation file by image: the images whose numeric id % 4 == 1
# are "val", the rest "train". For coco_mini that is 9 of its 28 images with people (26
# of 86 people); the shipped student trains on "train" only, so "val" is real COCO data
# it never saw (training/configs/student.toml, uniskel eval --split val).
SPLIT_MOD, SPLIT_VAL = 4, 1
SPLITS = ("train", "val")


def split_part(instances: list[Instance], part: str) -> list[Instance]:
    """The instances of ``part`` ("train" or "val") under the image-id rule above."""
    if part not in SPLITS:
        raise UniskelError(f"unknown split {part!r}; choose one of {', '.join(SPLITS)}")
    out = []
    for inst in instances:
        try:
            image_id = int(inst.image_id)
        except (TypeError, ValueError):
            raise UniskelError(f"{inst.where()}: a split needs numeric image ids "
                               f"(got {inst.image_id!r})") from None
        if (image_id % SPLIT_MOD == SPLIT_VAL) == (part == "val"):
            out.append(inst)
    return out


def stack_keypoints(instances: list[Instance]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 21, 3) keypoints and (N, 21) masks of a list of instances."""
    if not instances:
        return np.zeros((0, skeleton.NUM_KEYPOINTS, 3)), np.zeros((0, skeleton.NUM_KEYPOINTS), bool)
    return (np.stack([i.keypoints for i in instances]), np.stack([i.mask for i in instances]))


__all__ = ["Instance", "ON_ERROR", "load_image", "read", "READERS", "read_coco", "read_halpe",
           "read_aic", "read_crowdpose", "read_mpii", "read_lsp", "read_unlabelled",
           "person_boxes", "image_files", "split_part", "SPLITS", "stack_keypoints"]
