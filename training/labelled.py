"""The labelled formats' readers: COCO keypoint JSON and the COCO-like files of Halpe,
AI Challenger and CrowdPose; MPII's JSON; LSP and LSP-extended ``joints.mat`` (each
reader's docstring says exactly what it reads; the conventions are
training/datasets.py's, where ``read`` picks a reader by format)."""
from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training.instances import (Instance, _check_image, _coco_visibility, _EntryError,
                                        _extent, _load_json, _numbers, _Reporter, _unify)


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
            rep.keep(out, where, lambda: _coco_instance(ann, img, image_dir, mapping, dataset,
                                                        counts, check_images), ann_file)
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
        rep.keep(out, where, lambda: _mpii_instance(entry, i, image_dir, mapping, check_images),
                 ann_file)
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
