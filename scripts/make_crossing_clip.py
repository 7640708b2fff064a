"""Make clips where two people cross, with their identities known by construction: two
real people cut from labelled COCO photos (their labelled box widened a little, the
edges feathered: a rough cut) walk on known straight paths over a real background photo
(a coco128 image with no labelled people), 1280x720, 30 fps. The one nearer the camera
(lower feet, taller) is pasted last, so passing in front hides the other.

    python scripts/make_crossing_clip.py [--clip NAME ...] [--out runs/crossing]

Each clip ``NAME.mp4`` comes with ``NAME.truth.jsonl``: JSON lines ``{"frame": i,
"people": [{"id": "a" | "b", "box": [x0, y0, x1, y1], "visible": share}]}``, each
person's labelled box as pasted (clipped to the frame) and the share of their pasted
pixels not hidden by the other, for ``uniskel bench --truth``. Clips (``CLIPS``):
``cross`` (they walk towards each other and pass), ``overtake`` (both left to right, the
nearer one faster), ``back`` (two look-alike tennis players meet, overlap, and go back
to where they came from).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data"
SETS = {"coco128": (DATA / "coco128/person_keypoints_train2017.json", DATA / "coco128/images"),
        "coco_extra": (DATA / "coco_extra/person_keypoints_train2017.json",
                       DATA / "coco_extra/images")}
FPS, SIZE = 30, (1280, 720)
MARGIN = (0.12, 0.05)  # the cut: the labelled box widened by these shares of its w, h
FEATHER = 0.08  # the cut's edges fade over this share of its width


@dataclass
class Walker:
    """One person cut from a photo: ``pixels`` (BGR) and ``alpha`` (0..1) of the cut,
    their labelled ``box`` and ``keypoints`` (17, 3) in the cut's pixels."""

    pixels: np.ndarray
    alpha: np.ndarray
    box: tuple
    keypoints: np.ndarray


#: name -> (background photo in coco128/images, [(set, annotation id, target height px,
#: [(frame, x of the box's bottom centre, y of the feet)] path knots)], frames). The
#: first person is the one behind, the second the one in front.
CLIPS = {
    "cross": ("000000000149.jpg", [
        ("coco_extra", 9, 380, [(0, 1100, 600), (119, 180, 600)]),
        ("coco_extra", 38, 440, [(0, 180, 690), (119, 1100, 690)])], 120),
    "overtake": ("000000000109.jpg", [
        ("coco_extra", 159, 390, [(0, 420, 610), (149, 900, 610)]),
        ("coco128", 128, 450, [(0, 120, 700), (149, 1160, 700)])], 150),
    "back": ("000000000094.jpg", [
        ("coco128", 92, 380, [(0, 1050, 620), (60, 640, 620), (89, 640, 620),
                              (149, 1050, 620)]),
        ("coco128", 128, 420, [(0, 200, 690), (60, 600, 690), (89, 600, 690),
                               (149, 200, 690)])], 150),
}


def cut(set_name: str, annotation_id: int) -> Walker:
    """The labelled person ``annotation_id`` of ``set_name``, cut from their photo."""
    ann_path, images = SETS[set_name]
    data = json.loads(Path(ann_path).read_text())
    a = next(a for a in data["annotations"] if a["id"] == annotation_id)
    info = next(i for i in data["images"] if i["id"] == a["image_id"])
    photo = cv2.imread(str(Path(images) / info["file_name"]))
    x, y, w, h = a["bbox"]
    x0, y0 = int(max(x - MARGIN[0] * w, 0)), int(max(y - MARGIN[1] * h, 0))
    x1 = int(min(np.ceil(x + w + MARGIN[0] * w), photo.shape[1]))
    y1 = int(min(np.ceil(y + h + MARGIN[1] * h), photo.shape[0]))
    pixels = photo[y0:y1, x0:x1].copy()
    ch, cw = pixels.shape[:2]
    f = max(2, int(FEATHER * cw))
    ramp = lambda n: np.minimum(np.minimum(np.arange(n) + 1, n - np.arange(n)) / f, 1.0)
    alpha = np.outer(ramp(ch), ramp(cw)).astype(np.float32)
    k = np.asarray(a["keypoints"], np.float32).reshape(-1, 3).copy()
    k[:, 0] -= x0
    k[:, 1] -= y0
    return Walker(pixels, alpha, (x - x0, y - y0, x + w - x0, y + h - y0), k)


def place(path, frame: int):
    """Where on the path (piecewise linear between knots) a person's feet are at ``frame``."""
    frames = [p[0] for p in path]
    return (float(np.interp(frame, frames, [p[1] for p in path])),
            float(np.interp(frame, frames, [p[2] for p in path])))


def layer(walker: Walker, height: float, feet):
    """``walker`` scaled so their labelled box is ``height`` px tall, its bottom centre at
    ``feet`` -> (pixels, alpha, top-left offset (ints), scale)."""
    s = height / (walker.box[3] - walker.box[1])
    ch, cw = walker.pixels.shape[:2]
    size = (max(1, round(cw * s)), max(1, round(ch * s)))
    sx, sy = size[0] / cw, size[1] / ch  # the scale actually applied, per axis
    pixels = cv2.resize(walker.pixels, size, interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(walker.alpha, size, interpolation=cv2.INTER_LINEAR)
    ox = round(feet[0] - sx * (walker.box[0] + walker.box[2]) / 2)
    oy = round(feet[1] - sy * walker.box[3])
    return pixels, alpha, (ox, oy), (sx, sy)


def compose(background: np.ndarray, walkers, paths, frame: int):
    """One frame -> (image, [{id, box, keypoints, mask, visible}]): ``mask`` the pixels
    where the person was pasted (alpha over a half), ``visible`` the share of them not
    hidden by a person pasted later."""
    image = background.astype(np.float32)
    people = []
    masks = []
    for k, (w, (height, path)) in enumerate(zip(walkers, paths)):
        pixels, alpha, (ox, oy), (sx, sy) = layer(w, height, place(path, frame))
        ph, pw = alpha.shape
        x0, y0 = max(ox, 0), max(oy, 0)
        x1, y1 = min(ox + pw, SIZE[0]), min(oy + ph, SIZE[1])
        mask = np.zeros(SIZE[::-1], bool)
        if x1 > x0 and y1 > y0:
            a = alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox, None]
            image[y0:y1, x0:x1] = (a * pixels[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
                                   + (1 - a) * image[y0:y1, x0:x1])
            mask[y0:y1, x0:x1] = a[..., 0] > 0.5
        box = (ox + sx * w.box[0], oy + sy * w.box[1], ox + sx * w.box[2], oy + sy * w.box[3])
        box = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(SIZE[0])),
               min(box[3], float(SIZE[1])))
        kp = w.keypoints.copy()
        kp[:, 0] = ox + sx * (kp[:, 0] + 0.5) - 0.5
        kp[:, 1] = oy + sy * (kp[:, 1] + 0.5) - 0.5
        for m in masks:  # this person hides those pasted before
            m["hidden"] |= mask
        entry = {"id": "ab"[k], "box": box, "keypoints": kp, "mask": mask,
                 "hidden": np.zeros_like(mask)}
        masks.append(entry)
        people.append(entry)
    for p in people:
        n = int(p["mask"].sum())
        p["visible"] = float((p["mask"] & ~p.pop("hidden")).sum()) / n if n else 0.0
    return np.clip(image, 0, 255).astype(np.uint8), people


def background(name: str) -> np.ndarray:
    """A coco128 photo filling 1280x720 (scaled to cover, centre cut)."""
    photo = cv2.imread(str(SETS["coco128"][1] / name))
    h, w = photo.shape[:2]
    s = max(SIZE[0] / w, SIZE[1] / h)
    big = cv2.resize(photo, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (big.shape[0] - SIZE[1]) // 2, (big.shape[1] - SIZE[0]) // 2
    return big[y0:y0 + SIZE[1], x0:x0 + SIZE[0]].copy()


def build(name: str):
    """Clip ``name`` of ``CLIPS`` -> (background, walkers, [(height, path)], frames)."""
    bg, people, frames = CLIPS[name]
    walkers = [cut(s, a) for s, a, _, _ in people]
    return background(bg), walkers, [(h, p) for _, _, h, p in people], frames


def write(name: str, out: Path) -> tuple[Path, Path]:
    bg, walkers, paths, frames = build(name)
    out.mkdir(parents=True, exist_ok=True)
    clip, truth = out / f"{name}.mp4", out / f"{name}.truth.jsonl"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    rows = []
    for i in range(frames):
        image, people = compose(bg, walkers, paths, i)
        writer.write(image)
        rows.append(json.dumps({"frame": i, "people": [
            {"id": p["id"], "box": [round(v, 1) for v in p["box"]],
             "visible": round(p["visible"], 3)} for p in people]}))
    writer.release()
    truth.write_text("\n".join(rows) + "\n")
    return clip, truth


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", action="append", choices=sorted(CLIPS),
                    help="which (default all)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs/crossing")
    a = ap.parse_args(argv)
    for name in a.clip or CLIPS:
        print(*write(name, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
