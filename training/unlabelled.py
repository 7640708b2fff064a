"""Images with people and no labels (format "unlabelled", ``read_unlabelled``): the
person detector's boxes, cached, keypoints and mask empty (the teachers teach them)."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.engine.runtime.boxes import iou
from uniskel.training.instances import (SPLIT_MOD, SPLIT_VAL, SPLITS, Instance, _load_json,
                                        _Reporter, split_part)
from uniskel.training.labelled import read_lsp, read_mpii

log = logging.getLogger("uniskel.training.datasets")  # one logger for every reader


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


def is_labelled_person(box, people) -> bool:
    """Whether a detected ``box`` is one of ``people`` ([(box, points)]): IoU with their
    box >= SAME_PERSON_IOU, or holding >= SAME_PERSON_POINTS of their labelled points."""
    for pbox, pts in people:
        if iou(box, pbox) >= SAME_PERSON_IOU:
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
