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

Where they live: ``Instance``, the reporting and the split in training/instances.py, the
labelled formats' readers in training/labelled.py, the unlabelled images in
training/unlabelled.py; this module is the front door (``read``, ``READERS``).
"""
from __future__ import annotations

from uniskel.engine.errors import UniskelError
from uniskel.training.instances import (ON_ERROR, SPLITS, Instance, load_image, split_part,
                                        stack_keypoints)
from uniskel.training.labelled import (read_aic, read_coco, read_crowdpose, read_halpe,
                                       read_lsp, read_mpii)
from uniskel.training.unlabelled import image_files, person_boxes, read_unlabelled


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
    ``split`` ("train" / "val") keeps that part of the image-id split (``instances.split_part``)."""
    if fmt not in READERS:
        raise UniskelError(f"unknown dataset format {fmt!r}; choose one of {', '.join(READERS)}")
    if fmt == "unlabelled":  # chooses its images before the detector sees any
        kw["split"] = split
    instances = READERS[fmt](annotations, images, **kw)
    return instances if split is None else split_part(instances, split)


__all__ = ["Instance", "ON_ERROR", "load_image", "read", "READERS", "read_coco", "read_halpe",
           "read_aic", "read_crowdpose", "read_mpii", "read_lsp", "read_unlabelled",
           "person_boxes", "image_files", "split_part", "SPLITS", "stack_keypoints"]
