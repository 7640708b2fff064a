"""What every dataset reader gives: ``Instance`` (one person on the unified 21 points),
the per-entry error reporting the readers share, ``load_image``, the held-out split by
image id (``split_part``) and ``stack_keypoints``. The conventions are
training/datasets.py's; the readers are training/labelled.py's and
training/unlabelled.py's."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

log = logging.getLogger("uniskel.training.datasets")  # one logger for every reader

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

    def keep(self, out: list, where: str, make, source) -> None:
        """One entry: append what ``make()`` builds to ``out`` (its ``source`` set); a
        malformed entry (``_EntryError``) is reported at ``where``, None counted as empty."""
        try:
            inst = make()
        except _EntryError as e:
            self.error(where, str(e))
            return
        if inst is None:
            self.empty += 1
            return
        inst.source = str(source)
        out.append(inst)

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
