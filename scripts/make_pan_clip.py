"""Make a crowd clip for tracking checks: a 1280x720, 30 fps camera pan across three
coco128 photos with many people (a street crowd, a group round an aeroplane, a wine
tasting), 3 s each, so that people come into view at one side and leave at the other,
and a cut between scenes (every person new at once).

    python scripts/make_pan_clip.py [OUT]   (default runs/bench/crowd_pan_720p.mp4)

``scripts/coverage.py`` on it measures who gets a skeleton while people keep coming in
(``make_bench_clip.py``'s street clip has the same few people throughout).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared/data/coco128/images"
#: (photo, where the window sits between its top and bottom: 0 top .. 1 bottom)
SCENES = (("000000000395.jpg", 0.5), ("000000000542.jpg", 0.5), ("000000000308.jpg", 0.0))
FPS, SECONDS, SIZE = 30, 3, (1280, 720)
VIEW = 0.7  # the window's width, as a share of the photo's


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


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "runs/bench/crowd_pan_720p.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for name, place in SCENES:
        image = cv2.imread(str(next(IMAGES.rglob(name))))
        for m in pan(image, FPS * SECONDS, place):
            writer.write(cv2.warpAffine(image, m, SIZE, flags=cv2.INTER_LINEAR))
    writer.release()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
