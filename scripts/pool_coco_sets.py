"""Pool several COCO-format keypoint sets into one, for a single ``uniskel eval``.

Each set is ``ANNOTATIONS:IMAGES`` or ``ANNOTATIONS:IMAGES:PART`` (``train`` / ``val``:
keep one part of the image-id split of training/datasets.py, e.g. coco_mini's held-out
"val" images). Images are linked (not copied) into ``OUT/images`` under new names;
image and annotation ids are renumbered; the result is ``OUT/ann.json``.

    python scripts/pool_coco_sets.py --out runs/pooled \\
        --set ../shared/data/format_samples/coco/test_coco.json:../shared/data/format_samples/coco \\
        --set ../shared/data/format_samples/ochuman/test_ochuman.json:../shared/data/format_samples/ochuman \\
        --set ../shared/data/coco_mini/annotations/person_keypoints_train2017.json:../shared/data/coco_mini/train2017:val
    uniskel eval --format coco --images runs/pooled/images --annotations runs/pooled/ann.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pool(sets, out: Path) -> dict:
    from uniskel.training.datasets import read

    (out / "images").mkdir(parents=True, exist_ok=True)
    merged = {"images": [], "annotations": [], "categories": []}
    image_id = ann_id = 0
    for k, (ann, images, part) in enumerate(sets):
        ann, images = Path(ann).resolve(), Path(images).resolve()
        data = json.loads(ann.read_text())
        merged["categories"] = merged["categories"] or data.get("categories", [])
        keep = {im["id"] for im in data["images"]}
        if part:
            keep = {i.image_id for i in read("coco", ann, images, split=part, on_error="skip")}
        new_ids = {}
        for im in data["images"]:
            if im["id"] not in keep:
                continue
            image_id += 1
            new_ids[im["id"]] = image_id
            name = f"set{k}_{im['file_name']}"
            link = out / "images" / name
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(images / im["file_name"], link)
            merged["images"].append({**im, "id": image_id, "file_name": name})
        for a in data["annotations"]:
            if a["image_id"] in new_ids:
                ann_id += 1
                merged["annotations"].append({**a, "id": ann_id,
                                              "image_id": new_ids[a["image_id"]]})
    (out / "ann.json").write_text(json.dumps(merged))
    return merged


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--set", action="append", required=True, metavar="ANN:IMAGES[:PART]")
    a = p.parse_args(argv)
    sets = []
    for s in a.set:
        parts = s.split(":")
        if len(parts) not in (2, 3):
            p.error(f"--set {s!r}: expected ANNOTATIONS:IMAGES or ANNOTATIONS:IMAGES:PART")
        sets.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    m = pool(sets, a.out)
    people = sum(1 for x in m["annotations"] if x.get("num_keypoints", 0) > 0
                 and not x.get("iscrowd"))
    print(f"{a.out / 'ann.json'}: {len(m['images'])} images, {people} people with keypoints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
