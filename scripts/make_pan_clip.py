"""Make a crowd clip for tracking checks: a 1280x720, 30 fps camera pan across three
coco128 photos with many people (a street crowd, a group round an aeroplane, a wine
tasting), 3 s each, so that people come into view at one side and leave at the other,
and a cut between scenes (every person new at once).

    python scripts/make_pan_clip.py [OUT]   (default runs/bench/crowd_pan_720p.mp4)

Beside the clip, ``OUT`` with ``.truth.jsonl`` for its suffix: the labelled people's
identities and boxes on every frame, known from the pan's geometry (JSON lines
``{"frame": i, "people": [{"id": "SCENE:ANNOTATION", "box": [x0, y0, x1, y1]}]}``, the
box clipped to the frame; a person is listed while taller than 96 px and at least 3/4 of
their labelled box in view), for ``uniskel bench --truth``.

``scripts/coverage.py`` on it measures who gets a skeleton while people keep coming in
(``make_bench_clip.py``'s street clip has the same few people throughout);
``scripts/coverage.py --set crowd`` counts its labelled people instead.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared/data/coco128/images"
ANNOTATIONS = ROOT.parent / "shared/data/coco128/person_keypoints_train2017.json"
#: (photo, where the window sits between its top and bottom: 0 top .. 1 bottom)
SCENES = (("000000000395.jpg", 0.5), ("000000000542.jpg", 0.5), ("000000000308.jpg", 0.0))
FPS, SECONDS, SIZE = 30, 3, (1280, 720)
VIEW = 0.7  # the window's width, as a share of the photo's
TALL = 96  # px: people shorter than this in the clip are not listed in the truth
IN_VIEW = 0.75  # share of a labelled box that must be in the frame to be listed


def pan(image: np.ndarray, frames: int, place: float = 0.5):
    """A left-to-right camera pan across ``image``: a window ``VIEW`` of its width (or
    its whole height), ``SIZE``'s shape, ``place`` between its top and bottom -> the
    2x3 affine (photo -> clip pixels) of each of ``frames`` frames."""
    h, w = image.shape[:2]
    vw = VIEW * w
    vh = min(vw * SIZE[1] / SIZE[0], h)
    vw = vh * SIZE[0] / SIZE[1]
    y0, s = place * (h - vh), SIZE[0] / vw
    return [np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
            for x0 in np.linspace(0, w - vw, frames)]


def in_view(m, bbox, size=SIZE, tall: float = TALL, share: float = IN_VIEW):
    """A labelled COCO box (x, y, w, h in the photo) through the affine ``m`` -> (box in
    the clip, that box clipped to the frame) when taller than ``tall`` and at least
    ``share`` of it in view, else None."""
    x, y, bw, bh = bbox
    s, dx, dy = float(m[0, 0]), float(m[0, 2]), float(m[1, 2])
    b = (x * s + dx, y * s + dy, (x + bw) * s + dx, (y + bh) * s + dy)
    c = (max(b[0], 0.0), max(b[1], 0.0), min(b[2], float(size[0])), min(b[3], float(size[1])))
    area = (b[2] - b[0]) * (b[3] - b[1])
    seen = max(c[2] - c[0], 0) * max(c[3] - c[1], 0)
    if b[3] - b[1] > tall and seen >= share * area:
        return b, c
    return None


def labelled(name: str, annotations: Path = ANNOTATIONS) -> list[dict]:
    """The labelled people of coco128 photo ``name``: [{id, bbox, keypoints (17, 3)}]."""
    data = json.loads(Path(annotations).read_text())
    image = next(i for i in data["images"] if i["file_name"] == name)
    return [{"id": a["id"], "bbox": a["bbox"],
             "keypoints": np.asarray(a["keypoints"], np.float32).reshape(-1, 3)}
            for a in data["annotations"]
            if a["image_id"] == image["id"] and not a.get("iscrowd")]


def scenes():
    """-> [(scene index, photo (BGR), its pan's affines, its labelled people)]."""
    out = []
    for k, (name, place) in enumerate(SCENES):
        image = cv2.imread(str(next(IMAGES.rglob(name))))
        out.append((k, image, pan(image, FPS * SECONDS, place), labelled(name)))
    return out


def truth_path(clip: Path) -> Path:
    return clip.with_suffix(".truth.jsonl")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "runs/bench/crowd_pan_720p.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    rows, frame = [], 0
    for k, image, matrices, people in scenes():
        for m in matrices:
            writer.write(cv2.warpAffine(image, m, SIZE, flags=cv2.INTER_LINEAR))
            listed = []
            for p in people:
                seen = in_view(m, p["bbox"])
                if seen is not None:
                    listed.append({"id": f"{k}:{p['id']}",
                                   "box": [round(v, 1) for v in seen[1]]})
            rows.append(json.dumps({"frame": frame, "people": listed}))
            frame += 1
    writer.release()
    truth_path(out).write_text("\n".join(rows) + "\n")
    print(out, truth_path(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
