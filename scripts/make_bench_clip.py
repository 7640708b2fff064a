"""Make the 720p benchmark clip the README's speed numbers use.

    python scripts/make_bench_clip.py [SOURCE] [OUT]

Defaults: ``../shared/data/videos/mmpose_demo.mp4`` (a street scene, several people, 5
frames at 960x540) upscaled to 1280x720 into ``runs/bench/street_720p.mp4``, played
forwards and backwards (0 1 2 3 4 3 2 1 0 ...) to 60 frames: people keep moving
smoothly, with no jump back to the start, so tracking is measured as on a real clip
(a 5-frame loop would make every fifth frame an acquisition).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
LENGTH = 60  # frames written


def ping_pong(count: int) -> list[int]:
    """The source frames' order in one back-and-forth pass: 0 1 2 3 4 3 2 1 for 5."""
    return list(range(count)) + list(range(count - 2, 0, -1))


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else ROOT.parent / "shared/data/videos/mmpose_demo.mp4"
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "runs/bench/street_720p.mp4"
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_CUBIC))
    order = ping_pong(len(frames))
    n = 0
    while frames and n < LENGTH:
        writer.write(frames[order[n % len(order)]])
        n += 1
    writer.release()
    if n == 0:
        print(f"make_bench_clip: no frames read from {src}", file=sys.stderr)
        return 1
    print(f"{out}: {n} frames, 1280x720, {fps:g} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
