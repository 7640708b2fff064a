"""Rebuild sample_astronaut.mp4 from astronaut.png: a slow, looping pan and zoom.

Run from the project root:  .venv/bin/python assets/media/make_sample_video.py
"""
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SIZE = (400, 400)          # output (width, height); the photo is square
FPS, SECONDS = 15, 6


def main() -> None:
    img = cv2.imread(str(HERE / "astronaut.png"), cv2.IMREAD_COLOR)  # BGR, 512x512
    h, w = img.shape[:2]
    out = HERE / "sample_astronaut.mp4"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    n = FPS * SECONDS
    aspect = SIZE[0] / SIZE[1]
    for i in range(n):
        s = (1 - np.cos(2 * np.pi * i / n)) / 2          # 0 -> 1 -> 0: the loop is seamless
        cw = w * (1.0 - 0.25 * s)                         # zoom in to 75 % of the width
        ch = cw / aspect
        cx = 235 + 25 * np.sin(2 * np.pi * i / n)         # drift sideways around the face
        cy = 20 + ch / 2                                  # keep the head in view
        x0 = float(np.clip(cx - cw / 2, 0, w - cw))
        y0 = float(np.clip(cy - ch / 2, 0, h - ch))
        m = np.array([[SIZE[0] / cw, 0, -x0 * SIZE[0] / cw],
                      [0, SIZE[1] / ch, -y0 * SIZE[1] / ch]], dtype=np.float64)
        frame = cv2.warpAffine(img, m, SIZE, flags=cv2.INTER_AREA)
        writer.write(frame)
    writer.release()
    print(f"wrote {out} ({out.stat().st_size} bytes, {n} frames)")


if __name__ == "__main__":
    main()
